from django.contrib import admin

from apps.locations.models import (
    ChargeStation,
    Connector,
    Evse,
    Location,
    RemoteCommand,
    StationConnectionEvent,
)
from apps.parties.api import AuditedAdmin


class EvseInline(admin.TabularInline):
    model = Evse
    extra = 0
    fields = ["uid", "evse_id", "charge_station", "ocpp_evse_id", "status"]
    show_change_link = True


@admin.register(Location)
class LocationAdmin(AuditedAdmin):
    list_display = ["name", "ocpi_id", "address", "city", "country", "time_zone", "tenant"]
    list_filter = ["country", "tenant"]
    search_fields = ["name", "ocpi_id", "address", "city"]
    inlines = [EvseInline]


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0


@admin.register(Evse)
class EvseAdmin(AuditedAdmin):
    list_display = ["uid", "evse_id", "location", "charge_station", "status"]
    search_fields = ["uid", "evse_id"]
    list_select_related = ["location", "charge_station"]
    inlines = [ConnectorInline]


@admin.register(ChargeStation)
class ChargeStationAdmin(AuditedAdmin):
    list_display = [
        "identity",
        "vendor",
        "model",
        "ocpp_version",
        "ocpp_versions",
        "security_profile",
        "connectivity",
        "last_seen_at",
        "tenant",
    ]
    list_filter = ["ocpp_version", "security_profile", "connectivity", "roaming", "tenant"]
    search_fields = ["identity", "serial_number", "vendor", "model"]
    readonly_fields = ["password_hash", "last_seen_at", "last_boot_at"]


@admin.register(Connector)
class ConnectorAdmin(AuditedAdmin):
    list_display = ["__str__", "standard", "format", "power_type", "max_electric_power"]
    list_select_related = ["evse"]


@admin.register(RemoteCommand)
class RemoteCommandAdmin(AuditedAdmin):
    """The command log, read-only (commands are sent from the portal or the API)."""

    list_display = ["requested_at", "charge_station", "kind", "status", "station_status"]
    list_filter = ["status", "kind", "tenant"]
    search_fields = ["charge_station__identity", "requested_by"]
    list_select_related = ["charge_station"]
    raw_id_fields = ["charge_station"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(StationConnectionEvent)
class StationConnectionEventAdmin(AuditedAdmin):
    list_display = ["at", "charge_station", "kind", "node", "protocol", "close_code"]
    list_filter = ["kind", "tenant"]
    search_fields = ["charge_station__identity", "node"]
    list_select_related = ["charge_station"]
    raw_id_fields = ["charge_station"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
