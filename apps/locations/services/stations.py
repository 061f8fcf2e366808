"""Charge stations: registration and updates (portal, REST API; audited with the actor),
their credentials and security profile, and the certificates the platform issues them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.secrets import generate_secret, hash_secret
from apps.common.services import check_version, validated_save
from apps.locations import selectors
from apps.locations.contracts import ChargeStationRecord, OcppVersion, SecurityProfile
from apps.locations.models import ChargeStation, Evse, Location, touch_locations
from apps.locations.services.fields import STATION_FIELDS, assign
from apps.parties import api as parties_api


@transaction.atomic
def charge_station_reset_password(*, station_id: int) -> str:
    """Give the station a new Basic-auth password; returns it once, stores only its hash."""
    station = ChargeStation.objects.select_for_update().filter(pk=station_id).first()
    if station is None:
        raise NotFound(f"no charge station {station_id}")
    password = generate_secret(24)  # 32 characters, within OCPP's 16..40
    station.password_hash = hash_secret(password)
    station.save(update_fields=["password_hash", "updated_at"])
    return password


@transaction.atomic
def charge_station_set_security_profile(
    *,
    station_id: int,
    profile: SecurityProfile,
    client_cert_fingerprint: str = "",
    actor: Actor | None = None,
) -> None:
    """Raise a station's security profile. Never lowers it: OCPP forbids a downgrade, which
    would let an attacker who can block TLS fall back to an unencrypted connection. With an
    `actor`, audited (`station.security_profile`)."""
    station = ChargeStation.objects.select_for_update().filter(pk=station_id).first()
    if station is None:
        raise NotFound(f"no charge station {station_id}")
    if profile < station.security_profile:
        raise Conflict(
            f"charge station {station.identity}: security profile {station.security_profile} "
            f"cannot be lowered to {int(profile)}"
        )
    if profile == SecurityProfile.TLS_CLIENT_CERT and not (
        client_cert_fingerprint or station.client_cert_fingerprint
    ):
        raise Conflict(
            f"charge station {station.identity}: profile 3 needs a client certificate fingerprint"
        )
    before = {"security_profile": station.security_profile}
    station.security_profile = int(profile)
    if client_cert_fingerprint:
        station.client_cert_fingerprint = client_cert_fingerprint
    station.save(update_fields=["security_profile", "client_cert_fingerprint", "updated_at"])
    if actor is not None:
        parties_api.audit(
            station.tenant_id,
            actor,
            "station.security_profile",
            "charge_station",
            station.pk,
            before=before,
            after={"security_profile": station.security_profile},
        )


def charge_station_certificate_issued(*, station_id: int, fingerprint: str) -> None:
    """The station accepted a client certificate this CSMS issued (CertificateSigned): under
    security profile 3 it may connect with it from now on, next to the pinned one."""
    ChargeStation.objects.filter(pk=station_id).update(
        client_cert_fingerprint_next=fingerprint, updated_at=timezone.now()
    )


def charge_station_certificate_in_use(*, station_id: int, fingerprint: str) -> bool:
    """The station connected with its newly issued certificate: that one becomes the pinned
    fingerprint and the old one is no longer admitted. True if this changed the pin."""
    return bool(
        ChargeStation.objects.filter(pk=station_id, client_cert_fingerprint_next=fingerprint)
        .exclude(client_cert_fingerprint_next="")
        .update(
            client_cert_fingerprint=fingerprint,
            client_cert_fingerprint_next="",
            updated_at=timezone.now(),
        )
    )


@transaction.atomic
def charge_station_set_ocpp_versions(
    *, station_id: int, versions: Sequence[str], actor: Actor | None = None
) -> None:
    """Limit the OCPP versions a station may connect with (empty: any the gateway enables).
    The gateway offers the station its first preference among them at the handshake. With an
    `actor`, audited (`station.ocpp_versions`)."""
    allowed = [v.value for v in OcppVersion]
    unknown = [v for v in versions if v not in allowed]
    if unknown:
        raise ValidationFailed(
            "unknown OCPP version",
            problems=tuple(
                Problem("ocpp_versions", f"{v!r} is not one of {', '.join(allowed)}")
                for v in unknown
            ),
        )
    value = ",".join(v for v in allowed if v in versions)
    station = (
        ChargeStation.objects.select_for_update()
        .filter(pk=station_id)
        .values("tenant_id", "ocpp_versions")
        .first()
    )
    if station is None:
        raise NotFound(f"no charge station {station_id}")
    ChargeStation.objects.filter(pk=station_id).update(ocpp_versions=value)
    if actor is not None:
        parties_api.audit(
            station["tenant_id"],
            actor,
            "station.ocpp_versions",
            "charge_station",
            station_id,
            before={"ocpp_versions": station["ocpp_versions"]},
            after={"ocpp_versions": value},
        )


def _map_evses(
    tenant_id: int, station: ChargeStation, mappings: list[dict[str, Any]]
) -> list[Problem]:
    problems = []
    seen: set[int] = set()
    for i, m in enumerate(mappings):
        path = f"$.evses[{i}]"
        evse = Evse.objects.filter(tenant_id=tenant_id, uid=m["evse_uid"]).first()
        if evse is None:
            problems.append(Problem(f"{path}.evse_uid", f"no EVSE {m['evse_uid']} in this tenant"))
            continue
        if station.location_id is not None and evse.location_id != station.location_id:
            problems.append(Problem(f"{path}.evse_uid", "EVSE is at another location"))
            continue
        if m["ocpp_evse_id"] in seen:
            problems.append(Problem(f"{path}.ocpp_evse_id", "used twice"))
            continue
        seen.add(m["ocpp_evse_id"])
        if evse.charge_station_id not in (None, station.pk):
            problems.append(Problem(f"{path}.evse_uid", "EVSE is mapped to another station"))
            continue
    if problems:
        return problems
    now = timezone.now()
    before = set(Evse.objects.filter(charge_station=station).values_list("location_id", flat=True))
    Evse.objects.filter(charge_station=station).update(
        charge_station=None, ocpp_evse_id=None, updated_at=now
    )
    for m in mappings:
        Evse.objects.filter(tenant_id=tenant_id, uid=m["evse_uid"]).update(
            charge_station=station, ocpp_evse_id=m["ocpp_evse_id"], updated_at=now
        )
    # Which station an EVSE is on decides whether it is published (home chargers): its
    # location's OCPI last_updated moves.
    after = Evse.objects.filter(charge_station=station).values("location_id")
    touch_locations(Location.objects.filter(Q(pk__in=before) | Q(pk__in=after)), now)
    return []


def _location_pk(tenant_id: int, location_id: int | None) -> int | None:
    if location_id is None:
        return None
    if not Location.objects.for_tenant(tenant_id).filter(pk=location_id).exists():
        raise ValidationFailed(
            "invalid charge station",
            problems=(Problem("$.location_id", f"no location {location_id} in this tenant"),),
        )
    return location_id


@transaction.atomic
def charge_station_create(
    *,
    tenant_id: int,
    identity: str,
    location_id: int | None,
    security_profile: SecurityProfile,
    values: dict[str, Any],
    evses: list[dict[str, Any]],
    actor: Actor,
    client_cert_fingerprint: str = "",
) -> tuple[ChargeStationRecord, str | None]:
    """Register a station by its OCPP identity. For security profiles 1 and 2 a Basic-auth
    password is generated and returned once (only its hash is kept)."""
    if ChargeStation.objects.filter(identity=identity).exists():
        raise Conflict(f"the OCPP identity {identity!r} is already registered")
    if security_profile == SecurityProfile.TLS_CLIENT_CERT and not client_cert_fingerprint:
        raise ValidationFailed(
            "invalid charge station",
            problems=(Problem("$.client_cert_fingerprint", "required for security profile 3"),),
        )
    station = ChargeStation(
        tenant_id=tenant_id,
        identity=identity,
        location_id=_location_pk(tenant_id, location_id),
        security_profile=int(security_profile),
        client_cert_fingerprint=client_cert_fingerprint,
    )
    assign(station, values, STATION_FIELDS)
    password = None
    if security_profile != SecurityProfile.TLS_CLIENT_CERT:
        password = generate_secret(24)
        station.password_hash = hash_secret(password)
    validated_save(station)
    problems = _map_evses(tenant_id, station, evses)
    if problems:
        raise ValidationFailed("invalid charge station", problems=tuple(problems))
    record = selectors.charge_station_get(tenant_id=tenant_id, station_id=station.pk)
    parties_api.audit(
        tenant_id, actor, "station.create", "charge_station", station.pk, after=record
    )
    return record, password


@transaction.atomic
def charge_station_update(
    *,
    tenant_id: int,
    station_id: int,
    if_match: str | None,
    values: dict[str, Any],
    actor: Actor,
    evses: list[dict[str, Any]] | None = None,
) -> ChargeStationRecord:
    station = (
        ChargeStation.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk=station_id)
        .first()
    )
    if station is None:
        raise NotFound(f"no charge station {station_id} in this tenant")
    check_version(station, if_match)
    before = selectors.charge_station_get(tenant_id=tenant_id, station_id=station.pk)
    if "location_id" in values:
        station.location_id = _location_pk(tenant_id, values["location_id"])
    if "security_profile" in values:
        charge_station_set_security_profile(
            station_id=station.pk,
            profile=SecurityProfile(values["security_profile"]),
            client_cert_fingerprint=values.get("client_cert_fingerprint", ""),
        )
        station.refresh_from_db(fields=["security_profile", "client_cert_fingerprint"])
    assign(station, values, STATION_FIELDS)
    validated_save(station)
    if evses is not None:
        problems = _map_evses(tenant_id, station, evses)
        if problems:
            raise ValidationFailed("invalid charge station", problems=tuple(problems))
    record = selectors.charge_station_get(tenant_id=tenant_id, station_id=station.pk)
    parties_api.audit(
        tenant_id,
        actor,
        "station.update",
        "charge_station",
        station.pk,
        before=before,
        after=record,
    )
    return record


@transaction.atomic
def charge_station_new_password(*, tenant_id: int, station_id: int, actor: Actor) -> str:
    """A new OCPP Basic-auth password (returned once; the audit entry says only that one
    was set)."""
    if not selectors.charge_station_exists(tenant_id=tenant_id, station_id=station_id):
        raise NotFound(f"no charge station {station_id} in this tenant")
    password = charge_station_reset_password(station_id=station_id)
    parties_api.audit(tenant_id, actor, "station.password_reset", "charge_station", station_id)
    return password
