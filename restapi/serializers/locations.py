from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.locations.contracts import (
    CommandType,
    ConnectionEventKind,
    Connectivity,
    ConnectorFormat,
    ConnectorStandard,
    EvseStatus,
    OcppVersion,
    ParkingType,
    PowerType,
)
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, UpdatedSinceQuery, array_of

_LAT = r"^-?[0-9]{1,2}\.[0-9]{5,7}$"
_LON = r"^-?[0-9]{1,3}\.[0-9]{5,7}$"
OCPI_ID = r"^[\x21-\x7e]{1,36}$"  # printable ASCII without space, as the models check
_OCPI_ID = OCPI_ID


class GeoLocation(serializers.Serializer):
    """OCPI GeoLocation: decimal degrees as strings, 5 to 7 decimals."""

    latitude = serializers.RegexField(_LAT)
    longitude = serializers.RegexField(_LON)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = {}
        if not -90 <= Decimal(attrs["latitude"]) <= 90:
            errors["latitude"] = ["must be between -90 and 90"]
        if not -180 <= Decimal(attrs["longitude"]) <= 180:
            errors["longitude"] = ["must be between -180 and 180"]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ConnectorIO(serializers.Serializer):
    """OCPI 2.2.1 Connector."""

    id = serializers.RegexField(_OCPI_ID)
    standard = serializers.ChoiceField(choices=[c.value for c in ConnectorStandard])
    format = serializers.ChoiceField(choices=[c.value for c in ConnectorFormat])
    power_type = serializers.ChoiceField(choices=[p.value for p in PowerType])
    max_voltage = serializers.IntegerField(min_value=1, max_value=2_000_000)
    max_amperage = serializers.IntegerField(min_value=1, max_value=2_000_000)
    max_electric_power = serializers.IntegerField(
        min_value=0, max_value=2_000_000_000, required=False, allow_null=True
    )


class ConnectorOut(ConnectorIO):
    # Any stored id as it is (no input pattern in the output's schema); a declared field
    # replaces the parent's whatever its class, which the type checker cannot know.
    id = serializers.CharField()  # type: ignore[assignment]
    last_updated = serializers.DateTimeField()


class _EvseFields(serializers.Serializer):
    evse_id = serializers.CharField(max_length=48, required=False, allow_blank=True)
    status = serializers.ChoiceField(
        choices=[s.value for s in EvseStatus], required=False, default=EvseStatus.UNKNOWN.value
    )
    capabilities = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=20
    )
    floor_level = serializers.CharField(max_length=4, required=False, allow_blank=True)
    physical_reference = serializers.CharField(max_length=16, required=False, allow_blank=True)
    connectors = array_of(ConnectorIO, min_length=1, max_length=20)


class EvseIn(_EvseFields):
    """OCPI 2.2.1 EVSE."""

    uid = serializers.RegexField(_OCPI_ID)


class EvsePutIn(_EvseFields):
    pass


class EvseOut(serializers.Serializer):
    uid = serializers.CharField()
    evse_id = serializers.CharField()
    status = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())
    floor_level = serializers.CharField()
    physical_reference = serializers.CharField()
    charge_station_id = serializers.IntegerField(allow_null=True)
    ocpp_evse_id = serializers.IntegerField(allow_null=True)
    connectors = ConnectorOut(many=True)
    last_updated = serializers.DateTimeField()


class RegularHours(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=1, max_value=7)
    period_begin = serializers.RegexField(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")
    period_end = serializers.RegexField(r"^([0-1][0-9]|2[0-4]):[0-5][0-9]$")


class ExceptionalPeriod(serializers.Serializer):
    period_begin = serializers.DateTimeField()
    period_end = serializers.DateTimeField()


class Hours(serializers.Serializer):
    """OCPI 2.2.1 Hours."""

    twentyfourseven = serializers.BooleanField()
    regular_hours = array_of(RegularHours, required=False, max_length=50)
    exceptional_openings = array_of(ExceptionalPeriod, required=False, max_length=50)
    exceptional_closings = array_of(ExceptionalPeriod, required=False, max_length=50)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        # Stored as JSON: datetimes as OCPI strings.
        for key in ("exceptional_openings", "exceptional_closings"):
            if key in value:
                value[key] = [
                    {k: v.isoformat().replace("+00:00", "Z") for k, v in period.items()}
                    for period in value[key]
                ]
        if "regular_hours" in value:
            value["regular_hours"] = [dict(h) for h in value["regular_hours"]]
        return dict(value)


class _LocationFields(serializers.Serializer):
    publish = serializers.BooleanField(required=False)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=10, required=False, allow_blank=True)
    state = serializers.CharField(max_length=20, required=False, allow_blank=True)
    parking_type = serializers.ChoiceField(
        choices=[p.value for p in ParkingType], required=False, allow_blank=True
    )
    opening_times = Hours(required=False, allow_null=True)
    charging_when_closed = serializers.BooleanField(required=False)


class LocationIn(_LocationFields):
    """OCPI 2.2.1 Location with its EVSEs and connectors."""

    country_code = serializers.CharField(min_length=2, max_length=2)
    party_id = serializers.CharField(min_length=3, max_length=3)
    id = serializers.RegexField(_OCPI_ID)
    address = serializers.CharField(max_length=45)
    city = serializers.CharField(max_length=45)
    country = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 3166-1 alpha-3")
    coordinates = GeoLocation()
    time_zone = serializers.CharField(max_length=64, help_text="IANA, e.g. Europe/Amsterdam")
    evses = array_of(EvseIn, required=False, max_length=200)


class LocationPatchIn(_LocationFields):
    address = serializers.CharField(max_length=45, required=False)
    city = serializers.CharField(max_length=45, required=False)
    country = serializers.RegexField(r"^[A-Z]{3}$", required=False)
    coordinates = GeoLocation(required=False)
    time_zone = serializers.CharField(max_length=64, required=False)


class LocationOut(serializers.Serializer):
    platform_id = serializers.IntegerField()
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    id = serializers.CharField()
    publish = serializers.BooleanField()
    name = serializers.CharField()
    address = serializers.CharField()
    city = serializers.CharField()
    postal_code = serializers.CharField()
    state = serializers.CharField()
    country = serializers.CharField()
    coordinates = serializers.SerializerMethodField()
    time_zone = serializers.CharField()
    parking_type = serializers.ChoiceField(
        choices=[p.value for p in ParkingType], required=False, help_text="absent when not set"
    )
    opening_times = serializers.JSONField(allow_null=True, help_text="OCPI Hours")
    charging_when_closed = serializers.BooleanField()
    evses = EvseOut(many=True)
    last_updated = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data.get("parking_type") == "":
            del data["parking_type"]  # optional in OCPI, and "" is not a ParkingType
        return data

    @extend_schema_field(GeoLocation)
    def get_coordinates(self, obj: Any) -> dict[str, str]:
        return {"latitude": f"{obj.latitude:.7f}", "longitude": f"{obj.longitude:.7f}"}


class LocationListQuery(PageQuery, UpdatedSinceQuery):
    country_code = serializers.CharField(required=False, max_length=2)
    party_id = serializers.CharField(required=False, max_length=3)


class EvseMappingIO(serializers.Serializer):
    evse_uid = serializers.RegexField(_OCPI_ID)
    ocpp_evse_id = serializers.IntegerField(min_value=1, max_value=1000)


class ChargeStationOut(serializers.Serializer):
    id = serializers.IntegerField()
    identity = serializers.CharField(help_text="OCPP identity (the websocket URL's last part)")
    location_id = serializers.IntegerField(allow_null=True, help_text="location platform_id")
    vendor = serializers.CharField()
    model = serializers.CharField()
    serial_number = serializers.CharField()
    firmware_version = serializers.CharField()
    ocpp_version = serializers.CharField()
    security_profile = serializers.IntegerField()
    enabled = serializers.BooleanField()
    connectivity = serializers.ChoiceField(choices=[c.value for c in Connectivity])
    unstable = serializers.BooleanField(
        help_text="connected more than STATION_UNSTABLE_CONNECTS times within the last "
        "STATION_UNSTABLE_WINDOW_SECONDS (default: 5 in an hour)"
    )
    last_seen_at = serializers.DateTimeField(allow_null=True)
    evses = EvseMappingIO(many=True)
    last_updated = serializers.DateTimeField()


class ChargeStationCreatedOut(ChargeStationOut):
    password = serializers.CharField(
        allow_null=True,
        help_text="OCPP Basic-auth password, shown this once (null for security profile 3)",
    )


class _StationFields(serializers.Serializer):
    location_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    client_cert_fingerprint = serializers.RegexField(
        r"^[0-9A-Fa-f:]{64,95}$", required=False, allow_blank=True
    )
    vendor = serializers.CharField(max_length=50, required=False, allow_blank=True)
    model = serializers.CharField(max_length=50, required=False, allow_blank=True)
    serial_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    firmware_version = serializers.CharField(max_length=50, required=False, allow_blank=True)
    ocpp_version = serializers.ChoiceField(
        choices=[v.value for v in OcppVersion], required=False, allow_blank=True
    )
    enabled = serializers.BooleanField(required=False)
    evses = array_of(EvseMappingIO, required=False, max_length=100)


class ChargeStationIn(_StationFields):
    identity = serializers.RegexField(r"^[A-Za-z0-9*\-_.=+|@]{1,48}$")
    security_profile = serializers.ChoiceField(choices=[1, 2, 3], required=False, default=1)


class ChargeStationPatchIn(_StationFields):
    security_profile = serializers.ChoiceField(
        choices=[1, 2, 3], required=False, help_text="may be raised, never lowered"
    )


class ChargeStationListQuery(PageQuery):
    location_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    identity = serializers.CharField(required=False, max_length=48)


class PasswordOut(serializers.Serializer):
    password = serializers.CharField(help_text="the new Basic-auth password, shown this once")


class CommandIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=[c.value for c in CommandType])
    evse_uid = serializers.CharField(max_length=36, required=False)
    connector_id = serializers.CharField(max_length=36, required=False)
    token_uid = serializers.CharField(max_length=36, required=False, help_text="START_SESSION")
    session_id = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="STOP_SESSION"
    )
    reset_type = serializers.ChoiceField(choices=["SOFT", "HARD"], required=False)
    availability = serializers.ChoiceField(
        choices=["OPERATIVE", "INOPERATIVE"], required=False, help_text="CHANGE_AVAILABILITY"
    )


class CommandOut(serializers.Serializer):
    id = serializers.CharField(help_text="the command's id in the station's command log")
    type = serializers.CharField()
    result = serializers.ChoiceField(
        choices=[
            "ACCEPTED",
            "CANCELED_RESERVATION",
            "EVSE_OCCUPIED",
            "EVSE_INOPERATIVE",
            "FAILED",
            "NOT_SUPPORTED",
            "OFFLINE",
            "REJECTED",
            "TIMEOUT",
            "UNKNOWN_RESERVATION",
        ],
        help_text="OCPI CommandResultType, plus OFFLINE: the station is not connected to any "
        "gateway node, nothing was sent",
    )
    message = serializers.CharField(allow_blank=True)


class CommandLogOut(serializers.Serializer):
    """One command of a station's command log (what was sent, by whom, what came back)."""

    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="REMOTE_START, RESET, SET_CHARGING_PROFILE, ...")
    status = serializers.CharField(
        help_text="PENDING, ACCEPTED, REJECTED, NOT_SUPPORTED, FAILED, OFFLINE, TIMEOUT"
    )
    station_status = serializers.CharField(
        allow_blank=True, help_text="the station's own word (Scheduled, Unlocked, ...)"
    )
    message = serializers.CharField(allow_blank=True)
    request = serializers.JSONField(help_text="the command, protocol-neutral")
    # A field named like the Serializer property: DRF's metaclass takes declared fields off
    # the class, so the property stays (the stubs cannot know).
    data = serializers.JSONField(  # type: ignore[assignment]
        allow_null=True, help_text="the parsed answer, if any"
    )
    ocpp_action = serializers.CharField(allow_blank=True)
    ocpp_request = serializers.JSONField(allow_null=True, help_text="the payload as sent")
    response = serializers.JSONField(allow_null=True, help_text="the station's payload")
    protocol = serializers.CharField(allow_blank=True)
    gateway_node = serializers.CharField(allow_blank=True)
    requested_by = serializers.CharField(allow_blank=True)
    requested_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    progress = serializers.ListField(
        child=serializers.DictField(),
        help_text="later status notifications: firmware (Downloading, ..., Installed), logs",
    )


class ConnectionEventOut(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[k.value for k in ConnectionEventKind],
        help_text="CONNECTED / DISCONNECTED: the websocket opened / closed; BOOTED: a "
        "BootNotification on the open connection",
    )
    at = serializers.DateTimeField()
    node = serializers.CharField(allow_blank=True, help_text="the gateway node")
    protocol = serializers.CharField(allow_blank=True)
    close_code = serializers.IntegerField(allow_null=True, help_text="websocket close code")
    reason = serializers.CharField(allow_blank=True)


class ConnectivityOut(serializers.Serializer):
    station_id = serializers.IntegerField()
    identity = serializers.CharField()
    connectivity = serializers.ChoiceField(choices=[c.value for c in Connectivity])
    last_seen_at = serializers.DateTimeField(allow_null=True)
    connected_at = serializers.DateTimeField(allow_null=True)
    gateway_node = serializers.CharField(allow_blank=True)
    unstable = serializers.BooleanField()
    connects_in_window = serializers.IntegerField()
    window_seconds = serializers.IntegerField()
    unstable_threshold = serializers.IntegerField(
        help_text="unstable when connects_in_window is above this"
    )
    history = ConnectionEventOut(many=True, help_text="newest first, at most 50")
