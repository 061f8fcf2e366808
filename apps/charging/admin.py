from django.contrib import admin

from apps.charging.models import Cdr, ChargingSession
from apps.parties.api import AuditedAdmin


@admin.register(ChargingSession)
class ChargingSessionAdmin(AuditedAdmin):
    list_display = [
        "ocpp_transaction_id",
        "charge_station",
        "status",
        "started_at",
        "ended_at",
        "energy_wh",
        "tenant",
    ]
    list_filter = ["status", "tenant"]
    search_fields = ["ocpp_transaction_id", "id_tag"]
    raw_id_fields = ["charge_station", "evse", "connector", "token", "tariff_version"]
    list_select_related = ["charge_station"]


@admin.register(Cdr)
class CdrAdmin(AuditedAdmin):
    """Read-only: a CDR is immutable; corrections are credit CDRs."""

    list_display = [
        "ocpi_id",
        "kind",
        "start_date_time",
        "end_date_time",
        "total_energy_kwh",
        "total_cost_excl_vat",
        "currency",
        "tenant",
    ]
    list_filter = ["kind", "currency", "tenant"]
    search_fields = ["ocpi_id"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
