"""The universal record (BILLING.md section 5, ADR 0039): one JSON document per CDR and tenant
with the OCPI CDR and what each engine made of it for that tenant (its rated lines with rule
and tariff version, VAT rate and source, exemption, HCC, flags), and the document lines that
bill them. `CdrRecord` rows are append-only and versioned: a new version is written only when
the canonical payload's SHA-256 differs from the newest version's.

Canonical JSON: sorted keys, no whitespace, Decimals and datetimes as strings (UTC, `Z`), no
floats; the same inputs give the same bytes. Built in chunks of CDRs with one query per
chunk and source (CDRs, rated lines, document links), so an export of a month reads a few
thousand statements, not millions.

What a tenant sees: the CDR as its CPO tenant (`cdr_object`) or, for a marketplace eMSP
tenant, as the eMSP (`emsp_cdr_object`, without the CPO's internals); its own rated lines
and the wholesale lines it buys (without the seller's rule); the documents it issued or
receives.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Generator, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from django.db import connection, transaction
from django.utils import timezone

from apps.charging import api as charging_api
from apps.common.bulk import insert_rows
from apps.common.errors import NotFound
from apps.invoicing.models import CdrRecord, Document, DocumentLine
from apps.invoicing.selectors.finance import dt_value
from apps.rating import api as rating_api

SCHEMA = "universal-record/1"
CHUNK = 500
ENGINE_ORDER = ("RETAIL", "WHOLESALE", "REIMBURSEMENT")
_AMOUNTS = (
    "fixed",
    "energy",
    "time",
    "parking",
    "reservation",
    "adjustment",
    "total_excl_vat",
    "vat",
    "total_incl_vat",
)
_QUANTITIES = ("energy_kwh", "time_hours", "parking_hours")
_PLAIN = (
    "id",
    "cdr_id",
    "tenant_id",
    "engine",
    "seq",
    "kind",
    "reverses_id",
    "reason",
    "seller_party_id",
    "seller_payee_id",
    "buyer_party_id",
    "buyer_customer_id",
    "buyer_tenant_id",
    "own_charge",
    "rule_version_id",
    "tariff_version_id",
    "currency",
    "rounding_mode",
    "vat_source",
    "vat_exemption_reason",
    "hcc",
    "rated_by",
)


# --- canonical JSON ----------------------------------------------------------------------------

# Sorted keys, no whitespace, UTF-8; Decimals as strings, datetimes as RFC 3339 (UTC: `Z`),
# enums as their value (msgspec: several times faster than json + a conversion pass).
_ENCODER = msgspec.json.Encoder(order="sorted", decimal_format="string")


def plain(value: Any) -> Any:
    """`value` as JSON-safe data (what the canonical bytes parse back to)."""
    return json.loads(canonical(value))


def canonical(value: Any) -> bytes:
    """The bytes a record's SHA-256 is taken of. Money and energy reach it as Decimal (the
    CDR's JSON is parsed with Decimal for every fraction): no float is written."""
    return _ENCODER.encode(value)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- reads per chunk ---------------------------------------------------------------------------


def _in(ids: Sequence[int]) -> tuple[str, list[Any]]:
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(ids)]
    return "IN (" + ", ".join(["%s"] * len(ids)) + ")", list(ids)


def _fetch(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _cdr_tenants(ids: Sequence[int]) -> dict[int, int]:
    cond, params = _in(ids)
    table = connection.ops.quote_name(charging_api.CDR_TABLE)
    rows = _fetch(f"SELECT id, tenant_id FROM {table} WHERE id {cond}", params)
    return {r["id"]: r["tenant_id"] for r in rows}


_SCALES = {
    **dict.fromkeys(_AMOUNTS, Decimal("0.0001")),
    **dict.fromkeys(_QUANTITIES, Decimal("0.000001")),
    "vat_rate": Decimal("0.01"),
}


def _num(col: str) -> str:
    """A decimal column as text at its scale: PostgreSQL's numeric text is that already
    (no Decimal made and formatted again per value); SQLite's REAL text is quantized."""
    return f"CAST(rl.{col} AS TEXT) AS {col}"


def _rated_lines(tenant_id: int, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    cond, params = _in(ids)
    table = connection.ops.quote_name(rating_api.RATED_LINE_TABLE)
    cols = ", ".join([f"rl.{c}" for c in _PLAIN] + [_num(c) for c in _SCALES] + ["rl.created_at"])
    sql = (
        f"SELECT {cols} FROM {table} rl WHERE rl.cdr_id {cond} "
        "AND (rl.tenant_id = %s OR (rl.engine = 'WHOLESALE' AND rl.buyer_tenant_id = %s)) "
        "ORDER BY rl.cdr_id, rl.engine, rl.seq"
    )
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    sqlite = connection.vendor == "sqlite"
    names = [*_PLAIN, *_SCALES, "created_at"]
    with connection.cursor() as cur:
        cur.execute(sql, [*params, tenant_id, tenant_id])
        rows = cur.fetchall()
    for row in rows:
        line: dict[str, Any] = dict(zip(names, row, strict=True))
        seller_side = line["tenant_id"] == tenant_id
        line["own_charge"] = bool(line["own_charge"])
        line["viewer_side"] = "SELLER" if seller_side else "BUYER"
        if not seller_side:
            line["rule_version_id"] = None  # the seller's rule is not the buyer's business
        if sqlite:
            for c, q in _SCALES.items():
                line[c] = str(Decimal(line[c]).quantize(q))
            line["created_at"] = dt_value(line["created_at"])
        flags = []
        if line["hcc"]:
            flags.append(f"HCC:{line['hcc']}")
        if line["own_charge"]:
            flags.append("OWN_CHARGE")
        if line["kind"] == "REVERSAL":
            flags.append("REVERSAL")
        if line["vat_source"] == "HCC_EXEMPT" or line["vat_exemption_reason"]:
            flags.append("VAT_EXEMPT")
        line["flags"] = flags  # sorted: HCC, OWN_CHARGE, REVERSAL, VAT_EXEMPT
        out[line["cdr_id"]].append(line)
    return out


# The chunk's document lines first (their CDR index), then their documents by key: a plan
# that cannot start from all of the tenant's documents (with the documents table's
# statistics from before a billing run, PostgreSQL did that: a nested loop over every
# document of the tenant, for each chunk).
_LINKS_SQL = """
WITH l AS MATERIALIZED (
    SELECT cdr_id, id, rated_line_id, kind, active, net, document_id, position
    FROM {line} WHERE cdr_id {cond}
)
SELECT l.cdr_id, l.id, l.rated_line_id, l.kind, l.active, CAST(l.net AS TEXT), l.document_id,
    d.doc_type, d.number, d.status
FROM l JOIN {document} d ON d.id = l.document_id
WHERE d.tenant_id = %s OR d.buyer_tenant_id = %s
ORDER BY l.cdr_id, l.document_id, l.position
"""
_NET_PLACES = Decimal("0.0001")


def _document_links(tenant_id: int, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The document lines that bill the CDRs, one statement driven by the lines' CDR index
    (the ORM's `cdr_id IN (...)` bound every id as its own parameter)."""
    cond, params = _in(ids)
    q = connection.ops.quote_name
    sql = _LINKS_SQL.format(
        line=q(DocumentLine._meta.db_table), document=q(Document._meta.db_table), cond=cond
    )
    with connection.cursor() as cur:
        cur.execute(sql, [*params, tenant_id, tenant_id])
        return _link_dicts(cur.fetchall())


def _link_dicts(rows: Iterable[Sequence[Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for cdr_id, pk, rated_line_id, kind, active, net, document_id, doc_type, number, status in rows:
        out[cdr_id].append(
            {
                "document_id": document_id,
                "doc_type": doc_type,
                "number": number,
                "status": status,
                "document_line_id": pk,
                "rated_line_id": rated_line_id,
                "line_kind": kind,
                "active": bool(active),
                "net": Decimal(net).quantize(_NET_PLACES),
            }
        )
    return out


def _payload(
    tenant_id: int,
    cdr: Any,
    cdr_tenant: int | None,
    lines: list[dict[str, Any]],
    links: list[dict[str, Any]],
) -> dict[str, Any]:
    side = "CPO" if cdr_tenant == tenant_id else "EMSP"
    obj = charging_api.cdr_object(cdr) if side == "CPO" else charging_api.emsp_cdr_object(cdr)
    by_engine: dict[str, list[dict[str, Any]]] = {}
    for x in lines:
        by_engine.setdefault(x["engine"], []).append(x)
    engines = []
    for engine in ENGINE_ORDER:
        mine = by_engine.get(engine)
        if not mine:
            continue
        totals: dict[str, dict[str, Decimal]] = {}
        for x in mine:
            t = totals.setdefault(
                x["currency"], {"total_excl_vat": Decimal(0), "vat": Decimal(0), "kwh": Decimal(0)}
            )
            t["total_excl_vat"] += Decimal(x["total_excl_vat"])
            t["vat"] += Decimal(x["vat"])
            t["kwh"] += Decimal(x["energy_kwh"])
        engines.append({"engine": engine, "lines": mine, "totals": totals})
    return {
        "schema": SCHEMA,
        "tenant_id": tenant_id,
        "cdr_id": cdr.platform_id,
        "side": side,
        "cdr": obj,
        "engines": engines,
        "documents": links,
    }


def cdr_records_build(*, tenant_id: int, cdr_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The current universal records of `cdr_ids` for the tenant (Decimals and datetimes
    as such: `canonical` writes them), by CDR id in ascending order; CDRs the tenant has
    nothing of are left out."""
    ids = sorted(set(cdr_ids))
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        out.update(_build_chunk(tenant_id, chunk, _document_links(tenant_id, chunk)))
    return out


def _build_chunk(
    tenant_id: int, chunk: Sequence[int], links: dict[int, list[dict[str, Any]]]
) -> dict[int, dict[str, Any]]:
    tenants = _cdr_tenants(chunk)
    lines = _rated_lines(tenant_id, chunk)
    out: dict[int, dict[str, Any]] = {}
    for cdr in charging_api.cdrs_by_ids(ids=chunk):
        cid = cdr.platform_id
        cdr_tenant = tenants.get(cid)
        if cdr_tenant != tenant_id and not lines.get(cid):
            continue  # neither the CPO tenant nor a buyer of its lines
        out[cid] = _payload(tenant_id, cdr, cdr_tenant, lines.get(cid, []), links.get(cid, []))
    return out


def cdr_record_build(*, tenant_id: int, cdr_id: int) -> dict[str, Any]:
    """The current universal record of one CDR for the tenant (not stored), as JSON data:
    what its canonical bytes parse to."""
    record = cdr_records_build(tenant_id=tenant_id, cdr_ids=[cdr_id]).get(cdr_id)
    if record is None:
        raise NotFound(f"no CDR {cdr_id} for this tenant")
    return plain(record)


Plan = list[tuple[int, int, str, bytes, bool]]


_IDS_TABLE = "invoicing_record_ids"


class _Stream:
    """The rows of one statement ordered by CDR id (its first column), fetched in batches
    from a server-side cursor (PostgreSQL) and handed out per chunk of ascending CDR ids."""

    def __init__(self, sql: str, params: list[Any]) -> None:
        self._cursor = connection.chunked_cursor()
        self._cursor.execute(sql, params)
        self._batch: list[Any] = []
        self._at = 0
        self._done = False

    def upto(self, last: int) -> list[Any]:
        """The next rows whose CDR id is at most `last`."""
        out: list[Any] = []
        while True:
            if self._at == len(self._batch):
                if self._done:
                    return out
                self._batch, self._at = self._cursor.fetchmany(CHUNK * 4), 0
                if not self._batch:
                    self._done = True
                    return out
            row = self._batch[self._at]
            if row[0] > last:
                return out
            out.append(row)
            self._at += 1

    def close(self) -> None:
        self._cursor.close()


def _ids_table(ids: Sequence[int]) -> str:
    """A temporary table of `ids` (dropped at commit on PostgreSQL), analyzed: the streams
    join it, so their plans do not depend on whether the billing run's fresh rows (document
    lines, records) have statistics yet (without them PostgreSQL chose a scan of every
    document line, or of every tenant document, for each chunk of 500 CDRs)."""
    table = connection.ops.quote_name(_IDS_TABLE)
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        if connection.vendor == "postgresql":
            cur.execute(f"CREATE TEMPORARY TABLE {table} (id bigint PRIMARY KEY) ON COMMIT DROP")
            with cur.cursor.copy(f"COPY {table} (id) FROM STDIN") as copy:
                for cid in ids:
                    copy.write_row((cid,))
            cur.execute(f"ANALYZE {table}")
        else:
            cur.execute(f"CREATE TEMPORARY TABLE {table} (id integer PRIMARY KEY)")
            cur.executemany(f"INSERT INTO {table} (id) VALUES (%s)", [(cid,) for cid in ids])
    return table


def _links_stream(tenant_id: int, ids_table: str) -> _Stream:
    q = connection.ops.quote_name
    sql = (
        "SELECT l.cdr_id, l.id, l.rated_line_id, l.kind, l.active, CAST(l.net AS TEXT), "
        "l.document_id, d.doc_type, d.number, d.status "
        f"FROM {q(DocumentLine._meta.db_table)} l "
        f"JOIN {ids_table} t ON t.id = l.cdr_id "
        f"JOIN {q(Document._meta.db_table)} d ON d.id = l.document_id "
        "WHERE d.tenant_id = %s OR d.buyer_tenant_id = %s "
        "ORDER BY l.cdr_id, l.document_id, l.position"
    )
    return _Stream(sql, [tenant_id, tenant_id])


def _newest_stream(tenant_id: int, ids_table: str) -> _Stream:
    table = connection.ops.quote_name(CdrRecord._meta.db_table)
    sql = (
        f"SELECT r.cdr_id, r.version, r.sha256 FROM {table} r JOIN {ids_table} t "
        "ON t.id = r.cdr_id WHERE r.tenant_id = %s ORDER BY r.cdr_id, r.version"
    )
    return _Stream(sql, [tenant_id])


def cdr_records_plan(*, tenant_id: int, cdr_ids: Iterable[int]) -> Plan:
    """Per CDR (ascending): (cdr id, version, sha256, canonical bytes, is new): the newest
    stored version when its SHA-256 equals the current record's, else the next."""
    plan: Plan = []
    for part in cdr_records_plan_parts(tenant_id=tenant_id, cdr_ids=cdr_ids):
        plan.extend(part)
    return plan


def cdr_records_plan_parts(
    *, tenant_id: int, cdr_ids: Iterable[int]
) -> Generator[Plan, None, None]:
    """`cdr_records_plan` one part of at most CHUNK CDRs at a time (ascending), so that a
    caller can write each part and drop it (the finance export of a month: ADR 0039).

    Streaming: the CDRs and their rated lines are read per chunk of CHUNK ids (their tables'
    indexes by id and CDR); the document links and the stored versions are each one
    statement over all the ids (joined to a temporary table of them), ordered by CDR id and
    read along with the chunks."""
    ids = sorted(set(cdr_ids))
    if not ids:
        return
    table = _ids_table(ids)
    links_stream = _links_stream(tenant_id, table)
    newest_stream = _newest_stream(tenant_id, table)
    try:
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            links = _link_dicts(links_stream.upto(chunk[-1]))
            newest: dict[int, tuple[int, str]] = {}
            for cid, version, digest in newest_stream.upto(chunk[-1]):
                newest[cid] = (version, digest)  # ascending: the last one wins
            built = _build_chunk(tenant_id, chunk, links)
            part: Plan = []
            for cid in sorted(built):
                data = canonical(built[cid])
                digest = sha256(data)
                version, old = newest.get(cid, (0, ""))
                fresh = old != digest
                part.append((cid, version + 1 if fresh else version, digest, data, fresh))
            yield part
    finally:
        links_stream.close()
        newest_stream.close()
        if connection.vendor != "postgresql":
            with connection.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {table}")


def records_write(tenant_id: int, plan: Plan, now: datetime) -> None:
    """Insert the plan's new versions: COPY on PostgreSQL, a batched INSERT elsewhere."""
    fresh = [p for p in plan if p[4]]
    if not fresh:
        return
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(CdrRecord._meta.db_table)
        cols = "tenant_id, created_at, updated_at, cdr_id, version, payload, sha256"
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for cid, version, digest, data, _ in fresh:
                    copy.write_row(
                        [tenant_id, now, now, cid, version, data.decode("utf-8"), digest]
                    )
        return
    insert_rows(
        CdrRecord,
        [
            CdrRecord(
                tenant_id=tenant_id,
                created_at=now,
                updated_at=now,
                cdr_id=cid,
                version=version,
                payload=json.loads(data),
                sha256=digest,
            )
            for cid, version, digest, data, _ in fresh
        ],
    )


def cdr_records_store(
    *, tenant_id: int, cdr_ids: Iterable[int], now: datetime | None = None
) -> dict[int, int]:
    """Store the current records of `cdr_ids` where they changed: {cdr id: version}."""
    now = now or timezone.now()
    with transaction.atomic():
        plan = cdr_records_plan(tenant_id=tenant_id, cdr_ids=cdr_ids)
        records_write(tenant_id, plan, now)
    return {p[0]: p[1] for p in plan}
