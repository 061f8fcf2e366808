"""Admin. API keys are managed in the portal (API keys page); here too, shown once."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.utils import timezone

from apps.common.contracts import Actor
from apps.integrations import services
from apps.integrations.models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookSubscription
from apps.parties.api import AuditedAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdmin):
    list_display = ["name", "tenant", "key_id", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    fields = ["tenant", "name", "scopes", "rate_limit_per_minute"]
    actions = ["revoke"]

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: Any, obj: ApiKey, form: Any, change: bool) -> None:
        ref, key = services.api_key_create(
            tenant_id=obj.tenant_id,
            name=obj.name,
            scopes=obj.scopes,
            rate_limit_per_minute=obj.rate_limit_per_minute,
            actor=Actor.user(request.user.pk),
        )
        obj.pk = ref.id
        self.message_user(
            request,
            f"API key created. Copy it now, it is not shown again: {key}",
            level=messages.WARNING,
        )

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: Any, queryset: Any) -> None:
        for key in queryset:
            services.api_key_revoke(
                tenant_id=key.tenant_id,
                api_key_id=key.pk,
                now=timezone.now(),
                actor=Actor.user(request.user.pk),
            )


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(AuditedAdmin):
    """Read and switch on/off only: subscriptions are made and re-targeted through the REST
    API (the service checks the URL, ADR 0017, and creates the signing secret)."""

    list_display = ["url", "tenant", "is_active", "created_at"]
    exclude = ["secret_encrypted"]
    readonly_fields = ["tenant", "url", "events", "description"]

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AuditedAdmin):
    list_display = ["event_type", "subscription", "status", "attempts", "last_status_code"]
    list_filter = ["status", "event_type"]


admin.site.register(WebhookAttempt)
