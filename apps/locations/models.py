"""Locations, EVSEs and connectors in OCPI 2.2.1 shape; charge stations by OCPP identity."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Coalesce, Greatest, Now
from django.utils import timezone

from apps.common.contracts import HccFlag
from apps.common.models import TenantOwnedModel, choices, in_enum
from apps.locations.contracts import (
    CommandKind,
    CommandStatus,
    ConnectionEventKind,
    Connectivity,
    ConnectorFormat,
    ConnectorStandard,
    EvseStatus,
    OcppVersion,
    ParkingType,
    PowerType,
    SecurityProfile,
)

ocpi_id_validator = RegexValidator(r"^[\x21-\x7e]{1,36}$", "1 to 36 printable ASCII characters.")
country3_validator = RegexValidator(r"^[A-Z]{3}$", "An ISO 3166-1 alpha-3 code, e.g. NLD.")
# OCPP identities appear in the websocket URL path; OCPP 2.0.1 limits them to 48 characters
# and forbids ':' (Basic auth) and URL-reserved characters.
identity_validator = RegexValidator(
    r"^[A-Za-z0-9*\-_.=+|@]{1,48}$",
    "1 to 48 characters: letters, digits and * - _ . = + | @ (OCPP 2.0.1 identityString).",
)


def validate_ocpp_versions(value: str) -> None:
    """Comma-separated OCPP versions, e.g. `1.6,2.0.1`; empty: any the gateway enables."""
    allowed = {v.value for v in OcppVersion}
    unknown = [v for v in value.split(",") if v and v not in allowed]
    if unknown:
        raise ValidationError(
            f"unknown OCPP version(s) {', '.join(unknown)}: use {', '.join(sorted(allowed))}."
        )


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"{value!r} is not an IANA time zone, e.g. Europe/Amsterdam."
        ) from exc


class Location(TenantOwnedModel):
    """A place with EVSEs. Several locations may share one address (no uniqueness on it)."""

    party = models.ForeignKey("parties.Party", on_delete=models.PROTECT, related_name="+")
    ocpi_id = models.CharField(max_length=36, validators=[ocpi_id_validator])
    name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=45)
    city = models.CharField(max_length=45)
    postal_code = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=3, validators=[country3_validator])
    # OCPI GeoLocation: decimal degrees, up to 7 decimals.
    latitude = models.DecimalField(max_digits=10, decimal_places=7)
    longitude = models.DecimalField(max_digits=10, decimal_places=7)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    parking_type = models.CharField(max_length=20, choices=choices(ParkingType), blank=True)
    publish = models.BooleanField(default=True)
    opening_times = models.JSONField(null=True, blank=True)
    charging_when_closed = models.BooleanField(default=True)
    # OCPI Location.last_updated: the latest change of the location, its EVSEs (their status
    # included) and their connectors. Kept by the locations app's writes (`touch_locations`;
    # the saves below), never lowered; what the partners' pulls page by and filter on. The
    # database default serves rows inserted in plain SQL (bulk loads, the benches' builders).
    last_updated = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The OCPI sender list: a tenant's published locations in (last_updated, id)
            # order, [date_from, date_to), keyset pages and their count.
            models.Index(
                fields=["tenant", "last_updated", "id"],
                condition=models.Q(publish=True),
                name="location_ocpi_page",
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["party", "ocpi_id"], name="location_ocpi_id_unique"),
            models.CheckConstraint(
                condition=models.Q(latitude__gte=-90, latitude__lte=90)
                & models.Q(longitude__gte=-180, longitude__lte=180),
                name="location_coordinates_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.ocpi_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        touch_locations(Location.objects.filter(pk=self.pk), self.updated_at)


class ChargeStation(TenantOwnedModel):
    """A charge point as OCPP knows it: one websocket identity with one or more EVSEs."""

    identity = models.CharField(max_length=48, unique=True, validators=[identity_validator])
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="stations"
    )
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    ocpp_version = models.CharField(max_length=8, choices=choices(OcppVersion), blank=True)
    # The OCPP versions this station may connect with (comma-separated, e.g. "1.6,2.0.1");
    # empty: any version the gateway enables. The station's first preference among them wins.
    ocpp_versions = models.CharField(max_length=24, blank=True, validators=[validate_ocpp_versions])
    security_profile = models.PositiveSmallIntegerField(
        choices=[(p.value, p.name) for p in SecurityProfile], default=SecurityProfile.BASIC.value
    )
    # Salted SHA-256 of the Basic-auth password (apps.common.secrets); never the password.
    password_hash = models.CharField(max_length=128, blank=True)
    # SHA-256 fingerprint of the client certificate bound to this station (profile 3).
    client_cert_fingerprint = models.CharField(max_length=95, blank=True)
    # A certificate this CSMS issued to the station (SignCertificate -> CertificateSigned,
    # accepted): profile 3 also admits it, and the first connection that presents it makes it
    # the pinned one (ADR 0014). Empty: none pending.
    client_cert_fingerprint_next = models.CharField(max_length=95, blank=True)
    enabled = models.BooleanField(default=True)
    # Roaming active: tokens the tenant received from other eMSPs may charge here
    # (docs/glossary.md "Access control", ADR 0015).
    roaming = models.BooleanField(default=True)
    # A home charger (BILLING.md section 3): HCC_E excludes VAT from the owner's
    # reimbursement, HCC_V includes it; empty: not a home charger. Stamped on its CDRs.
    hcc = models.CharField(
        max_length=8, choices=choices(HccFlag), blank=True, default="", db_default=""
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)
    connectivity = models.CharField(
        max_length=8, choices=choices(Connectivity), default=Connectivity.UNKNOWN.value
    )
    last_boot_at = models.DateTimeField(null=True, blank=True)
    # The connection the station is known by: which gateway node holds it, since when. A
    # close of another (older) connection does not mark the station offline.
    gateway_node = models.CharField(max_length=64, blank=True)
    connection_id = models.CharField(max_length=32, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["identity"]
        indexes = [
            # A tenant's home chargers (never published): read for every OCPI locations page
            models.Index(fields=["tenant"], condition=~models.Q(hcc=""), name="station_home")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(security_profile__in=[p.value for p in SecurityProfile]),
                name="station_security_profile_valid",
            ),
            models.CheckConstraint(
                condition=in_enum("connectivity", Connectivity), name="station_connectivity_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.identity


class Evse(TenantOwnedModel):
    """OCPI EVSE. `uid` is the CPO's unique id; `evse_id` the eMI3 id printed on the EVSE."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="evses")
    charge_station = models.ForeignKey(
        ChargeStation, on_delete=models.PROTECT, null=True, blank=True, related_name="evses"
    )
    # OCPP 2.0.1 evseId (1-based) on the station; for OCPP 1.x stations it equals the
    # connectorId of the EVSE's single connector.
    ocpp_evse_id = models.PositiveIntegerField(null=True, blank=True)
    uid = models.CharField(max_length=36, validators=[ocpi_id_validator])
    evse_id = models.CharField(max_length=48, blank=True)
    status = models.CharField(
        max_length=12, choices=choices(EvseStatus), default=EvseStatus.UNKNOWN.value
    )
    capabilities = models.JSONField(default=list, blank=True)
    floor_level = models.CharField(max_length=4, blank=True)
    physical_reference = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["location_id", "uid"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "uid"], name="evse_uid_unique"),
            models.UniqueConstraint(
                fields=["charge_station", "ocpp_evse_id"],
                condition=models.Q(charge_station__isnull=False, ocpp_evse_id__isnull=False),
                name="evse_ocpp_id_unique_per_station",
            ),
            models.CheckConstraint(
                condition=in_enum("status", EvseStatus), name="evse_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.evse_id or self.uid

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        touch_locations(Location.objects.filter(pk=self.location_id), self.updated_at)


class Connector(TenantOwnedModel):
    evse = models.ForeignKey(Evse, on_delete=models.PROTECT, related_name="connectors")
    connector_id = models.CharField(max_length=36, validators=[ocpi_id_validator])
    standard = models.CharField(max_length=24, choices=choices(ConnectorStandard))
    format = models.CharField(max_length=6, choices=choices(ConnectorFormat))
    power_type = models.CharField(max_length=16, choices=choices(PowerType))
    max_voltage = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    max_amperage = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    max_electric_power = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["evse_id", "connector_id"]
        constraints = [
            models.UniqueConstraint(fields=["evse", "connector_id"], name="connector_id_unique"),
            models.CheckConstraint(
                condition=in_enum("standard", ConnectorStandard), name="connector_standard_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("format", ConnectorFormat), name="connector_format_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("power_type", PowerType), name="connector_power_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evse} #{self.connector_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        touch_locations(
            Location.objects.filter(pk__in=Evse.objects.filter(pk=self.evse_id).values("location")),
            self.updated_at,
        )


def tree_last_updated() -> Any:
    """The OCPI last_updated of a location computed from its rows (an expression over
    Location): the latest `updated_at` of the location, its EVSEs and their connectors."""
    evse_lu = (
        Evse.objects.filter(location=models.OuterRef("pk"))
        .order_by()
        .values("location")
        .annotate(m=models.Max("updated_at"))
        .values("m")
    )
    connector_lu = (
        Connector.objects.filter(evse__location=models.OuterRef("pk"))
        .order_by()
        .values("evse__location")
        .annotate(m=models.Max("updated_at"))
        .values("m")
    )
    return Greatest(
        "updated_at",
        Coalesce(models.Subquery(evse_lu), "updated_at"),
        Coalesce(models.Subquery(connector_lu), "updated_at"),
    )


def refresh_last_updated(locations: models.QuerySet[Location]) -> int:
    """Recompute the stored `last_updated` of these locations from their rows (a repair,
    and what the migration that added it did); lowers it too."""
    return locations.update(last_updated=tree_last_updated())


def touch_locations(locations: models.QuerySet[Location], at: Any) -> int:
    """Raise the `last_updated` of these locations to `at` (never lower it): one UPDATE.
    Every write of a location, EVSE or connector calls it with the instant it wrote."""
    return locations.filter(last_updated__lt=at).update(last_updated=at)


class StationConnectionEvent(TenantOwnedModel):
    """Connect / disconnect history of a station's websocket (what the "unstable" badge and
    the portal's connectivity view read). Written in batches by the gateway nodes."""

    charge_station = models.ForeignKey(
        ChargeStation, on_delete=models.PROTECT, related_name="connection_events"
    )
    kind = models.CharField(max_length=12, choices=choices(ConnectionEventKind))
    at = models.DateTimeField()
    node = models.CharField(max_length=64, blank=True)
    connection_id = models.CharField(max_length=32, blank=True)
    protocol = models.CharField(max_length=8, blank=True)
    close_code = models.PositiveIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=123, blank=True)  # a websocket close reason's limit

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["charge_station", "at"], name="station_conn_event_at")]
        constraints = [
            models.CheckConstraint(
                condition=in_enum("kind", ConnectionEventKind), name="station_conn_event_kind"
            )
        ]


class RemoteCommand(TenantOwnedModel):
    """One remote command sent (or attempted) to a station, and what became of it: the audit
    trail the portal shows. Written before the command leaves, completed with the answer."""

    charge_station = models.ForeignKey(
        ChargeStation, on_delete=models.PROTECT, related_name="commands"
    )
    relay_id = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=32, choices=choices(CommandKind))
    request = models.JSONField()  # the protocol-neutral command (contracts.to_json)
    requested_by = models.CharField(max_length=150, blank=True)  # "api-key:<id>", "user:<id>"
    requested_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=choices(CommandStatus), default=CommandStatus.PENDING.value
    )
    station_status = models.CharField(max_length=50, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(null=True, blank=True)  # the parsed answer (contracts.to_json)
    protocol = models.CharField(max_length=8, blank=True)
    gateway_node = models.CharField(max_length=64, blank=True)
    ocpp_action = models.CharField(max_length=50, blank=True)
    ocpp_request = models.JSONField(null=True, blank=True)  # the payload as sent
    response = models.JSONField(null=True, blank=True)  # the station's payload as received
    answered_at = models.DateTimeField(null=True, blank=True)
    # 2.0.1 requestId of UpdateFirmware / GetLog: what later status notifications name.
    request_id = models.IntegerField(null=True, blank=True)
    progress = models.JSONField(default=list, blank=True)  # [{"status": .., "at": ..}, ...]

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["charge_station", "requested_at"], name="remote_command_at"),
            models.Index(
                fields=["charge_station", "kind", "request_id"], name="remote_command_req"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=in_enum("status", CommandStatus), name="remote_command_status_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("kind", CommandKind), name="remote_command_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status}"
