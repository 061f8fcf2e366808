"""Tariffs and their versions: create, copy, add a version (prices change only for sessions
that start after the change)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import upsert, validated_save
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.tariffs import selectors
from apps.tariffs.contracts import BillingEngine, TariffRecord
from apps.tariffs.models import Tariff, TariffVersion
from billing.pricing import PricingInputError, parse_tariff

_audit = parties_api.audit


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
def tariff_create(
    *,
    tenant_id: int,
    ocpi: dict[str, Any],
    effective_from: datetime,
    now: datetime,
    actor: Actor,
    copied_from: int | None = None,
    engine: BillingEngine = BillingEngine.WHOLESALE,
) -> TariffRecord:
    """Create a tariff from an OCPI Tariff object, with its first version (audited as
    tariff.create, or tariff.copy when `copied_from` names the tariff it copies).

    `engine` says which billing engine it serves (ADR 0027): a WHOLESALE tariff (the
    station price and what the CPO charges eMSPs) or a REIMBURSEMENT tariff (a charger
    owner's rate) belongs to one of the tenant's CPO identities, a RETAIL tariff to one of
    its eMSP identities; `country_code` and `party_id` name that identity."""
    tariff_validate(ocpi=ocpi)
    party_pk = parties_api.party_pk_for_tenant(
        tenant_id=tenant_id,
        country_code=ocpi["country_code"],
        party_id=ocpi["party_id"],
        role=PartyRole.EMSP if engine is BillingEngine.RETAIL else PartyRole.CPO,
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
        engine=engine.value,
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
        after={"engine": engine.value, **(record.ocpi or {})},
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
def tariff_copy(
    *,
    tenant_id: int,
    tariff_id: int,
    new_ocpi_id: str,
    effective_from: datetime,
    now: datetime,
    actor: Actor,
) -> TariffRecord:
    """A new tariff with the prices of this one's version in force now."""
    source = selectors.tariff_get(tenant_id=tenant_id, tariff_id=tariff_id, at=now)
    if source.ocpi is None:
        raise Conflict("this tariff has no version to copy")
    ocpi = {k: v for k, v in source.ocpi.items() if k != "last_updated"}
    ocpi["id"] = new_ocpi_id
    ocpi["last_updated"] = now.isoformat().replace("+00:00", "Z")
    return tariff_create(
        tenant_id=tenant_id,
        ocpi=_plain(ocpi),
        effective_from=effective_from,
        now=now,
        actor=actor,
        copied_from=tariff_id,
        engine=BillingEngine(source.engine),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
