from django.contrib import admin

from apps.customers.models import Contract, Customer
from apps.parties.api import AuditedAdmin


class ContractInline(admin.TabularInline):
    model = Contract
    extra = 0
    raw_id_fields = ["token"]


@admin.register(Customer)
class CustomerAdmin(AuditedAdmin):
    list_display = ["name", "kind", "email", "external_ref", "tenant"]
    list_filter = ["kind", "tenant"]
    search_fields = ["name", "email", "external_ref"]
    inlines = [ContractInline]
