"""Payees (charger owners: home, workplace, site host) and their assignment to charge
stations. An assignment is history: a row puts a payee (or none) on a station from a moment
on, never before now (the payee of a past session never changes). Every change is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import check_version, validated_save
from apps.locations import api as locations_api
from apps.parties import api as parties_api
from apps.rating.contracts import PayeeAssignmentRecord, PayeeKind, PayeeRecord
from apps.rating.models import Payee, PayeeAssignment
from apps.rating.selectors import payees as selectors
from apps.rating.services.iban import iban_normalize, iban_problem

PAYEE_FIELDS = (
    "kind",
    "name",
    "email",
    "vat_number",
    "iban",
    "bic",
    "address",
    "postal_code",
    "city",
    "country",
    "external_ref",
)


def _audit(
    tenant_id: int, actor: Actor, action: str, kind: str, pk: int, *, before: Any, after: Any
) -> None:
    parties_api.audit(tenant_id, actor, action, kind, pk, before=before, after=after)


def _check(tenant_id: int, values: dict[str, Any], exclude: int | None) -> None:
    problems = []
    kind = values.get("kind")
    if kind is not None and kind not in {k.value for k in PayeeKind}:
        kinds = ", ".join(k.value for k in PayeeKind)
        problems.append(Problem("$.kind", f"must be one of {kinds}"))
    if values.get("iban"):
        values["iban"] = iban = iban_normalize(str(values["iban"]))
        why = iban_problem(iban)
        if why:
            problems.append(Problem("$.iban", why))
    if values.get("bic"):
        values["bic"] = str(values["bic"]).replace(" ", "").upper()
    if problems:
        raise ValidationFailed("invalid payee", problems=tuple(problems))
    ref = values.get("external_ref")
    if ref:
        qs = Payee.objects.for_tenant(tenant_id).filter(external_ref=ref)
        if exclude is not None:
            qs = qs.exclude(pk=exclude)
        if qs.exists():
            raise Conflict(
                f"a payee with external_ref {ref!r} exists",
                problems=(Problem("$.external_ref", "taken"),),
            )


@transaction.atomic
def payee_create(*, tenant_id: int, values: dict[str, Any], actor: Actor) -> PayeeRecord:
    values = {k: v for k, v in values.items() if k in PAYEE_FIELDS}
    _check(tenant_id, values, None)
    payee = Payee(tenant_id=tenant_id, **values)
    validated_save(payee)
    record = selectors.payee_get(tenant_id=tenant_id, payee_id=payee.pk)
    _audit(tenant_id, actor, "payee.create", "payee", payee.pk, before=None, after=record)
    return record


@transaction.atomic
def payee_update(
    *,
    tenant_id: int,
    payee_id: int,
    values: dict[str, Any],
    actor: Actor,
    if_match: str | None = None,
) -> PayeeRecord:
    payee = Payee.objects.for_tenant(tenant_id).select_for_update().filter(pk=payee_id).first()
    if payee is None:
        raise NotFound(f"no payee {payee_id} in this tenant")
    check_version(payee, if_match)
    values = {k: v for k, v in values.items() if k in PAYEE_FIELDS}
    _check(tenant_id, values, payee.pk)
    before = {f: getattr(payee, f) for f in values}
    for field, value in values.items():
        setattr(payee, field, value)
    validated_save(payee)
    _audit(
        tenant_id,
        actor,
        "payee.update",
        "payee",
        payee.pk,
        before=before,
        after={f: getattr(payee, f) for f in values},
    )
    return selectors.payee_get(tenant_id=tenant_id, payee_id=payee.pk)


@transaction.atomic
def payee_assign(
    *,
    tenant_id: int,
    station_id: int,
    payee_id: int | None,
    effective_from: datetime,
    actor: Actor,
    now: datetime | None = None,
) -> PayeeAssignmentRecord:
    """Put payee `payee_id` (None: no payee) on charge station `station_id` from
    `effective_from` on, not before `now` nor before the station's latest assignment.
    Idempotent: when that payee is already the one in force from then on, the existing row
    is returned and nothing is written."""
    now = now or timezone.now()
    if not locations_api.charge_station_ids_of_tenant(
        tenant_id=tenant_id, station_ids=[station_id]
    ):
        raise NotFound(f"no charge station {station_id} in this tenant")
    if (
        payee_id is not None
        and not Payee.objects.for_tenant(tenant_id).filter(pk=payee_id).exists()
    ):
        raise ValidationFailed(
            "invalid payee assignment",
            problems=(Problem("$.payee_id", f"no payee {payee_id} in this tenant"),),
        )
    latest = (
        PayeeAssignment.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(charge_station_id=station_id)
        .order_by("-effective_from")
        .first()
    )
    if (
        latest is not None
        and latest.payee_id == payee_id
        and latest.effective_from <= max(effective_from, now)
    ):
        return selectors.payee_assignments(tenant_id=tenant_id, station_id=station_id)[-1]
    if latest is None and payee_id is None:
        raise ValidationFailed(
            "invalid payee assignment",
            problems=(Problem("$.payee_id", "the station has no payee to remove"),),
        )
    problems = []
    if effective_from < now:
        problems.append(
            Problem(
                "$.effective_from",
                f"must not be before now ({now.isoformat()}): the payee of a past session "
                "never changes",
            )
        )
    elif latest is not None and effective_from <= latest.effective_from:
        problems.append(
            Problem(
                "$.effective_from",
                f"must be after the station's latest assignment "
                f"({latest.effective_from.isoformat()})",
            )
        )
    if problems:
        raise ValidationFailed("invalid payee assignment", problems=tuple(problems))
    row = PayeeAssignment(
        tenant_id=tenant_id,
        charge_station_id=station_id,
        payee_id=payee_id,
        effective_from=effective_from,
    )
    validated_save(row)
    record = selectors.payee_assignments(tenant_id=tenant_id, station_id=station_id)[-1]
    _audit(
        tenant_id,
        actor,
        "payee.assign" if payee_id is not None else "payee.unassign",
        "charge_station",
        station_id,
        before=None if latest is None else {"payee_id": latest.payee_id},
        after=record,
    )
    return record
