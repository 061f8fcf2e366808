"""Tariff codes and their assignment to stations (a station's default) and connectors (an
override), from a point in time on."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import upsert, validated_save
from apps.locations import api as locations_api
from apps.parties import api as parties_api
from apps.tariffs import selectors
from apps.tariffs.contracts import BillingEngine, TariffAssignmentRecord, TariffCodeRecord
from apps.tariffs.models import Tariff, TariffAssignment, TariffCode

_audit = parties_api.audit


@transaction.atomic
def tariff_code_upsert(*, tenant_id: int, code: str, tariff_id: int, description: str = "") -> int:
    return upsert(
        TariffCode,
        lookup={"tenant_id": tenant_id, "code": code},
        values={"tariff_id": tariff_id, "description": description},
    ).pk


@transaction.atomic
def tariff_code_assign(
    *,
    tenant_id: int,
    charge_station_id: int,
    tariff_code_id: int,
    effective_from: datetime,
    connector_id: int | None = None,
) -> int:
    """Put a tariff code on a station (its default) or on one connector (an override), from
    `effective_from` on. Assigning again at the same instant replaces that assignment."""
    if not TariffCode.objects.for_tenant(tenant_id).filter(pk=tariff_code_id).exists():
        raise NotFound(f"no tariff code {tariff_code_id} in this tenant")
    return upsert(
        TariffAssignment,
        lookup={
            "tenant_id": tenant_id,
            "charge_station_id": charge_station_id,
            "connector_id": connector_id,
            "effective_from": effective_from,
        },
        values={"tariff_code_id": tariff_code_id},
    ).pk


@transaction.atomic
def tariff_code_create(
    *, tenant_id: int, code: str, tariff_id: int, actor: Actor, description: str = ""
) -> TariffCodeRecord:
    engine = (
        Tariff.objects.for_tenant(tenant_id)
        .filter(pk=tariff_id)
        .values_list("engine", flat=True)
        .first()
    )
    if engine is None:
        raise ValidationFailed(
            "invalid tariff code",
            problems=(Problem("$.tariff_id", f"no tariff {tariff_id} in this tenant"),),
        )
    if engine != BillingEngine.WHOLESALE.value:
        raise ValidationFailed(
            "invalid tariff code",
            problems=(
                Problem(
                    "$.tariff_id",
                    f"tariff {tariff_id} serves the {engine} engine; a tariff code puts a "
                    "station price on stations, so it names a WHOLESALE tariff",
                ),
            ),
        )
    if TariffCode.objects.for_tenant(tenant_id).filter(code=code).exists():
        raise Conflict(f"tariff code {code!r} exists")
    tc = TariffCode(tenant_id=tenant_id, code=code, tariff_id=tariff_id, description=description)
    validated_save(tc)
    record = selectors.tariff_code_get(tenant_id=tenant_id, code_id=tc.pk)
    _audit(tenant_id, actor, "tariff_code.create", "tariff_code", tc.pk, after=record)
    return record


@transaction.atomic
def tariff_assignment_create(
    *,
    tenant_id: int,
    charge_station_id: int,
    tariff_code: str,
    effective_from: datetime,
    now: datetime,
    actor: Actor,
    evse_uid: str | None = None,
    connector_id: str | None = None,
) -> TariffAssignmentRecord:
    """Put a tariff code on a station (its default) or on one of its connectors (an
    override) from `effective_from`, which may not lie in the past: a change applies to
    future sessions only."""
    problems = []
    try:
        locations_api.charge_station_get(tenant_id=tenant_id, station_id=charge_station_id)
    except NotFound:
        problems.append(
            Problem("$.charge_station_id", f"no charge station {charge_station_id} in this tenant")
        )
    code = TariffCode.objects.for_tenant(tenant_id).filter(code=tariff_code).first()
    if code is None:
        problems.append(Problem("$.tariff_code", f"no tariff code {tariff_code!r} in this tenant"))
    if effective_from < now:
        problems.append(Problem("$.effective_from", "must not be in the past"))
    if (evse_uid is None) != (connector_id is None):
        problems.append(Problem("$.connector_id", "give both evse_uid and connector_id, or none"))
    connector_pk = None
    if not problems and evse_uid is not None and connector_id is not None:
        try:
            connector_pk = locations_api.connector_pk(
                tenant_id=tenant_id,
                station_id=charge_station_id,
                evse_uid=evse_uid,
                connector_id=connector_id,
            )
        except NotFound as exc:
            problems.append(Problem("$.connector_id", exc.message))
    if problems:
        raise ValidationFailed("invalid tariff assignment", problems=tuple(problems))
    assert code is not None
    pk = tariff_code_assign(
        tenant_id=tenant_id,
        charge_station_id=charge_station_id,
        tariff_code_id=code.pk,
        effective_from=effective_from,
        connector_id=connector_pk,
    )
    record = selectors.tariff_assignment_get(tenant_id=tenant_id, assignment_id=pk)
    _audit(tenant_id, actor, "tariff.assign", "charge_station", charge_station_id, after=record)
    return record
