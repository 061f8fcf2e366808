"""What the billing engines read of a batch of CDRs (apps.rating, issue 17): one query."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.db.models.fields.json import KeyTransform

from apps.charging.contracts import CdrForRating, CdrKind
from apps.charging.models import Cdr

_FIELDS: tuple[Any, ...] = (
    "id",
    "tenant_id",
    "kind",
    "party_id",
    "session__charge_station_id",
    "session__connector_id",
    "session__time_zone",
    "start_date_time",
    "end_date_time",
    "currency",
    "tariff_version_id",
    "total_energy_kwh",
    "total_time_hours",
    "total_parking_time_hours",
    "token_id",
    "token_source",
    "emsp_party_id",
    "emsp_tenant_id",
    "contract_id",
    "customer_id",
    "hcc",
    # Only what prices, not the whole OCPI object and notes (ADR 0034: decoding them was a
    # tenth of the engines' time; the pricing result in the notes is larger still).
    KeyTransform("start_date_time", "data"),
    KeyTransform("end_date_time", "data"),
    KeyTransform("charging_periods", "data"),
    KeyTransform("time_zone", "annotations"),
    KeyTransform("exact", KeyTransform("pricing", "annotations")),
    KeyTransform("country", KeyTransform("cdr_location", "data")),
)


def cdrs_for_rating(*, cdr_ids: Iterable[int]) -> list[CdrForRating]:
    """The CDRs of `cdr_ids` that exist, ordered by id (unknown ids are left out)."""
    out = []
    for row in Cdr.objects.filter(pk__any=cdr_ids).order_by("pk").values_list(*_FIELDS):
        (
            pk,
            tenant_id,
            kind,
            party_id,
            station_id,
            connector_id,
            session_tz,
            start,
            end,
            currency,
            tariff_version_id,
            kwh,
            hours,
            parking,
            token_id,
            token_source,
            emsp_party_id,
            emsp_tenant_id,
            contract_id,
            customer_id,
            hcc,
            start_raw,
            end_raw,
            periods,
            notes_time_zone,
            exact,
            country,
        ) = row
        data = {
            k: v
            for k, v in (
                ("start_date_time", start_raw),
                ("end_date_time", end_raw),
                ("charging_periods", periods),
            )
            if v is not None
        }
        out.append(
            CdrForRating(
                id=pk,
                tenant_id=tenant_id,
                kind=kind,
                party_id=party_id,
                charge_station_id=station_id,
                connector_id=connector_id,
                start=start,
                end=end,
                currency=currency,
                tariff_version_id=tariff_version_id,
                energy_kwh=kwh,
                time_hours=hours,
                parking_hours=parking,
                token_id=token_id,
                token_source=token_source,
                emsp_party_id=emsp_party_id,
                emsp_tenant_id=emsp_tenant_id,
                contract_id=contract_id,
                customer_id=customer_id,
                hcc=hcc,
                time_zone=notes_time_zone or session_tz,
                data=data,
                exact=exact,
                country=country or "",
            )
        )
    return out


def cdr_ids_original_since(
    *, since: datetime, until: datetime, after_id: int = 0, limit: int
) -> list[int]:
    """Original CDRs written in [since, until), by id from `after_id` (the rating sweep)."""
    return list(
        Cdr.objects.filter(
            kind=CdrKind.ORIGINAL.value,
            created_at__gte=since,
            created_at__lt=until,
            pk__gt=after_id,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def cdrs_credited(*, cdr_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Credited original -> (its credit CDR's id, OCPI id), for the CDRs of `cdr_ids` that are
    credit CDRs or credited originals (one query; the credit's unique `credits` key)."""
    ids = set(cdr_ids)
    rows = Cdr.objects.filter(kind=CdrKind.CREDIT.value).filter(
        Q(pk__in=ids) | Q(credits_id__in=ids)
    )
    return {
        original: (pk, ocpi_id)
        for pk, original, ocpi_id in rows.values_list("pk", "credits_id", "ocpi_id")
    }
