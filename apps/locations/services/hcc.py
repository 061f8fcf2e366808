"""Home-charger flags of charge stations (BILLING.md section 3), set in bulk and audited."""

from __future__ import annotations

from django.db import transaction

from apps.common.contracts import Actor, HccFlag
from apps.common.errors import NotFound
from apps.locations.models import ChargeStation, Location, touch_locations
from apps.parties import api as parties_api


@transaction.atomic
def charge_stations_hcc_set(
    *, tenant_id: int, flags: dict[int, HccFlag | None], actor: Actor
) -> list[int]:
    """Set the home-charger flag of many charge stations of this tenant at once (None
    clears it). All or nothing: an id that is not this tenant's station is refused
    (NotFound naming them) and nothing changes. A station already so is left alone
    (idempotent); each changed station gets one audit entry. Returns the ids changed."""
    stations = list(
        ChargeStation.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk__in=set(flags))
        .order_by("pk")
    )
    missing = set(flags) - {s.pk for s in stations}
    if missing:
        raise NotFound(f"no charge station {', '.join(map(str, sorted(missing)))} in this tenant")
    changed = []
    for station in stations:
        flag = flags[station.pk]
        new = "" if flag is None else HccFlag(flag).value
        if station.hcc == new:
            continue
        before = station.hcc
        station.hcc = new
        station.save(update_fields=["hcc", "updated_at"])
        # A home charger's EVSEs are never published: its location's OCPI view changes.
        touch_locations(Location.objects.filter(pk=station.location_id), station.updated_at)
        parties_api.audit(
            tenant_id,
            actor,
            "charge_station.hcc_set",
            "charge_station",
            station.pk,
            before={"hcc": before or None},
            after={"hcc": new or None},
        )
        changed.append(station.pk)
    return changed
