"""Partners (ADR 0027): the counterparties a tenant deals with, scope `partners`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.parties import api as parties_api
from apps.parties.contracts import PartnerInput, PartyRole
from restapi.base import ApiView, with_etag
from restapi.idempotency import idempotent
from restapi.pagination import page_of, paginate
from restapi.serializers import partners as s

_PARTNER_ID = OpenApiParameter("partner_id", int, OpenApiParameter.PATH)


class PartnerListView(ApiView):
    scope_resource = "partners"

    @extend_schema(
        tags=["partners"],
        operation_id="partners_list",
        parameters=[s.PartnerListQuery],
        responses=page_of(s.PartnerOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.PartnerListQuery)
        role = PartyRole(q.pop("role")) if q.get("role") else None
        body, headers = paginate(
            request,
            q,
            lambda **page: parties_api.partner_list(tenant_id=self.tenant_id, role=role, **page),
            key=lambda r: r.id,
            item=s.PartnerOut,
        )
        return Response(body, headers=headers)


class PartnerCreateView(ApiView):
    scope_resource = "partners"

    @extend_schema(
        tags=["partners"],
        operation_id="partners_create",
        request=s.PartnerIn,
        responses={201: s.PartnerOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        record = parties_api.partner_create(
            tenant_id=self.tenant_id, actor=self.actor, data=PartnerInput(**self.body(s.PartnerIn))
        )
        return with_etag(Response(s.PartnerOut(record).data, status=201), record.etag)


class PartnerCollection(PartnerListView, PartnerCreateView):
    pass


class PartnerGetView(ApiView):
    scope_resource = "partners"

    @extend_schema(
        tags=["partners"],
        operation_id="partners_get",
        parameters=[_PARTNER_ID],
        responses=s.PartnerOut,
    )
    def get(self, request: Request, partner_id: int) -> Response:
        record = parties_api.partner_get(tenant_id=self.tenant_id, partner_id=partner_id)
        return with_etag(Response(s.PartnerOut(record).data), record.etag)


class PartnerPatchView(ApiView):
    scope_resource = "partners"

    @extend_schema(
        tags=["partners"],
        operation_id="partners_update",
        parameters=[_PARTNER_ID],
        request=s.PartnerPatchIn,
        responses=s.PartnerOut,
    )
    def patch(self, request: Request, partner_id: int) -> Response:
        record = parties_api.partner_update(
            tenant_id=self.tenant_id,
            actor=self.actor,
            partner_id=partner_id,
            if_match=self.if_match(),
            **self.body(s.PartnerPatchIn),
        )
        return with_etag(Response(s.PartnerOut(record).data), record.etag)


class PartnerItem(PartnerGetView, PartnerPatchView):
    pass
