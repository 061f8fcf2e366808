"""Re-pricing of every CDR a CPO sends us, and the reconciliation report (ROAMING.md "CDRs":
OCPI has no dispute mechanism and no rounding rule, so the eMSP checks each CDR itself).

The CDR is priced with the pricing core (`billing.pricing.reconcile_cdr`: the function that
prices our own sessions) and the tariff the CPO published:
1. the tariffs embedded in the CDR (`tariffs`), else
2. the stored tariffs (ForeignObject) the charging periods name by `tariff_id`, else
3. the stored tariffs the CDR's connector lists (`tariff_ids`; 2.1.1 `tariff_id`) in the
   location the CPO published.
The time zone is the stored location's (the 2.2.1 CDR location has none; 2.1.1 carries it):
never assumed to be UTC. What cannot be re-priced is flagged `cannot_reprice` with the
reason; each sub-total that differs by more than 0.01 is flagged `repricing_difference`.
`repriced_excl_vat` is our total_cost excl. VAT (negated for a Credit CDR),
`difference_excl_vat` = theirs - ours.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q

from apps.common.errors import NotFound
from apps.roaming import transport
from apps.roaming.models import ForeignCdr, ForeignObject, OcpiConnection
from apps.roaming.services.emsp_rules import Flag, flag, key
from billing.pricing import (
    InputIssue,
    PricingInputError,
    Reconciliation,
    Tariff,
    parse_tariff,
    reconcile_cdr,
)

_OURS = ("repricing_difference", "cannot_reprice")
# The CDR fields the pricing core reads (its parser is strict; the other fields are checked
# by emsp_rules, leniently).
_PRICING_FIELDS = {
    "2.2.1": (
        "id",
        "start_date_time",
        "end_date_time",
        "currency",
        "charging_periods",
        "total_cost",
        "total_fixed_cost",
        "total_energy",
        "total_energy_cost",
        "total_time",
        "total_time_cost",
        "total_parking_time",
        "total_parking_cost",
        "total_reservation_cost",
        "credit",
        "credit_reference_id",
    ),
    "2.1.1": (
        "id",
        "start_date_time",
        "stop_date_time",
        "currency",
        "charging_periods",
        "total_cost",
        "total_energy",
        "total_time",
        "total_parking_time",
    ),
}


class _CannotReprice(Exception):
    pass


class StoredObjects:
    """The partner's stored objects (ForeignObject `data`) a CDR's checks and re-pricing
    read: the ones named up front are read in one query (`stored_objects`), any other on
    demand (one query each); a missing one is None."""

    def __init__(
        self,
        tenant_id: int,
        country_code: str,
        party_id: str,
        found: dict[tuple[str, str], dict[str, Any] | None] | None = None,
    ) -> None:
        self._where = (tenant_id, country_code, party_id)
        self._found = dict(found or {})

    def get(self, module: str, object_id: str) -> dict[str, Any] | None:
        k = (module, key(object_id))
        if k not in self._found:
            tenant_id, cc, pid = self._where
            row = (
                ForeignObject.objects.filter(
                    tenant_id=tenant_id,
                    module=module,
                    country_code=cc,
                    party_id=pid,
                    object_id=k[1],
                )
                .values_list("data", flat=True)
                .first()
            )
            self._found[k] = row if isinstance(row, dict) else None
        return self._found[k]


def _cdr_location_id(cdr: Mapping[str, Any], version: str) -> str | None:
    loc = cdr.get("location" if version == "2.1.1" else "cdr_location")
    lid = loc.get("id") if isinstance(loc, Mapping) else None
    return lid if isinstance(lid, str) and lid else None


def _period_tariff_ids(cdr: Mapping[str, Any]) -> list[str]:
    return [
        p["tariff_id"]
        for p in cdr.get("charging_periods") or []
        if isinstance(p, Mapping) and isinstance(p.get("tariff_id"), str)
    ]


def stored_objects(
    *, tenant_id: int, country_code: str, party_id: str, cdr: Mapping[str, Any], version: str
) -> StoredObjects:
    """The stored location and period tariffs this CDR names, in one query."""
    lid = _cdr_location_id(cdr, version)
    tids = sorted({key(t) for t in _period_tariff_ids(cdr)})
    wanted: dict[tuple[str, str], dict[str, Any] | None] = {}
    q = Q()
    if lid is not None:
        wanted[("locations", key(lid))] = None
        q |= Q(module="locations", object_id=key(lid))
    if tids:
        wanted.update({("tariffs", t): None for t in tids})
        q |= Q(module="tariffs", object_id__in=tids)
    if wanted:
        for module, object_id, data in ForeignObject.objects.filter(
            q, tenant_id=tenant_id, country_code=country_code, party_id=party_id
        ).values_list("module", "object_id", "data"):
            if (module, object_id) in wanted and isinstance(data, dict):
                wanted[(module, object_id)] = data
    return StoredObjects(tenant_id, country_code, party_id, wanted)


def _location(
    objects: StoredObjects, cdr: Mapping[str, Any], version: str
) -> dict[str, Any] | None:
    """The location the CPO published (stored); a 2.1.1 CDR carries a whole Location,
    used when none was published."""
    loc = cdr.get("location" if version == "2.1.1" else "cdr_location")
    lid = _cdr_location_id(cdr, version)
    stored = objects.get("locations", lid) if lid is not None else None
    if stored is None and version == "2.1.1" and isinstance(loc, Mapping):
        return dict(loc)
    return stored


def _time_zone(cdr: Mapping[str, Any], location: Mapping[str, Any] | None, version: str) -> str:
    if version == "2.1.1":
        loc = cdr.get("location")
        if isinstance(loc, Mapping) and isinstance(loc.get("time_zone"), str):
            return str(loc["time_zone"])
    if location is not None and isinstance(location.get("time_zone"), str):
        return str(location["time_zone"])
    raise _CannotReprice(
        "no time zone: the CDR's location was never published to us with a time_zone"
    )


def _connector_tariff_ids(cdr: Mapping[str, Any], location: Mapping[str, Any] | None) -> list[str]:
    if location is None:
        return []
    loc = cdr.get("cdr_location") or cdr.get("location") or {}
    evse_uid = loc.get("evse_uid") if isinstance(loc, Mapping) else None
    conn_id = loc.get("connector_id") if isinstance(loc, Mapping) else None
    if not isinstance(evse_uid, str) and isinstance(loc, Mapping):  # 2.1.1: location.evses[0]
        evses = loc.get("evses") or []
        first = evses[0] if evses and isinstance(evses[0], Mapping) else {}
        evse_uid = first.get("uid")
        conns = first.get("connectors") or []
        conn_id = conns[0].get("id") if conns and isinstance(conns[0], Mapping) else None
    for evse in location.get("evses") or []:
        if not isinstance(evse, Mapping) or not isinstance(evse_uid, str):
            continue
        if key(str(evse.get("uid", ""))) != key(evse_uid):
            continue
        for c in evse.get("connectors") or []:
            if isinstance(c, Mapping) and isinstance(conn_id, str):
                if key(str(c.get("id", ""))) == key(conn_id):
                    ids = c.get("tariff_ids") or (
                        [c["tariff_id"]] if isinstance(c.get("tariff_id"), str) else []
                    )
                    return [i for i in ids if isinstance(i, str)]
    return []


_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_UNKNOWN_KEY = "unknown key"


def _without_unknown_keys(doc: Any, issues: Sequence[InputIssue]) -> Any | None:
    """A copy of `doc` without the keys the pricing core called unknown (inbound lenient:
    a partner's extra field must not stop the re-pricing; the stored object keeps it and its
    flag). None when some issue is not an unknown key: then the input is really wrong."""
    if not issues or any(i.message != _UNKNOWN_KEY for i in issues):
        return None
    out = copy.deepcopy(doc)
    for issue in issues:
        steps = [(m.group(1), m.group(2)) for m in _STEP.finditer(issue.path.removeprefix("$"))]
        node: Any = out
        for name, index in steps[:-1]:
            node = node[int(index)] if index is not None else node.get(name)
            if node is None:
                break
        last = steps[-1][0] if steps else None
        if isinstance(node, dict) and last is not None:
            node.pop(last, None)
    return out


# Parsed tariffs, per process: (tenant, country code, party id, tariff id, version) -> (the
# document parsed, serialized; its Tariff). Reused only for the same serialization of the
# document (the stored tariff as read with the CDR, the defaults below included; "0.30" and
# "0.3", 1 and true differ), so a changed tariff is parsed again at once; a Tariff is
# immutable.
_PARSED: dict[tuple[int, str, str, str, str], tuple[str, Tariff]] = {}
_PARSED_MAX = 1_000


def _parse(doc: Any, version: str, where: str, row: ForeignCdr) -> Tariff:
    """The tariff for pricing. Identity fields a partner left out (2.2.1 country_code,
    party_id, last_updated: flagged on the stored tariff) are taken from the CDR."""
    if not isinstance(doc, Mapping):
        raise _CannotReprice(f"{where}: not a tariff object")
    doc = dict(doc)
    if version != "2.1.1":
        doc.setdefault("country_code", row.country_code)
        doc.setdefault("party_id", row.party_id)
        doc.setdefault("last_updated", transport.iso(row.received_at))
    tid = doc.get("id")
    ck = (row.tenant_id, row.country_code, row.party_id, str(tid), version)
    try:
        text = transport.dumps(doc)
    except (TypeError, ValueError):  # not serializable as we send JSON: never cached
        return _parse_lenient(doc, version, where)
    hit = _PARSED.get(ck)
    if hit is not None and hit[0] == text:
        return hit[1]
    tariff = _parse_lenient(doc, version, where)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[ck] = (text, tariff)
    return tariff


def _parse_lenient(doc: dict[str, Any], version: str, where: str) -> Tariff:
    try:
        return parse_tariff(doc, ocpi_version=version)
    except PricingInputError as exc:
        lenient = _without_unknown_keys(doc, exc.issues)
        if lenient is None:
            raise _CannotReprice(f"{where} is not a valid tariff: {exc.issues[0]}") from exc
    try:
        return parse_tariff(lenient, ocpi_version=version)
    except PricingInputError as exc:
        raise _CannotReprice(f"{where} is not a valid tariff: {exc.issues[0]}") from exc


def _tariffs(
    row: ForeignCdr,
    objects: StoredObjects,
    cdr: Mapping[str, Any],
    location: Mapping[str, Any] | None,
    version: str,
) -> tuple[Tariff, list[Tariff]]:
    """(the default tariff, every tariff the periods may name)."""
    period_ids = _period_tariff_ids(cdr)
    embedded = [t for t in cdr.get("tariffs") or [] if isinstance(t, Mapping)]
    if embedded:
        parsed = [_parse(t, version, f"$.tariffs[{i}]", row) for i, t in enumerate(embedded)]
        first = key(period_ids[0]) if period_ids else None
        default = next((t for t in parsed if key(t.id) == first), parsed[0])
        return default, parsed
    ids = period_ids or _connector_tariff_ids(cdr, location)
    if not ids:
        raise _CannotReprice(
            "no tariff: the CDR embeds none, its periods name none and its connector lists none"
        )
    parsed = []
    for tid in dict.fromkeys(key(i) for i in ids):
        doc = objects.get("tariffs", tid)
        if doc is None:
            raise _CannotReprice(f"tariff {tid!r} was never published to us")
        parsed.append(_parse(doc, version, f"tariff {tid!r}", row))
    return parsed[0], parsed


def _reconcile(
    default: Tariff, cdr: dict[str, Any], tz: str, version: str, others: list[Tariff]
) -> Reconciliation:
    """reconcile_cdr, once more without the keys it called unknown (inbound lenient)."""
    for attempt in (1, 2):
        try:
            return reconcile_cdr(
                tariff=default, cdr=cdr, time_zone=tz, ocpi_version=version, tariffs=others
            )
        except PricingInputError as exc:
            lenient = _without_unknown_keys(cdr, exc.issues) if attempt == 1 else None
            if lenient is None:
                raise _CannotReprice("; ".join(str(i) for i in exc.issues)) from exc
            cdr = lenient
    raise AssertionError("unreachable")


def reprice(row: ForeignCdr, *, version: str, objects: StoredObjects | None = None) -> None:
    """Re-price a CDR (stored or about to be) and set the outcome on the row, replacing an
    earlier one: `repriced_excl_vat`, `difference_excl_vat` and our flags. Not saved.
    `objects`: the partner's stored objects already read (`stored_objects`)."""
    cdr: Mapping[str, Any] = row.data if isinstance(row.data, Mapping) else {}
    if objects is None:
        objects = StoredObjects(row.tenant_id, row.country_code, row.party_id)
    flags: list[Flag] = [f for f in row.flags if f.get("rule") not in _OURS]
    repriced: Decimal | None = None
    difference: Decimal | None = None
    try:
        location = _location(objects, cdr, version)
        tz = _time_zone(cdr, location, version)
        default, others = _tariffs(row, objects, cdr, location, version)
        fields = _PRICING_FIELDS.get(version, _PRICING_FIELDS["2.2.1"])
        subset = {k: cdr[k] for k in fields if cdr.get(k) is not None}
        rec = _reconcile(default, subset, tz, version, others)
        ours = rec.result.totals.total_cost.excl_vat
        repriced = -ours if row.credit else ours
        if row.total_cost_excl_vat is not None:
            difference = row.total_cost_excl_vat - repriced
        for d in rec.differences:
            flags.append(
                flag(
                    "repricing_difference",
                    f"{d.field}.{d.side}: theirs {d.theirs}, ours {d.ours}",
                )
            )
    except _CannotReprice as exc:
        flags.append(flag("cannot_reprice", str(exc)))
    row.repriced_excl_vat = repriced
    row.difference_excl_vat = difference
    row.flags = flags


def cdr_reprice(*, cdr_pk: int, version: str) -> ForeignCdr:
    """Re-price one stored CDR and record the outcome on it (replacing an earlier one)."""
    row = ForeignCdr.objects.select_for_update().get(pk=cdr_pk)
    reprice(row, version=version)
    row.save(update_fields=["repriced_excl_vat", "difference_excl_vat", "flags", "updated_at"])
    return row


# -- the reconciliation report ----------------------------------------------------------------


@dataclass(frozen=True)
class DifferingCdr:
    pk: int
    country_code: str
    party_id: str
    cdr_id: str
    currency: str
    theirs_excl_vat: Decimal | None
    ours_excl_vat: Decimal | None
    difference_excl_vat: Decimal | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    cdrs: int
    theirs_excl_vat: Decimal
    ours_excl_vat: Decimal  # of the re-priced CDRs only
    difference_excl_vat: Decimal


@dataclass(frozen=True)
class ReconciliationReport:
    tenant_id: int
    connection_id: int
    period_from: datetime
    period_to: datetime  # exclusive
    cdrs: int
    repriced: int
    matching: int  # re-priced, no difference beyond the tolerance
    differing: int  # re-priced with a difference
    not_repriced: int
    flagged: int  # any flag at all
    totals: tuple[CurrencyTotals, ...]
    differing_cdrs: tuple[DifferingCdr, ...]


def reconciliation_report(
    *, tenant_id: int, connection_id: int, period_from: datetime, period_to: datetime
) -> ReconciliationReport:
    """The CDRs a partner sent in [period_from, period_to) (by when we received them): how
    many, totals theirs vs ours per currency, and every CDR whose re-pricing differs or that
    could not be re-priced. NotFound when the connection is not the tenant's."""
    if not OcpiConnection.objects.filter(pk=connection_id, tenant_id=tenant_id).exists():
        raise NotFound(f"no OCPI connection {connection_id} in this tenant")
    rows = list(
        ForeignCdr.objects.filter(
            tenant_id=tenant_id,
            connection_id=connection_id,
            received_at__gte=period_from,
            received_at__lt=period_to,
        )
        .order_by("received_at", "id")
        .only(
            "id",
            "country_code",
            "party_id",
            "data",
            "currency",
            "total_cost_excl_vat",
            "repriced_excl_vat",
            "difference_excl_vat",
            "flags",
        )
    )
    zero = Decimal(0)
    per: dict[str, list[Decimal | int]] = {}
    differing: list[DifferingCdr] = []
    repriced = matching = not_repriced = flagged = 0
    for r in rows:
        rules = tuple(str(f.get("rule")) for f in r.flags)
        flagged += bool(rules)
        acc = per.setdefault(r.currency, [0, zero, zero, zero])
        acc[0] = int(acc[0]) + 1
        acc[1] = Decimal(acc[1]) + (r.total_cost_excl_vat or zero)
        if r.repriced_excl_vat is None:
            not_repriced += 1
        else:
            repriced += 1
            acc[2] = Decimal(acc[2]) + r.repriced_excl_vat
            acc[3] = Decimal(acc[3]) + (r.difference_excl_vat or zero)
        bad = "repricing_difference" in rules or r.repriced_excl_vat is None
        if r.repriced_excl_vat is not None and not bad:
            matching += 1
        if bad:
            differing.append(
                DifferingCdr(
                    pk=r.pk,
                    country_code=r.country_code,
                    party_id=r.party_id,
                    cdr_id=str(r.data.get("id", "")) if isinstance(r.data, Mapping) else "",
                    currency=r.currency,
                    theirs_excl_vat=r.total_cost_excl_vat,
                    ours_excl_vat=r.repriced_excl_vat,
                    difference_excl_vat=r.difference_excl_vat,
                    flags=tuple(f"{f.get('rule')}: {f.get('detail')}" for f in r.flags),
                )
            )
    return ReconciliationReport(
        tenant_id=tenant_id,
        connection_id=connection_id,
        period_from=period_from,
        period_to=period_to,
        cdrs=len(rows),
        repriced=repriced,
        matching=matching,
        differing=repriced - matching,
        not_repriced=not_repriced,
        flagged=flagged,
        totals=tuple(
            CurrencyTotals(cur, int(a[0]), Decimal(a[1]), Decimal(a[2]), Decimal(a[3]))
            for cur, a in sorted(per.items())
        ),
        differing_cdrs=tuple(differing),
    )
