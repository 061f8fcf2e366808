from typing import Any

from django import forms
from django.contrib import admin

from apps.parties.api import AuditedAdmin
from apps.tokens.models import (
    ChargePortGroup,
    ChargePortGroupStation,
    EmaidGroup,
    EmaidGroupAccess,
    EmaidGroupToken,
    Token,
)


@admin.register(Token)
class TokenAdmin(AuditedAdmin):
    list_display = ["uid", "type", "contract_id", "visual_number", "valid", "whitelist", "tenant"]
    list_filter = ["type", "valid", "whitelist", "tenant"]
    search_fields = ["uid", "contract_id", "visual_number"]


class _SameTenantFormSet(forms.BaseInlineFormSet):
    """Group members belong to the group's tenant (ADR 0015): the row takes the group's
    tenant, and a member of another tenant is refused."""

    member_field = ""

    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            member = form.cleaned_data.get(self.member_field) if form.cleaned_data else None
            if member is not None and member.tenant_id != self.instance.tenant_id:
                form.add_error(self.member_field, "belongs to another tenant than the group")

    def save_new(self, form: Any, commit: bool = True) -> Any:
        form.instance.tenant_id = self.instance.tenant_id
        return super().save_new(form, commit=commit)


def _formset(field: str) -> type[_SameTenantFormSet]:
    return type(f"{field}FormSet", (_SameTenantFormSet,), {"member_field": field})


class ChargePortGroupStationInline(admin.TabularInline):
    model = ChargePortGroupStation
    formset = _formset("charge_station")
    fields = ["charge_station"]
    raw_id_fields = ["charge_station"]
    extra = 0


@admin.register(ChargePortGroup)
class ChargePortGroupAdmin(AuditedAdmin):
    list_display = ["name", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    inlines = [ChargePortGroupStationInline]


class EmaidGroupTokenInline(admin.TabularInline):
    model = EmaidGroupToken
    formset = _formset("token")
    fields = ["token"]
    raw_id_fields = ["token"]
    extra = 0


class EmaidGroupAccessInline(admin.TabularInline):
    model = EmaidGroupAccess
    formset = _formset("charge_port_group")
    fields = ["charge_port_group"]
    extra = 0
    verbose_name = "assigned charge-port group"


@admin.register(EmaidGroup)
class EmaidGroupAdmin(AuditedAdmin):
    list_display = ["name", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    inlines = [EmaidGroupTokenInline, EmaidGroupAccessInline]
