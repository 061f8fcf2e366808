from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max

from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import upsert, validated_save
from apps.tariffs.models import Tariff, TariffAssignment, TariffCode, TariffVersion
from billing.pricing import PricingInputError, parse_tariff


@transaction.atomic
def tariff_upsert(*, tenant_id: int, party_id: int, ocpi_id: str, **values: object) -> int:
    return upsert(
        Tariff,
        lookup={"party_id": party_id, "ocpi_id": ocpi_id},
        values={"tenant_id": tenant_id, **values},
    ).pk


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
    try:
        parse_tariff(ocpi)
    except PricingInputError as exc:
        raise ValidationFailed(
            "invalid OCPI tariff",
            problems=tuple(Problem(issue.path, issue.message) for issue in exc.issues),
        ) from None
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
