from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from apps.parties.api import AuditedAdmin
from apps.tariffs.models import Tariff, TariffAssignment, TariffCode, TariffVersion


class TariffVersionInline(admin.TabularInline):
    model = TariffVersion
    extra = 0
    fields = ("version", "effective_from", "ocpi", "created_by")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Tariff)
class TariffAdmin(AuditedAdmin):
    list_display = ["ocpi_id", "name", "currency", "type", "party", "tenant"]
    list_filter = ["currency", "tenant"]
    search_fields = ["ocpi_id", "name"]
    inlines = [TariffVersionInline]


@admin.register(TariffCode)
class TariffCodeAdmin(AuditedAdmin):
    list_display = ["code", "description", "tariff", "tenant"]
    search_fields = ["code"]


@admin.register(TariffAssignment)
class TariffAssignmentAdmin(AuditedAdmin):
    list_display = ["charge_station", "connector", "tariff_code", "effective_from"]
    raw_id_fields = ["charge_station", "connector"]
