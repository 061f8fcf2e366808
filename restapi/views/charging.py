from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.charging import api as charging_api
from restapi.base import ApiView, query_of
from restapi.pagination import page_of, paginate
from restapi.serializers import charging as s


class _Rendered:
    """`paginate`'s item for objects rendered by the domain (apps.charging.ocpi): the same
    dicts the webhooks send, without DRF's field machinery per row."""

    render: Any = None

    def __init__(self, rows: list[Any], many: bool = True) -> None:
        self.data = [type(self).render(r) for r in rows]


class _Sessions(_Rendered):
    render = staticmethod(charging_api.session_object)


class _Cdrs(_Rendered):
    render = staticmethod(charging_api.cdr_object)


class SessionListView(ApiView):
    scope_resource = "sessions"

    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_list",
        parameters=[s.SessionListQuery],
        responses=page_of(s.SessionOut),
    )
    def get(self, request: Any) -> Response:
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
    def get(self, request: Any, session_id: int) -> Response:
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
    def get(self, request: Any) -> Response:
        body, headers = cdr_page(request, self.tenant_id)
        return Response(body, headers=headers)


def cdr_page(request: Any, tenant_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    """A page of the tenant's CDRs and its Link header: the view's work, which the ASGI fast
    path (restapi.fast) calls too. Raises QueryInvalid for a bad filter or cursor."""
    q = query_of(request, s.CdrListQuery)
    return paginate(
        request,
        q,
        lambda **page: charging_api.cdr_list(tenant_id=tenant_id, **page, **q),
        key=lambda r: r.platform_id,
        item=_Cdrs,
    )


class CdrGetView(ApiView):
    scope_resource = "cdrs"

    @extend_schema(
        tags=["cdrs"],
        operation_id="cdrs_get",
        parameters=[OpenApiParameter("cdr_id", int, OpenApiParameter.PATH)],
        responses={200: s.CDR_OUT_SCHEMA},
    )
    def get(self, request: Any, cdr_id: int) -> Response:
        record = charging_api.cdr_get(tenant_id=self.tenant_id, cdr_id=cdr_id)
        return Response(charging_api.cdr_object(record))
