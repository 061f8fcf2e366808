"""Reads of CDRs: one CDR or a page of them as OCPI records (the REST API, the webhooks),
as list rows (the operator's list and its CSV export), and a CDR's pricing result."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
import simplejson
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from apps.charging.contracts import CdrKind, CdrRecord, CdrRow
from apps.charging.models import CDR_AMOUNT_FIELDS, Cdr
from apps.charging.selectors.partner_pages import emsp_filter, keyset_page_ids
from apps.common.errors import NotFound
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole

# Parses every JSON number with a fraction as Decimal (never through float).
DECODER = msgspec.json.Decoder(float_hook=Decimal)

_CDR_FIELDS = (
    "id",
    "party__country_code",
    "party__party_id",
    "ocpi_id",
    "kind",
    "credits__ocpi_id",
    "session_id",
    "session__charge_station_id",
    "start_date_time",
    "end_date_time",
    "currency",
    *CDR_AMOUNT_FIELDS,
    "total_energy_kwh",
    "total_time_hours",
    "total_parking_time_hours",
    "data_text",
    "created_at",
)


def _cdr(r: dict[str, Any]) -> CdrRecord:
    return CdrRecord(
        platform_id=r["id"],
        country_code=r["party__country_code"],
        party_id=r["party__party_id"],
        id=r["ocpi_id"],
        kind=CdrKind(r["kind"]),
        credit_reference_id=r["credits__ocpi_id"],
        session_platform_id=r["session_id"],
        charge_station_id=r["session__charge_station_id"],
        start_date_time=r["start_date_time"],
        end_date_time=r["end_date_time"],
        currency=r["currency"],
        amounts={f: r[f] for f in CDR_AMOUNT_FIELDS},
        total_energy=r["total_energy_kwh"],
        total_time=r["total_time_hours"],
        total_parking_time=r["total_parking_time_hours"],
        # Parsed with Decimal for every JSON number with a fraction: money never passes
        # through float (msgspec, ten times faster than simplejson here).
        data=DECODER.decode(r["data_text"]) if r["data_text"] else {},
        last_updated=r["created_at"],
    )


def _cdrs():  # type: ignore[no-untyped-def]
    return Cdr.objects.annotate(data_text=Cast("data", output_field=TextField()))


def cdr_get(*, tenant_id: int, cdr_id: int) -> CdrRecord:
    row = _cdrs().filter(tenant_id=tenant_id, pk=cdr_id).values(*_CDR_FIELDS).first()
    if row is None:
        raise NotFound(f"no CDR {cdr_id} in this tenant")
    return _cdr(row)


def cdrs_by_ids(*, ids: Iterable[int]) -> list[CdrRecord]:
    """CDRs (any tenant) in one query: what the webhook outbox renders `cdr.created` from."""
    return [_cdr(r) for r in _cdrs().filter(pk__in=list(ids)).order_by("id").values(*_CDR_FIELDS)]


def cdr_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    country_code: str | None = None,
    party_id: str | None = None,
    charge_station_id: int | None = None,
) -> list[CdrRecord]:
    """CDRs in insertion order (keyset on id): a page never shifts when CDRs are added, and
    late CDRs (offline stations, roaming) appear at the end. `date_from` / `date_to` filter
    on end_date_time, [from, to)."""
    if not (date_from or date_to or country_code or party_id or charge_station_id):
        # Keyset on the index (tenant_id, id), the joined columns in the same query.
        page = _cdrs().filter(tenant_id=tenant_id)
        if after_id is not None:
            page = page.filter(id__gt=after_id)
        return [_cdr(r) for r in page.order_by("id").values(*_CDR_FIELDS)[:limit]]
    qs = Cdr.objects.filter(tenant_id=tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if date_from is not None:
        qs = qs.filter(end_date_time__gte=date_from)
    if date_to is not None:
        qs = qs.filter(end_date_time__lt=date_to)
    if country_code:
        qs = qs.filter(party__country_code=country_code.upper())
    if party_id:
        qs = qs.filter(party__party_id=party_id.upper())
    if charge_station_id is not None:
        qs = qs.filter(session__charge_station_id=charge_station_id)
    # A date (or party / station) filter: first the page's ids alone, without the joins of the
    # full row, so the planner can walk the (tenant_id, end_date_time) index for a narrow
    # range instead of the id index (with the joins it walked a million ids for one day).
    ids = list(qs.order_by("id").values_list("id", flat=True)[:limit])
    if not ids:
        return []
    rows = _cdrs().filter(id__in=ids).order_by("id").values(*_CDR_FIELDS)
    return [_cdr(r) for r in rows]


# --- the eMSP tenant's view (the marketplace, ADR 0027) ---------------------------------------


def _emsp_cdrs(tenant_id: int) -> Any:
    """The CDRs of the tenant's drivers at other tenants' stations."""
    return _cdrs().filter(emsp_tenant_id=tenant_id).exclude(tenant_id=tenant_id)


def emsp_cdr_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> list[CdrRecord]:
    """A page of the tenant's drivers' CDRs at other marketplace tenants' stations, in id
    order (keyset); render them with `ocpi.emsp_cdr_object`."""
    qs = _emsp_cdrs(tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if date_from is not None:
        qs = qs.filter(end_date_time__gte=date_from)
    if date_to is not None:
        qs = qs.filter(end_date_time__lt=date_to)
    return [_cdr(r) for r in qs.order_by("id").values(*_CDR_FIELDS)[:limit]]


def emsp_cdr_get(*, tenant_id: int, cdr_id: int) -> CdrRecord:
    row = _emsp_cdrs(tenant_id).filter(pk=cdr_id).values(*_CDR_FIELDS).first()
    if row is None:
        raise NotFound(f"no CDR {cdr_id} of this tenant's drivers")
    return _cdr(row)


# --- list rows and the pricing result -----------------------------------------------------


def cdr_pricing_of(data_text: str, notes_text: str | None) -> dict[str, Any]:
    """The pricing core's result of a CDR: in `annotations`; inside `data` on CDRs written
    before that (numbers as Decimal)."""
    notes = notes_text if notes_text not in (None, "null") else data_text
    return simplejson.loads(notes, use_decimal=True).get("pricing") or {}


def with_json_text(qs: Any) -> Any:
    """`qs` (CDRs) with `data` and `annotations` as text, for `cdr_pricing_of`."""
    return qs.annotate(
        data_text=Cast("data", output_field=TextField()),
        notes_text=Cast("annotations", output_field=TextField()),
    )


def cdr_pricing(*, tenant_id: int, cdr_id: int) -> dict[str, Any]:
    """The pricing result of one CDR of this tenant ({} when it has none)."""
    row = (
        with_json_text(Cdr.objects.filter(tenant_id=tenant_id, pk=cdr_id))
        .values("data_text", "notes_text")
        .first()
    )
    if row is None:
        raise NotFound(f"no CDR {cdr_id} in this tenant")
    return cdr_pricing_of(row["data_text"], row["notes_text"])


_CDR_ROW = (
    "id",
    "ocpi_id",
    "kind",
    "party__country_code",
    "party__party_id",
    "session__charge_station__identity",
    "start_date_time",
    "end_date_time",
    "currency",
    "total_energy_kwh",
    "total_time_hours",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "credited_by__id",
)


def _cdr_row(r: dict[str, Any]) -> CdrRow:
    return CdrRow(
        id=r["id"],
        ocpi_id=r["ocpi_id"],
        kind=r["kind"],
        party=f"{r['party__country_code']}*{r['party__party_id']}",
        station_identity=r["session__charge_station__identity"],
        start_date_time=r["start_date_time"],
        end_date_time=r["end_date_time"],
        currency=r["currency"],
        total_energy_kwh=r["total_energy_kwh"],
        total_time_hours=r["total_time_hours"],
        total_cost_excl_vat=r["total_cost_excl_vat"],
        total_cost_incl_vat=r["total_cost_incl_vat"],
        credited=r["credited_by__id"] is not None,
    )


def _cdr_filter(
    tenant_id: int,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    party: str | None,
    charge_station_id: int | None,
    kind: str | None,
    search: str | None,
) -> QuerySet[Cdr]:
    qs = Cdr.objects.filter(tenant_id=tenant_id)
    if date_from is not None:
        qs = qs.filter(end_date_time__gte=date_from)
    if date_to is not None:
        qs = qs.filter(end_date_time__lt=date_to)
    if party:
        cc, _, pid = party.upper().partition("*")
        qs = qs.filter(party__country_code=cc, party__party_id=pid)
    if charge_station_id is not None:
        qs = qs.filter(session__charge_station_id=charge_station_id)
    if kind:
        qs = qs.filter(kind=kind)
    if search:
        # (party, ocpi_id) is the unique index: name the tenant's parties so it is used.
        qs = qs.filter(
            ocpi_id=search.upper(),
            party_id__in=[p.id for p in parties_api.parties_of_tenant(tenant_id=tenant_id)],
        )
    return qs


def cdr_rows(
    *,
    tenant_id: int,
    limit: int,
    before: tuple[datetime, int] | None = None,
    after: tuple[datetime, int] | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    party: str | None = None,
    charge_station_id: int | None = None,
    kind: str | None = None,
    search: str | None = None,
) -> list[CdrRow]:
    """Newest end first; keyset on (end_date_time, id), the index `cdr_tenant_end`: the
    `limit` next older than `before`, or the `limit` next newer than `after` (the page before
    a page), always newest first."""
    qs = _cdr_filter(
        tenant_id,
        date_from=date_from,
        date_to=date_to,
        party=party,
        charge_station_id=charge_station_id,
        kind=kind,
        search=search,
    )
    if before is not None:
        # (end_date_time, id) < (at, pk) as a range the index scan can use, not an OR.
        at, pk = before
        qs = qs.filter(end_date_time__lte=at).exclude(end_date_time=at, id__gte=pk)
    if after is not None:
        at, pk = after
        qs = qs.filter(end_date_time__gte=at).exclude(end_date_time=at, id__lte=pk)
        rows = list(qs.order_by("end_date_time", "id").values(*_CDR_ROW)[:limit])[::-1]
        return [_cdr_row(r) for r in rows]
    return [_cdr_row(r) for r in qs.order_by("-end_date_time", "-id").values(*_CDR_ROW)[:limit]]


def cdr_rows_iter(*, tenant_id: int, chunk: int = 2000, **filters: Any) -> Iterator[CdrRow]:
    """Every CDR matching the filters, newest first, read in keyset chunks (CSV export)."""
    before = None
    while True:
        rows = cdr_rows(tenant_id=tenant_id, limit=chunk, before=before, **filters)
        yield from rows
        if len(rows) < chunk:
            return
        before = (rows[-1].end_date_time, rows[-1].id)


def cdr_parties(*, tenant_id: int) -> list[str]:
    """The parties whose CDRs this tenant holds: its CPO parties (not a scan of the CDRs)."""
    return [
        f"{p.country_code}*{p.party_id}"
        for p in parties_api.parties_of_tenant(tenant_id=tenant_id, role=PartyRole.CPO)
    ]


# --- OCPI sender pages (issue 19, area "cpo"; selectors/partner_pages.py) -----------------------


def ocpi_cdr_page(
    *,
    tenant_id: int,
    emsp_parties: Collection[tuple[str, str]],
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> tuple[int, list[CdrRecord]]:
    """(total, page) of the CDRs (originals and credits) of these eMSP parties' tokens."""
    if not emsp_parties:
        return 0, []
    qs = Cdr.objects.filter(emsp_filter(emsp_parties), tenant_id=tenant_id)
    total, ids = keyset_page_ids(
        qs, "created_at", date_from=date_from, date_to=date_to, offset=offset, limit=limit
    )
    rows = {r["id"]: r for r in _cdrs().filter(pk__in=ids).values(*_CDR_FIELDS)}
    return total, [_cdr(rows[i]) for i in ids if i in rows]
