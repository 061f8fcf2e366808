from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.charging import api as charging_api
from restapi.base import ApiView
from restapi.operations import cdr_page
from restapi.pagination import Rendered, page_of, paginate
from restapi.serializers import charging as s


class _Sessions(Rendered):
    render = staticmethod(charging_api.session_object)


class SessionListView(ApiView):
    scope_resource = "sessions"

    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_list",
        parameters=[s.SessionListQuery],
        responses=page_of(s.SessionOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.SessionListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: charging_api.session_list(tenant_id=self.tenant_id, **page, **q),
            key=lambda r: r.platform_id,
            item=_Sessions,
        )
        return Response(body, headers=headers)


class SessionGetView(ApiView):
    scope_resource = "sessions"

    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_get",
        parameters=[OpenApiParameter("session_id", int, OpenApiParameter.PATH)],
        responses=s.SessionOut,
    )
    def get(self, request: Request, session_id: int) -> Response:
        record = charging_api.session_get(tenant_id=self.tenant_id, session_id=session_id)
        return Response(charging_api.session_object(record))


class CdrListView(ApiView):
    scope_resource = "cdrs"

    @extend_schema(
        tags=["cdrs"],
        operation_id="cdrs_list",
        parameters=[s.CdrListQuery],
        responses={200: s.CDR_PAGE_SCHEMA},
        description=(
            "CDRs in the order the platform recorded them (keyset cursor): a page never "
            "shifts when CDRs are added, and CDRs that arrive late appear on later pages. "
            "Filter by end_date_time with date_from / date_to, by CPO party, by station."
        ),
    )
    def get(self, request: Request) -> Response:
        body, headers = cdr_page(request, self.tenant_id)
        return Response(body, headers=headers)


class CdrGetView(ApiView):
    scope_resource = "cdrs"

    @extend_schema(
        tags=["cdrs"],
        operation_id="cdrs_get",
        parameters=[OpenApiParameter("cdr_id", int, OpenApiParameter.PATH)],
        responses={200: s.CDR_OUT_SCHEMA},
    )
    def get(self, request: Request, cdr_id: int) -> Response:
        record = charging_api.cdr_get(tenant_id=self.tenant_id, cdr_id=cdr_id)
        return Response(charging_api.cdr_object(record))


# --- the eMSP view (ADR 0027): the tenant's drivers at other marketplace tenants' stations --

_EMSP = (
    "The tenant's drivers' sessions and CDRs at other marketplace tenants' stations: the "
    "OCPI 2.2.1 objects a roaming eMSP would receive over OCPI (no ids of the CPO tenant's "
    "charge stations or session rows). Its own stations' sessions are in /sessions, /cdrs."
)


class _EmspSessions(Rendered):
    render = staticmethod(charging_api.emsp_session_object)


class _EmspCdrs(Rendered):
    render = staticmethod(charging_api.emsp_cdr_object)


class EmspSessionListView(ApiView):
    scope_resource = "sessions"

    @extend_schema(
        tags=["emsp view"],
        operation_id="emsp_sessions_list",
        parameters=[s.EmspSessionListQuery],
        responses=page_of(s.SessionOut),
        description=_EMSP,
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.EmspSessionListQuery)
        expand = q.pop("expand", ())
        body, headers = paginate(
            request,
            q,
            lambda **page: charging_api.emsp_session_list(
                tenant_id=self.tenant_id, expand=expand, **page
            ),
            key=lambda r: r.platform_id,
            item=_EmspSessions,
        )
        return Response(body, headers=headers)


class EmspSessionGetView(ApiView):
    scope_resource = "sessions"

    @extend_schema(
        tags=["emsp view"],
        operation_id="emsp_sessions_get",
        parameters=[OpenApiParameter("session_id", int, OpenApiParameter.PATH)],
        responses=s.SessionOut,
        description=_EMSP,
    )
    def get(self, request: Request, session_id: int) -> Response:
        record = charging_api.emsp_session_get(tenant_id=self.tenant_id, session_id=session_id)
        return Response(charging_api.emsp_session_object(record))


class EmspCdrListView(ApiView):
    scope_resource = "cdrs"

    @extend_schema(
        tags=["emsp view"],
        operation_id="emsp_cdrs_list",
        parameters=[s.EmspCdrListQuery],
        responses={200: s.CDR_PAGE_SCHEMA},
        description=_EMSP,
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.EmspCdrListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: charging_api.emsp_cdr_list(tenant_id=self.tenant_id, **page, **q),
            key=lambda r: r.platform_id,
            item=_EmspCdrs,
        )
        return Response(body, headers=headers)


class EmspCdrGetView(ApiView):
    scope_resource = "cdrs"

    @extend_schema(
        tags=["emsp view"],
        operation_id="emsp_cdrs_get",
        parameters=[OpenApiParameter("cdr_id", int, OpenApiParameter.PATH)],
        responses={200: s.CDR_OUT_SCHEMA},
        description=_EMSP,
    )
    def get(self, request: Request, cdr_id: int) -> Response:
        record = charging_api.emsp_cdr_get(tenant_id=self.tenant_id, cdr_id=cdr_id)
        return Response(charging_api.emsp_cdr_object(record))
