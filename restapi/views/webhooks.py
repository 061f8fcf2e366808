from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.integrations import api as integrations_api
from restapi.base import ApiView, with_etag
from restapi.idempotency import idempotent
from restapi.pagination import PageQuery, page_of, paginate
from restapi.serializers import webhooks as s

_SUB_ID = OpenApiParameter("webhook_id", int, OpenApiParameter.PATH)
_TAGS = ["webhooks"]


class WebhookListView(ApiView):
    scope_resource = "webhooks"

    @extend_schema(
        tags=_TAGS,
        operation_id="webhooks_list",
        parameters=[PageQuery],
        responses=page_of(s.WebhookOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(PageQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: integrations_api.webhook_subscription_list(
                tenant_id=self.tenant_id, **page
            ),
            key=lambda r: r.id,
            item=s.WebhookOut,
        )
        return Response(body, headers=headers)


class WebhookCreateView(ApiView):
    scope_resource = "webhooks"

    @extend_schema(
        tags=_TAGS,
        operation_id="webhooks_create",
        request=s.WebhookIn,
        responses={201: s.WebhookCreatedOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.WebhookIn)
        sub_id, secret = integrations_api.webhook_subscription_create(
            tenant_id=self.tenant_id, actor=self.actor, **data
        )
        record = integrations_api.webhook_subscription_get(
            tenant_id=self.tenant_id, subscription_id=sub_id
        )
        out = {**s.WebhookOut(record).data, "secret": secret}
        return with_etag(Response(out, status=201), record.etag)


class WebhookCollection(WebhookListView, WebhookCreateView):
    pass


class WebhookGetView(ApiView):
    scope_resource = "webhooks"

    @extend_schema(
        tags=_TAGS, operation_id="webhooks_get", parameters=[_SUB_ID], responses=s.WebhookOut
    )
    def get(self, request: Request, webhook_id: int) -> Response:
        record = integrations_api.webhook_subscription_get(
            tenant_id=self.tenant_id, subscription_id=webhook_id
        )
        return with_etag(Response(s.WebhookOut(record).data), record.etag)


class WebhookPatchView(ApiView):
    scope_resource = "webhooks"

    @extend_schema(
        tags=_TAGS,
        operation_id="webhooks_update",
        parameters=[_SUB_ID],
        request=s.WebhookPatchIn,
        responses=s.WebhookOut,
    )
    def patch(self, request: Request, webhook_id: int) -> Response:
        values = self.body(s.WebhookPatchIn)
        integrations_api.webhook_subscription_update(
            tenant_id=self.tenant_id,
            subscription_id=webhook_id,
            if_match=self.if_match(),
            actor=self.actor,
            **values,
        )
        record = integrations_api.webhook_subscription_get(
            tenant_id=self.tenant_id, subscription_id=webhook_id
        )
        return with_etag(Response(s.WebhookOut(record).data), record.etag)


class WebhookDeleteView(ApiView):
    scope_resource = "webhooks"

    @extend_schema(
        tags=_TAGS,
        operation_id="webhooks_delete",
        parameters=[_SUB_ID],
        responses={204: None},
    )
    def delete(self, request: Request, webhook_id: int) -> Response:
        integrations_api.webhook_subscription_delete(
            tenant_id=self.tenant_id,
            subscription_id=webhook_id,
            actor=self.actor,
            if_match=self.if_match(),
        )
        return Response(status=204)


class WebhookItem(WebhookGetView, WebhookPatchView, WebhookDeleteView):
    pass


class WebhookTestView(ApiView):
    scope_resource = "webhooks"

    @extend_schema(
        tags=_TAGS,
        operation_id="webhooks_test",
        parameters=[_SUB_ID],
        request=None,
        responses={202: s.DeliveryOut},
        description="Queue a signed `ping` event to this subscription; follow it in deliveries.",
    )
    @idempotent
    def post(self, request: Request, webhook_id: int) -> Response:
        delivery_id = integrations_api.webhook_test_send(
            tenant_id=self.tenant_id,
            subscription_id=webhook_id,
            now=timezone.now(),
            actor=self.actor,
        )
        record = integrations_api.webhook_delivery_get(
            tenant_id=self.tenant_id, delivery_id=delivery_id
        )
        return Response(s.DeliveryOut(record).data, status=202)


class WebhookDeliveryListView(ApiView):
    scope_resource = "webhooks"

    @extend_schema(
        tags=_TAGS,
        operation_id="webhooks_deliveries_list",
        parameters=[_SUB_ID, s.DeliveryListQuery],
        responses=page_of(s.DeliveryOut),
        description="The delivery log of a subscription: attempts, status codes, errors.",
    )
    def get(self, request: Request, webhook_id: int) -> Response:
        q = self.query(s.DeliveryListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: integrations_api.webhook_delivery_list(
                tenant_id=self.tenant_id, subscription_id=webhook_id, **page, **q
            ),
            key=lambda r: r.id,
            item=s.DeliveryOut,
        )
        return Response(body, headers=headers)
