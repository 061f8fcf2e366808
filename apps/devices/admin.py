from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from apps.common.contracts import Actor
from apps.common.errors import DomainError
from apps.devices import api as devices_api
from apps.devices.models import CertificateRequest, DeviceState, DeviceVariable, StationEvent
from apps.parties.api import AuditedAdmin


def _actor(request: HttpRequest) -> Actor:
    """The signed-in staff user who acts (the admin site lets no one else in)."""
    assert request.user.pk is not None
    return Actor.user(request.user.pk)


class _ReadOnly(AuditedAdmin):
    """What stations reported: facts, not edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
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
class CertificateRequestAdmin(AuditedAdmin):
    """Requests are decided by the configured CA as they arrive (ADR 0014). An operator signs
    the ones that waited for a CA (or were not delivered), rejects one, or sends a signed
    chain again; every decision goes through `apps.devices.api`."""

    list_display = [
        "received_at",
        "charge_station",
        "certificate_type",
        "status",
        "delivery_status",
        "protocol",
    ]
    list_filter = ["status", "delivery_status", "certificate_type", "tenant"]
    readonly_fields = [
        "charge_station",
        "protocol",
        "certificate_type",
        "status",
        "reason",
        "received_at",
        "decided_at",
        "delivery_status",
        "command_id",
        "csr",
        "certificate",
    ]
    fields = list(readonly_fields)
    list_select_related = ["charge_station"]
    actions = ["sign", "send_again", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[CertificateRequest],
        fn: Callable[..., Any],
        **kwargs: Any,
    ) -> int:
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                record = fn(request_id=pk, **kwargs)
            except (DomainError, ImproperlyConfigured) as exc:
                self.message_user(request, f"request {pk}: {exc}", messages.ERROR)
                continue
            done += 1
            self.message_user(
                request,
                f"request {pk}: {record.status} {record.reason} {record.delivery_status}".strip(),
            )
        return done

    @admin.action(description="Sign with the configured CA and send to the station")
    def sign(self, request: HttpRequest, queryset: QuerySet[CertificateRequest]) -> None:
        if not devices_api.certificate_authority_configured():
            self.message_user(
                request,
                "no certificate authority is configured (CSMS_CA_CERT_FILE / CSMS_CA_KEY_FILE)",
                messages.ERROR,
            )
            return
        self._each(
            request,
            queryset,
            devices_api.certificate_request_sign,
            requested_by=f"admin:{request.user.get_username()}",
            actor=_actor(request),
        )

    @admin.action(description="Send the signed certificate again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[CertificateRequest]) -> None:
        self._each(
            request,
            queryset,
            devices_api.certificate_request_send,
            requested_by=f"admin:{request.user.get_username()}",
            actor=_actor(request),
        )

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset: QuerySet[CertificateRequest]) -> None:
        self._each(
            request,
            queryset,
            devices_api.certificate_request_reject,
            reason=f"rejected by {request.user.get_username()}",
            actor=_actor(request),
        )
