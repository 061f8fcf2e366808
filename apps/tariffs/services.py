from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import upsert, validated_save
from apps.locations import api as locations_api
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.tariffs import selectors
from apps.tariffs.contracts import TariffAssignmentRecord, TariffCodeRecord, TariffRecord
from apps.tariffs.models import Tariff, TariffAssignment, TariffCode, TariffVersion
from billing.pricing import PricingInputError, parse_tariff


@transaction.atomic
def tariff_upsert(*, tenant_id: int, party_id: int, ocpi_id: str, **values: object) -> int:
    return upsert(
        Tariff,
        lookup={"party_id": party_id, "ocpi_id": ocpi_id},
        values={"tenant_id": tenant_id, **values},
    ).pk


def tariff_validate(*, ocpi: Any) -> None:
    """The pricing core's strict parser is the one validation of an OCPI tariff, for every
    interface (admin, REST, OCPI): its problems keep its JSON paths, e.g.
    `$.elements[0].price_components[1].price`."""
    if not isinstance(ocpi, dict):
        raise ValidationFailed(
            "invalid OCPI tariff", problems=(Problem("$", "must be an OCPI Tariff object"),)
        )
    try:
        parse_tariff(ocpi)
    except PricingInputError as exc:
        raise ValidationFailed(
            "invalid OCPI tariff",
            problems=tuple(Problem(issue.path, issue.message) for issue in exc.issues),
        ) from None


@transaction.atomic
def tariff_version_add(
    *,
    tariff_id: int,
    ocpi: dict[str, Any],
    effective_from: datetime,
    now: datetime,
    created_by_id: int | None = None,
) -> int:
    """Add a new version of a tariff's prices, effective for sessions that start at or after
    `effective_from`. A tariff's first version may be effective at any time; later versions
    only from `now` on, so a change never reprices a session already started."""
    tariff = Tariff.objects.select_for_update().filter(pk=tariff_id).first()
    if tariff is None:
        raise NotFound(f"no tariff {tariff_id}")
    tariff_validate(ocpi=ocpi)
    currency = ocpi.get("currency")
    if currency != tariff.currency:
        raise ValidationFailed(
            "tariff version does not match its tariff",
            problems=(Problem("$.currency", f"must be {tariff.currency!r}, got {currency!r}"),),
        )
    latest = tariff.versions.aggregate(v=Max("version"), e=Max("effective_from"))
    if latest["v"] is not None:
        if effective_from < now:
            raise Conflict(
                f"tariff {tariff.ocpi_id}: a new version cannot take effect in the past "
                f"({effective_from.isoformat()} < {now.isoformat()}); changes apply to future "
                "sessions only"
            )
    version = TariffVersion(
        tenant_id=tariff.tenant_id,
        tariff=tariff,
        version=(latest["v"] or 0) + 1,
        effective_from=effective_from,
        ocpi=ocpi,
        created_by_id=created_by_id,
    )
    validated_save(version)
    return version.pk


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


# --- Provisioning (REST API) ----------------------------------------------------------------


_audit = parties_api.audit


@transaction.atomic
def tariff_create(
    *,
    tenant_id: int,
    ocpi: dict[str, Any],
    effective_from: datetime,
    now: datetime,
    actor: Actor,
    copied_from: int | None = None,
) -> TariffRecord:
    """Create a tariff from an OCPI Tariff object, with its first version (audited as
    tariff.create, or tariff.copy when `copied_from` names the tariff it copies)."""
    tariff_validate(ocpi=ocpi)
    party_pk = parties_api.party_pk_for_tenant(
        tenant_id=tenant_id,
        country_code=ocpi["country_code"],
        party_id=ocpi["party_id"],
        role=PartyRole.CPO,
        path="$.party_id",
    )
    if Tariff.objects.filter(party_id=party_pk, ocpi_id=ocpi["id"]).exists():
        raise Conflict(f"tariff {ocpi['id']} exists; add a version to change its prices")
    alt = ocpi.get("tariff_alt_text")
    alt = alt if isinstance(alt, list) else []
    name = next((str(t.get("text", "")) for t in alt if isinstance(t, dict)), "")
    tariff = Tariff(
        tenant_id=tenant_id,
        party_id=party_pk,
        ocpi_id=ocpi["id"],
        currency=ocpi["currency"],
        type=ocpi.get("type") or "",
        name=str(name)[:200],
    )
    validated_save(tariff)
    tariff_version_add(tariff_id=tariff.pk, ocpi=ocpi, effective_from=effective_from, now=now)
    record = selectors.tariff_get(tenant_id=tenant_id, tariff_id=tariff.pk, at=now)
    _audit(
        tenant_id,
        actor,
        "tariff.create" if copied_from is None else "tariff.copy",
        "tariff",
        tariff.pk,
        before=None if copied_from is None else {"copied_from": copied_from},
        after=record.ocpi,
    )
    return record


@transaction.atomic
def tariff_version_create(
    *,
    tenant_id: int,
    tariff_id: int,
    ocpi: dict[str, Any],
    effective_from: datetime,
    now: datetime,
    actor: Actor,
) -> TariffRecord:
    """A new version of a tenant's tariff. Its identity fields are the tariff's own."""
    tariff = Tariff.objects.for_tenant(tenant_id).select_related("party").filter(pk=tariff_id)
    t = tariff.first()
    if t is None:
        raise NotFound(f"no tariff {tariff_id} in this tenant")
    ocpi = {
        **ocpi,
        "country_code": t.party.country_code,
        "party_id": t.party.party_id,
        "id": t.ocpi_id,
    }
    before = selectors.tariff_get(tenant_id=tenant_id, tariff_id=t.pk, at=now).ocpi
    tariff_version_add(tariff_id=t.pk, ocpi=ocpi, effective_from=effective_from, now=now)
    _audit(
        tenant_id,
        actor,
        "tariff.version_add",
        "tariff",
        t.pk,
        before=before,
        after={"effective_from": effective_from, "ocpi": ocpi},
    )
    return selectors.tariff_get(tenant_id=tenant_id, tariff_id=t.pk, at=now)


@transaction.atomic
def tariff_code_create(
    *, tenant_id: int, code: str, tariff_id: int, actor: Actor, description: str = ""
) -> TariffCodeRecord:
    if not Tariff.objects.for_tenant(tenant_id).filter(pk=tariff_id).exists():
        raise ValidationFailed(
            "invalid tariff code",
            problems=(Problem("$.tariff_id", f"no tariff {tariff_id} in this tenant"),),
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
