from __future__ import annotations

from rest_framework import serializers

from apps.integrations.contracts import SUBSCRIBABLE_EVENTS, DeliveryStatus
from restapi.pagination import PageQuery


class WebhookOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookCreatedOut(WebhookOut):
    secret = serializers.CharField(
        help_text="HMAC-SHA256 signing secret, shown this once; see docs/api.md#webhooks"
    )


_URL = serializers.URLField(max_length=500)


class WebhookIn(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="http(s) URL that receives POSTs")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SUBSCRIBABLE_EVENTS)),
        min_length=1,
        max_length=len(SUBSCRIBABLE_EVENTS),
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookPatchIn(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SUBSCRIBABLE_EVENTS)),
        min_length=1,
        max_length=len(SUBSCRIBABLE_EVENTS),
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    subscription_id = serializers.IntegerField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in DeliveryStatus])
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)


class DeliveryListQuery(PageQuery):
    status = serializers.ChoiceField(choices=[s.value for s in DeliveryStatus], required=False)
