"""The locations a roaming partner may see (issue 19, area "cpo"): published ones only, home
chargers never (read by apps.roaming through the api)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from apps.common.keyset import keyset_page
from apps.locations import selectors
from apps.locations.contracts import LocationRecord
from apps.locations.models import ChargeStation, Evse, Location


def _home_stations(tenant_id: int) -> dict[int, int | None]:
    """The tenant's home chargers (stations with an HCC flag): station id -> location id.
    Few, and none for most CPOs: one small read per page instead of joins in every query."""
    return dict(
        ChargeStation.objects.filter(tenant_id=tenant_id)
        .exclude(hcc="")
        .values_list("pk", "location_id")
    )


def _published(
    tenant_id: int, location_ids: Collection[int] | None, home: dict[int, int | None]
) -> Any:
    """The tenant's locations a roaming partner may see. Never: an unpublished location, a
    location whose stations are all home chargers (`home`). Those home-only locations are
    found among the home chargers' locations and left out by id, so the count and the pages
    are plain range reads of the partial index (tenant, last_updated, id) WHERE publish."""
    qs = Location.objects.filter(tenant_id=tenant_id, publish=True)
    home_locations = {loc for loc in home.values() if loc is not None}
    if home_locations:
        public_evse = Evse.objects.filter(location=OuterRef("pk")).filter(
            Q(charge_station__isnull=True) | Q(charge_station__hcc="")
        )
        home_only = list(
            Location.objects.filter(pk__in=home_locations)
            .exclude(Exists(public_evse))
            .values_list("pk", flat=True)
        )
        if home_only:
            qs = qs.exclude(pk__in=home_only)
    if location_ids is not None:
        qs = qs.filter(pk__in=list(location_ids))
    return qs


def _without_home_chargers(
    records: list[LocationRecord], home: dict[int, int | None]
) -> list[LocationRecord]:
    if not home or not any(e.charge_station_id in home for r in records for e in r.evses):
        return records
    return [
        replace(r, evses=tuple(e for e in r.evses if e.charge_station_id not in home))
        for r in records
    ]


def ocpi_location_page(
    *,
    tenant_id: int,
    location_ids: Collection[int] | None,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> tuple[int, list[LocationRecord], tuple[datetime, int] | None]:
    """(total, page, cursor of the next page or None) of the locations published to a
    partner (`location_ids`: the ones it may see, None: all), by the stored `last_updated`
    then id, oldest first (apps.common.keyset: after the cursor `after`, else from
    `offset`); home chargers' EVSEs left out."""
    home = _home_stations(tenant_id)
    page = keyset_page(
        _published(tenant_id, location_ids, home),
        "last_updated",
        date_from=date_from,
        date_to=date_to,
        offset=offset,
        limit=limit,
        after=after,
    )
    records = selectors.location_records(tenant_id=tenant_id, ids=page.ids)
    return page.total, _without_home_chargers(records, home), page.last


def ocpi_location_get(
    *, tenant_id: int, ocpi_id: str, location_ids: Collection[int] | None
) -> LocationRecord | None:
    """One published location by its OCPI id (as `ocpi_location_page` shows it), or None."""
    home = _home_stations(tenant_id)
    pk = (
        _published(tenant_id, location_ids, home)
        .filter(ocpi_id=ocpi_id)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if pk is None:
        return None
    records = selectors.location_records(tenant_id=tenant_id, ids=[pk])
    return _without_home_chargers(records, home)[0]


def ocpi_location_of_evse(*, tenant_id: int, evse_uid: str) -> int | None:
    """The platform id of the location an EVSE (by uid) belongs to."""
    return (
        Evse.objects.filter(tenant_id=tenant_id, uid=evse_uid)
        .values_list("location_id", flat=True)
        .first()
    )


def is_home_charger_evse(*, tenant_id: int, evse_uid: str) -> bool:
    """Whether the EVSE sits at a home charger (never published)."""
    return (
        Evse.objects.filter(tenant_id=tenant_id, uid=evse_uid)
        .exclude(charge_station__hcc="")
        .filter(charge_station__isnull=False)
        .exists()
    )


def location_by_ocpi_id(
    *, tenant_id: int, ocpi_id: str, party_id: str | None = None
) -> LocationRecord | None:
    """A location of the tenant by its OCPI id (published or not: a 2.1.1 session or CDR
    embeds the location it happened at), or None."""
    qs = Location.objects.filter(tenant_id=tenant_id, ocpi_id=ocpi_id)
    if party_id:
        qs = qs.filter(party__party_id=party_id.upper())
    pk = qs.order_by("id").values_list("id", flat=True).first()
    return None if pk is None else selectors.location_records(tenant_id=tenant_id, ids=[pk])[0]
