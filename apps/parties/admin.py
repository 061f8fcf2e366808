from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apps.parties.admin_audit import AuditedAdmin
from apps.parties.models import Membership, Operator, Party, User


@admin.register(Operator)
class OperatorAdmin(AuditedAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Party)
class PartyAdmin(AuditedAdmin):
    list_display = ["country_code", "party_id", "role", "name", "tenant"]
    list_filter = ["role", "country_code"]
    search_fields = ["name", "party_id"]
    list_select_related = ["tenant"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class PlatformUserAdmin(AuditedAdmin, UserAdmin):
    inlines = [MembershipInline]
