from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.tariffs import api as tariffs_api
from apps.tariffs.contracts import BillingEngine
from restapi.base import ApiView
from restapi.idempotency import idempotent
from restapi.pagination import page_of, paginate
from restapi.problems import BodyInvalid
from restapi.serializers import tariffs as s

_TARIFF_ID = OpenApiParameter("tariff_id", int, OpenApiParameter.PATH)
_TAGS = ["tariffs"]


def _ocpi_body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BodyInvalid({"non_field_errors": ["the body must be an OCPI Tariff object"]})
    return dict(data)


class TariffListView(ApiView):
    scope_resource = "tariffs"

    @extend_schema(
        tags=_TAGS,
        operation_id="tariffs_list",
        parameters=[s.TariffListQuery],
        responses={200: s.TARIFF_PAGE_SCHEMA},
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.TariffListQuery)
        now = timezone.now()
        body, headers = paginate(
            request,
            q,
            lambda **page: tariffs_api.tariff_list(tenant_id=self.tenant_id, at=now, **page, **q),
            key=lambda r: r.platform_id,
            item=_TariffItems,
        )
        return Response(body, headers=headers)


class _TariffItems:
    """Adapter so `paginate` can render tariffs (a pass-through of the OCPI object)."""

    def __init__(self, rows: list[Any], many: bool = True) -> None:
        self.data = [s.tariff_out(r) for r in rows]


class TariffCreateView(ApiView):
    scope_resource = "tariffs"

    @extend_schema(
        tags=_TAGS,
        operation_id="tariffs_create",
        parameters=[s.TariffCreateQuery],
        request={"application/json": s.OCPI_TARIFF_SCHEMA},
        responses={201: s.TARIFF_OUT_SCHEMA},
        description=(
            "Create a tariff from an OCPI 2.2.1 Tariff object (its first version). Problems are "
            "reported with JSON paths into this object, e.g. "
            "`$.elements[0].price_components[1].price`."
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        q = self.query(s.TariffCreateQuery)
        now = timezone.now()
        record = tariffs_api.tariff_create(
            tenant_id=self.tenant_id,
            ocpi=_ocpi_body(request.data),
            effective_from=q.get("effective_from") or now,
            now=now,
            actor=self.actor,
            engine=BillingEngine(q.get("engine") or BillingEngine.WHOLESALE.value),
        )
        return Response(s.tariff_out(record), status=201)


class TariffCollection(TariffListView, TariffCreateView):
    pass


class TariffGetView(ApiView):
    scope_resource = "tariffs"

    @extend_schema(
        tags=_TAGS,
        operation_id="tariffs_get",
        parameters=[_TARIFF_ID],
        responses={200: s.TARIFF_OUT_SCHEMA},
    )
    def get(self, request: Request, tariff_id: int) -> Response:
        record = tariffs_api.tariff_get(
            tenant_id=self.tenant_id, tariff_id=tariff_id, at=timezone.now()
        )
        return Response(s.tariff_out(record))


class TariffVersionCreateView(ApiView):
    scope_resource = "tariffs"

    @extend_schema(
        tags=_TAGS,
        operation_id="tariffs_version_create",
        parameters=[_TARIFF_ID, s.TariffWriteQuery],
        request={"application/json": s.OCPI_TARIFF_SCHEMA},
        responses={201: s.TARIFF_OUT_SCHEMA},
        description=(
            "New prices for a tariff from `effective_from` on (default now, never in the past: "
            "changes apply to future sessions only). country_code, party_id and id are the "
            "tariff's own whatever the body says."
        ),
    )
    @idempotent
    def post(self, request: Request, tariff_id: int) -> Response:
        q = self.query(s.TariffWriteQuery)
        now = timezone.now()
        record = tariffs_api.tariff_version_create(
            tenant_id=self.tenant_id,
            tariff_id=tariff_id,
            ocpi=_ocpi_body(request.data),
            effective_from=q.get("effective_from") or now,
            now=now,
            actor=self.actor,
        )
        return Response(s.tariff_out(record), status=201)


class TariffCodeListView(ApiView):
    scope_resource = "tariffs"

    @extend_schema(
        tags=_TAGS,
        operation_id="tariff_codes_list",
        parameters=[s.PageQuery],
        responses=page_of(s.TariffCodeOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.PageQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: tariffs_api.tariff_code_list(tenant_id=self.tenant_id, **page),
            key=lambda r: r.id,
            item=s.TariffCodeOut,
        )
        return Response(body, headers=headers)


class TariffCodeCreateView(ApiView):
    scope_resource = "tariffs"

    @extend_schema(
        tags=_TAGS,
        operation_id="tariff_codes_create",
        request=s.TariffCodeIn,
        responses={201: s.TariffCodeOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.TariffCodeIn)
        record = tariffs_api.tariff_code_create(tenant_id=self.tenant_id, actor=self.actor, **data)
        return Response(s.TariffCodeOut(record).data, status=201)


class TariffCodeCollection(TariffCodeListView, TariffCodeCreateView):
    pass


class TariffAssignmentListView(ApiView):
    scope_resource = "tariffs"

    @extend_schema(
        tags=_TAGS,
        operation_id="tariff_assignments_list",
        parameters=[s.TariffAssignmentListQuery],
        responses=page_of(s.TariffAssignmentOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.TariffAssignmentListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: tariffs_api.tariff_assignment_list(
                tenant_id=self.tenant_id, **page, **q
            ),
            key=lambda r: r.id,
            item=s.TariffAssignmentOut,
        )
        return Response(body, headers=headers)


class TariffAssignmentCreateView(ApiView):
    scope_resource = "tariffs"

    @extend_schema(
        tags=_TAGS,
        operation_id="tariff_assignments_create",
        request=s.TariffAssignmentIn,
        responses={201: s.TariffAssignmentOut},
        description=(
            "Put a tariff code on a charge station (its default) or, with evse_uid + "
            "connector_id, on one connector (an override), from effective_from on."
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.TariffAssignmentIn)
        now = timezone.now()
        data["effective_from"] = data.get("effective_from") or now
        record = tariffs_api.tariff_assignment_create(
            tenant_id=self.tenant_id, now=now, actor=self.actor, **data
        )
        return Response(s.TariffAssignmentOut(record).data, status=201)


class TariffAssignmentCollection(TariffAssignmentListView, TariffAssignmentCreateView):
    pass
