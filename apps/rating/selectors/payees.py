"""Reads of payees (charger owners) and their assignment to charge stations, and the bulk
lookup rating reads (`payees_in_force`)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime

from apps.common.errors import NotFound
from apps.common.services import version_tag
from apps.rating.contracts import PayeeAssignmentRecord, PayeeKind, PayeeRecord
from apps.rating.models import Payee, PayeeAssignment


def _payee(p: Payee) -> PayeeRecord:
    return PayeeRecord(
        id=p.pk,
        kind=PayeeKind(p.kind),
        name=p.name,
        email=p.email,
        vat_number=p.vat_number,
        iban=p.iban,
        bic=p.bic,
        address=p.address,
        postal_code=p.postal_code,
        city=p.city,
        country=p.country,
        external_ref=p.external_ref,
        created_at=p.created_at,
        last_updated=p.updated_at,
        etag=version_tag(p),
    )


def payee_get(*, tenant_id: int, payee_id: int) -> PayeeRecord:
    p = Payee.objects.for_tenant(tenant_id).filter(pk=payee_id).first()
    if p is None:
        raise NotFound(f"no payee {payee_id} in this tenant")
    return _payee(p)


def payee_list(
    *, tenant_id: int, after_id: int | None = None, limit: int = 100, kind: str | None = None
) -> list[PayeeRecord]:
    qs = Payee.objects.for_tenant(tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if kind:
        qs = qs.filter(kind=kind)
    return [_payee(p) for p in qs.order_by("id")[:limit]]


def _assignment(a: PayeeAssignment) -> PayeeAssignmentRecord:
    return PayeeAssignmentRecord(
        id=a.pk,
        charge_station_id=a.charge_station_id,
        payee_id=a.payee_id,
        payee_name=a.payee.name if a.payee is not None else "",
        effective_from=a.effective_from,
        created_at=a.created_at,
    )


def payee_assignments(
    *, tenant_id: int, station_id: int | None = None, payee_id: int | None = None
) -> list[PayeeAssignmentRecord]:
    """The assignment history of a charge station (or every row naming a payee), oldest
    first."""
    qs = PayeeAssignment.objects.for_tenant(tenant_id).select_related("payee")
    if station_id is not None:
        qs = qs.filter(charge_station_id=station_id)
    if payee_id is not None:
        qs = qs.filter(payee_id=payee_id)
    return [_assignment(a) for a in qs.order_by("charge_station_id", "effective_from")]


def payee_stations(*, tenant_id: int, payee_id: int, at: datetime) -> list[int]:
    """The charge stations whose payee in force at `at` is `payee_id`."""
    stations = set(
        PayeeAssignment.objects.for_tenant(tenant_id)
        .filter(payee_id=payee_id)
        .values_list("charge_station_id", flat=True)
    )
    found = payees_in_force(keys=[(s, at) for s in stations])
    return sorted(s for (s, _), p in found.items() if p == payee_id)


def payees_in_force(
    *, keys: Iterable[tuple[int, datetime]]
) -> dict[tuple[int, datetime], int | None]:
    """For each (charge station id, moment), the payee in force then: the latest assignment
    effective at or before it (None: none yet, or unassigned). One query for the batch."""
    keys = list(dict.fromkeys(keys))
    history: dict[int, tuple[list[datetime], list[int | None]]] = {}
    if keys:
        for station_id, effective_from, payee_id in (
            PayeeAssignment.objects.filter(charge_station_id__any=[k[0] for k in keys])
            .order_by("charge_station_id", "effective_from")
            .values_list("charge_station_id", "effective_from", "payee_id")
        ):
            moments, payees = history.setdefault(station_id, ([], []))
            moments.append(effective_from)
            payees.append(payee_id)
    found: dict[tuple[int, datetime], int | None] = {}
    for station_id, at in keys:
        moments, payees = history.get(station_id, ([], []))
        i = bisect_right(moments, at)
        found[(station_id, at)] = payees[i - 1] if i else None
    return found
