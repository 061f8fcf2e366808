from django.contrib import admin

from apps.devices.models import CertificateRequest, DeviceState, DeviceVariable, StationEvent


class _ReadOnly(admin.ModelAdmin):
    """What stations reported: facts, not edited by hand."""

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(StationEvent)
class StationEventAdmin(_ReadOnly):
    list_display = ["received_at", "charge_station", "kind", "action", "status", "protocol"]
    list_filter = ["kind", "protocol", "tenant"]
    search_fields = ["charge_station__identity", "status", "action"]
    list_select_related = ["charge_station"]


@admin.register(DeviceState)
class DeviceStateAdmin(_ReadOnly):
    list_display = [
        "charge_station",
        "firmware_status",
        "firmware_status_at",
        "diagnostics_status",
        "log_status",
        "security_event",
        "security_event_at",
    ]
    search_fields = ["charge_station__identity"]
    list_select_related = ["charge_station"]


@admin.register(DeviceVariable)
class DeviceVariableAdmin(_ReadOnly):
    list_display = [
        "charge_station",
        "component",
        "evse_id",
        "variable",
        "attribute_type",
        "value",
        "mutability",
        "reported_at",
    ]
    list_filter = ["component", "tenant"]
    search_fields = ["charge_station__identity", "component", "variable"]
    list_select_related = ["charge_station"]


@admin.register(CertificateRequest)
class CertificateRequestAdmin(admin.ModelAdmin):
    """An operator marks a request signed or rejected after the CA handled it."""

    list_display = ["received_at", "charge_station", "certificate_type", "status", "protocol"]
    list_filter = ["status", "certificate_type", "tenant"]
    readonly_fields = ["charge_station", "protocol", "certificate_type", "csr", "received_at"]
    fields = ["charge_station", "protocol", "certificate_type", "status", "received_at", "csr"]
    list_select_related = ["charge_station"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
