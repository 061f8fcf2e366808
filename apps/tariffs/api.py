"""Public functions of the tariffs app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from apps.tariffs import selectors, services
from apps.tariffs.contracts import BillingEngine
from apps.tariffs.models import Tariff, TariffAssignment, TariffCode

tariff_upsert = services.tariff_upsert
tariff_version_add = services.tariff_version_add
tariff_code_upsert = services.tariff_code_upsert
tariff_code_assign = services.tariff_code_assign
tariff_for_session = selectors.tariff_for_session
tariff_versions_count = selectors.tariff_versions_count
tariff_create = services.tariff_create
tariff_version_create = services.tariff_version_create
tariff_get = selectors.tariff_get
tariff_list = selectors.tariff_list
tariff_code_create = services.tariff_code_create
tariff_code_get = selectors.tariff_code_get
tariff_code_list = selectors.tariff_code_list
tariff_assignment_create = services.tariff_assignment_create
tariff_assignment_get = selectors.tariff_assignment_get
tariff_assignment_list = selectors.tariff_assignment_list
tariff_validate = services.tariff_validate
tariff_preview = services.tariff_preview
tariff_copy = services.tariff_copy
tariff_code_rows = selectors.tariff_code_rows
assignments_of_station = selectors.assignments_of_station
tariff_code_import_preview = services.tariff_code_import_preview
tariff_code_import_start = services.tariff_code_import_start
tariff_code_import_get = selectors.tariff_code_import_get


# rules (issue 17): what a billing rule needs of a tariff and of a station's tariff code.
def tariff_engine_currency(
    *, tenant_id: int, tariff_id: int
) -> tuple[BillingEngine, str, str] | None:
    """(engine, currency, name) of this tenant's tariff, or None."""
    row = (
        Tariff.objects.for_tenant(tenant_id)
        .filter(pk=tariff_id)
        .values_list("engine", "currency", "name", "ocpi_id")
        .first()
    )
    return None if row is None else (BillingEngine(row[0]), row[1], row[2] or row[3])


def tariff_code_ids_of_tenant(*, tenant_id: int, ids: Iterable[int]) -> set[int]:
    """Those of `ids` that are tariff codes of this tenant."""
    return set(
        TariffCode.objects.for_tenant(tenant_id)
        .filter(pk__in=set(ids))
        .values_list("pk", flat=True)
    )


def tariff_code_of_station(*, charge_station_id: int, at: datetime) -> int | None:
    """The tariff code id assigned to the station (its default, not a connector's
    override) in force at `at`, or None."""
    return (
        TariffAssignment.objects.filter(
            charge_station_id=charge_station_id, connector__isnull=True, effective_from__lte=at
        )
        .order_by("-effective_from")
        .values_list("tariff_code_id", flat=True)
        .first()
    )


def tariff_labels(*, tenant_id: int, tariff_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Tariff id -> (its name, or its OCPI id when it has none; its currency), for this
    tenant's tariffs."""
    rows = Tariff.objects.for_tenant(tenant_id).filter(pk__in=set(tariff_ids))
    return {
        pk: (name or ocpi_id, currency)
        for pk, name, ocpi_id, currency in rows.values_list("pk", "name", "ocpi_id", "currency")
    }


def tariff_choices(*, tenant_id: int, engine: BillingEngine) -> list[tuple[int, str, str]]:
    """(id, name, currency) of this tenant's tariffs of one engine, by name."""
    rows = Tariff.objects.for_tenant(tenant_id).filter(engine=engine.value).order_by("name", "pk")
    return [
        (pk, name or ocpi_id, currency)
        for pk, name, ocpi_id, currency in rows.values_list("pk", "name", "ocpi_id", "currency")
    ]


# The billing engines' read of rule tariffs (issue 17, area "rate").
tariff_versions_of = selectors.tariff_versions_of
tariff_codes_in_force = selectors.tariff_codes_in_force


# Published to roaming partners (issue 19, area "cpo"): the CPO's WHOLESALE tariffs.
ocpi_tariff_page = selectors.ocpi_tariff_page
