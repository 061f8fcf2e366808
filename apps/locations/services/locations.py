"""Locations, EVSEs and connectors: the seeding upserts (demo, benchmarks) and the OCPI-shaped
provisioning (portal, REST API), each change audited with the caller's actor."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import check_version, upsert, validated_save
from apps.locations import selectors
from apps.locations.contracts import LocationRecord
from apps.locations.models import ChargeStation, Connector, Evse, Location
from apps.locations.services.fields import (
    CONNECTOR_FIELDS,
    EVSE_FIELDS,
    LOCATION_FIELDS,
    assign,
    field_problems,
)
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole


@transaction.atomic
def location_upsert(*, tenant_id: int, party_id: int, ocpi_id: str, **values: object) -> int:
    return upsert(
        Location,
        lookup={"party_id": party_id, "ocpi_id": ocpi_id},
        values={"tenant_id": tenant_id, **values},
    ).pk


@transaction.atomic
def charge_station_upsert(*, tenant_id: int, identity: str, **values: object) -> int:
    return upsert(
        ChargeStation, lookup={"identity": identity}, values={"tenant_id": tenant_id, **values}
    ).pk


@transaction.atomic
def evse_upsert(*, tenant_id: int, uid: str, **values: object) -> int:
    return upsert(Evse, lookup={"tenant_id": tenant_id, "uid": uid}, values=values).pk


@transaction.atomic
def connector_upsert(*, tenant_id: int, evse_id: int, connector_id: str, **values: object) -> int:
    return upsert(
        Connector,
        lookup={"evse_id": evse_id, "connector_id": connector_id},
        values={"tenant_id": tenant_id, **values},
    ).pk


def _evse_tree(
    tenant_id: int, location: Location, evse_data: dict[str, Any], path: str
) -> tuple[Evse, list[Connector], list[Problem]]:
    evse = (
        Evse.objects.select_for_update().filter(tenant_id=tenant_id, uid=evse_data["uid"]).first()
    )
    problems: list[Problem] = []
    if evse is None:
        evse = Evse(tenant_id=tenant_id, uid=evse_data["uid"], location=location)
    elif evse.location_id != location.pk:
        problems.append(Problem(f"{path}.uid", "this EVSE uid belongs to another location"))
    assign(evse, evse_data, EVSE_FIELDS)
    problems += field_problems(evse, path, ["location", "charge_station", "tenant"])
    connectors = []
    seen = set()
    for j, conn in enumerate(evse_data.get("connectors", [])):
        cpath = f"{path}.connectors[{j}]"
        if conn["id"] in seen:
            problems.append(Problem(f"{cpath}.id", "duplicate connector id in this EVSE"))
        seen.add(conn["id"])
        connector = None
        if evse.pk:
            connector = Connector.objects.filter(evse=evse, connector_id=conn["id"]).first()
        if connector is None:
            connector = Connector(tenant_id=tenant_id, connector_id=conn["id"])
        assign(connector, conn, CONNECTOR_FIELDS)
        problems += field_problems(connector, cpath, ["evse", "tenant"])
        connectors.append(connector)
    return evse, connectors, problems


def _save_tree(evse: Evse, connectors: list[Connector], location: Location) -> None:
    evse.location = location
    evse.save()
    for connector in connectors:
        connector.evse = evse
        connector.save()


@transaction.atomic
def location_create(
    *,
    tenant_id: int,
    country_code: str,
    party_id: str,
    ocpi_id: str,
    values: dict[str, Any],
    actor: Actor,
) -> LocationRecord:
    """Create a location with its EVSEs and connectors (OCPI Location), all or nothing."""
    party_pk = parties_api.party_pk_for_tenant(
        tenant_id=tenant_id,
        country_code=country_code,
        party_id=party_id,
        role=PartyRole.CPO,
        path="$.party_id",
        own_only=True,
    )
    if Location.objects.filter(party_id=party_pk, ocpi_id=ocpi_id).exists():
        raise Conflict(f"location {ocpi_id} of {country_code}*{party_id} exists")
    location = Location(tenant_id=tenant_id, party_id=party_pk, ocpi_id=ocpi_id)
    assign(location, values, LOCATION_FIELDS)
    problems = field_problems(location, "$", ["party", "tenant"])
    trees = []
    uids = set()
    for i, evse_data in enumerate(values.get("evses", [])):
        path = f"$.evses[{i}]"
        if evse_data["uid"] in uids:
            problems.append(Problem(f"{path}.uid", "duplicate EVSE uid in this location"))
        uids.add(evse_data["uid"])
        if Evse.objects.filter(tenant_id=tenant_id, uid=evse_data["uid"]).exists():
            problems.append(Problem(f"{path}.uid", "an EVSE with this uid exists"))
            continue
        evse, connectors, evse_problems = _evse_tree(tenant_id, location, evse_data, path)
        problems += evse_problems
        trees.append((evse, connectors))
    if problems:
        raise ValidationFailed("invalid location", problems=tuple(problems))
    location.save()
    for evse, connectors in trees:
        _save_tree(evse, connectors, location)
    parties_api.audit(tenant_id, actor, "location.create", "location", location.pk, after=values)
    return selectors.location_get(tenant_id=tenant_id, location_id=location.pk)


@transaction.atomic
def location_update(
    *,
    tenant_id: int,
    location_id: int,
    if_match: str | None,
    values: dict[str, Any],
    actor: Actor,
) -> LocationRecord:
    location = (
        Location.objects.for_tenant(tenant_id).select_for_update().filter(pk=location_id).first()
    )
    if location is None:
        raise NotFound(f"no location {location_id} in this tenant")
    check_version(location, if_match)
    changed = [f for f in LOCATION_FIELDS if f in values]
    before = {f: getattr(location, f) for f in changed}
    assign(location, values, LOCATION_FIELDS)
    validated_save(location)
    parties_api.audit(
        tenant_id,
        actor,
        "location.update",
        "location",
        location.pk,
        before=before,
        after={f: getattr(location, f) for f in changed},
    )
    return selectors.location_get(tenant_id=tenant_id, location_id=location.pk)


@transaction.atomic
def evse_put(
    *,
    tenant_id: int,
    location_id: int,
    uid: str,
    values: dict[str, Any],
    actor: Actor,
    if_match: str | None = None,
) -> tuple[LocationRecord, bool]:
    """Create or replace one EVSE of a location with its connectors (connectors not named
    stay as they are: OCPI removes equipment by status REMOVED, not by deletion). The EVSE
    is part of its location: `if_match` is the location's version."""
    location = (
        Location.objects.for_tenant(tenant_id).select_for_update().filter(pk=location_id).first()
    )
    if location is None:
        raise NotFound(f"no location {location_id} in this tenant")
    check_version(location, if_match)
    created = not Evse.objects.filter(tenant_id=tenant_id, uid=uid).exists()
    evse, connectors, problems = _evse_tree(tenant_id, location, {**values, "uid": uid}, "$")
    if problems:
        raise ValidationFailed("invalid EVSE", problems=tuple(problems))
    _save_tree(evse, connectors, location)
    now = timezone.now()  # after the EVSE's and connectors' saves: the latest of the tree
    Location.objects.filter(pk=location.pk).update(updated_at=now, last_updated=now)
    parties_api.audit(
        tenant_id,
        actor,
        "evse.create" if created else "evse.update",
        "evse",
        uid,
        after={"location_id": location.pk, **values},
    )
    return selectors.location_get(tenant_id=tenant_id, location_id=location.pk), created
