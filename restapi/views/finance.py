"""The finance export (scope `finance`, BILLING.md section 5, ADR 0039): the GL mapping,
exclusions, manual adjustments, the preview of a period and export batches with their files.
One service call per request."""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from djmoney.money import Money
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.invoicing import api as invoicing_api
from apps.invoicing.contracts import ExportFileKind
from restapi.base import ApiView
from restapi.idempotency import idempotent
from restapi.pagination import page_of, paginate
from restapi.serializers import finance as s

_TAGS = ["finance"]
_BATCH_ID = OpenApiParameter("batch_id", int, OpenApiParameter.PATH)
_EXCLUSION_ID = OpenApiParameter("exclusion_id", int, OpenApiParameter.PATH)
_CONTENT_TYPES = {
    ExportFileKind.JOURNAL_CSV.value: "text/csv",
    ExportFileKind.JOURNAL_JSON.value: "application/json",
    ExportFileKind.RECORDS_JSONL.value: "application/gzip",
}


class _Adjustments:
    def __init__(self, rows: list[object], many: bool = True) -> None:
        self.data = [s.vars_of(r) for r in rows]


class _Batches:
    def __init__(self, rows: list[object], many: bool = True) -> None:
        self.data = [s.batch_out(r) for r in rows]


class GlMappingCollection(ApiView):
    scope_resource = "finance"

    @extend_schema(
        tags=_TAGS,
        operation_id="finance_gl_mappings_list",
        responses=s.GlMappingListOut,
        description="The tenant's chart-of-accounts mapping. For each journal amount the "
        "most specific row wins (engine and VAT category, engine, VAT category, neither); "
        "nothing matching books to the account UNMAPPED.",
    )
    def get(self, request: Request) -> Response:
        rows = invoicing_api.gl_mapping_list(tenant_id=self.tenant_id)
        return Response({"data": [s.vars_of(r) for r in rows]})

    @extend_schema(
        tags=_TAGS,
        operation_id="finance_gl_mappings_set",
        request=s.GlMappingIn,
        responses={200: s.GlMappingOut},
        description="Create or change the row of (engine, role, component, vat_category).",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.GlMappingIn)
        row = invoicing_api.gl_mapping_set(tenant_id=self.tenant_id, actor=self.actor, **data)
        return Response(s.vars_of(row))


class ExclusionCollection(ApiView):
    scope_resource = "finance"

    @extend_schema(
        tags=_TAGS,
        operation_id="finance_exclusions_list",
        responses=s.ExclusionListOut,
        description="Exclusions, newest first, retired ones included (`retired_at`).",
    )
    def get(self, request: Request) -> Response:
        rows = invoicing_api.finance_exclusion_list(tenant_id=self.tenant_id)
        return Response({"data": [s.vars_of(r) for r in rows]})

    @extend_schema(
        tags=_TAGS,
        operation_id="finance_exclusions_add",
        request=s.ExclusionIn,
        responses={201: s.ExclusionOut},
        description="Leave an account, a customer, a party or a payee out of the export, with "
        "a reason. A customer's, party's or payee's lines stay unexported until it is retired.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.ExclusionIn)
        row = invoicing_api.finance_exclusion_add(
            tenant_id=self.tenant_id, actor=self.actor, **data
        )
        return Response(s.vars_of(row), status=201)


class ExclusionRetireView(ApiView):
    scope_resource = "finance"

    @extend_schema(
        tags=_TAGS,
        operation_id="finance_exclusions_retire",
        parameters=[_EXCLUSION_ID],
        request=None,
        responses={200: s.ExclusionOut},
    )
    @idempotent
    def post(self, request: Request, exclusion_id: int) -> Response:
        row = invoicing_api.finance_exclusion_retire(
            tenant_id=self.tenant_id, actor=self.actor, exclusion_id=exclusion_id
        )
        return Response(s.vars_of(row))


class AdjustmentCollection(ApiView):
    scope_resource = "finance"

    @extend_schema(
        tags=_TAGS,
        operation_id="finance_adjustments_list",
        parameters=[s.AdjustmentListQuery],
        responses=page_of(s.AdjustmentOut),
        description="Manual adjustments, newest first (append-only), with the batch that "
        "exported each.",
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.AdjustmentListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: invoicing_api.finance_adjustment_list(tenant_id=self.tenant_id, **page),
            key=lambda r: r.id,
            item=_Adjustments,
        )
        return Response(body, headers=headers)

    @extend_schema(
        tags=_TAGS,
        operation_id="finance_adjustments_add",
        request=s.AdjustmentIn,
        responses={201: s.AdjustmentOut},
        description="A manual journal amount (append-only and audited; correct a mistake with "
        "another adjustment). Exported once, by the first batch whose period covers it.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.AdjustmentIn)
        amount = Money(data.pop("amount"), data.pop("currency"))
        row = invoicing_api.finance_adjustment_add(
            tenant_id=self.tenant_id, actor=self.actor, amount=amount, **data
        )
        return Response(s.vars_of(row), status=201)


class PreviewView(ApiView):
    scope_resource = "finance"

    @extend_schema(
        tags=_TAGS,
        operation_id="finance_preview",
        parameters=[s.PeriodQuery],
        responses=s.PreviewOut,
        description="What posting the period now would export: the journal (per component, "
        "mapped to account and cost centre, per VAT class and counterparty, with kWh and the "
        "CDR ids of each line), totals per account, cost centre, VAT class and counterparty, "
        "what exclusions leave out and the pending adjustments. Writes nothing.",
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.PeriodQuery)
        preview = invoicing_api.finance_preview(tenant_id=self.tenant_id, **q)
        return Response(s.preview_out(preview))


class ExportBatchCollection(ApiView):
    scope_resource = "finance"

    @extend_schema(
        tags=_TAGS,
        operation_id="export_batches_list",
        parameters=[s.ExportBatchListQuery],
        responses=page_of(s.ExportBatchOut),
        description="Posted export batches, newest first, with their files' SHA-256.",
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.ExportBatchListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: invoicing_api.export_batch_list(tenant_id=self.tenant_id, **page),
            key=lambda r: r.id,
            item=_Batches,
        )
        return Response(body, headers=headers)

    @extend_schema(
        tags=_TAGS,
        operation_id="export_batches_post",
        request=s.PostIn,
        responses={
            200: OpenApiResponse(s.PostOut, description="a dry run, or the period's batch"),
            201: s.PostOut,
        },
        description="Post the period: an immutable batch of the journal (CSV, JSON) and the "
        "universal records of its CDRs. Posting a posted period again returns that batch "
        "(same bytes). `dry_run`: the preview and the files' SHA-256 it would write, nothing "
        "written. The period must have ended.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.PostIn)
        result = invoicing_api.export_batch_post(tenant_id=self.tenant_id, actor=self.actor, **data)
        created = not result.dry_run and not result.existing
        return Response(s.post_out(result), status=201 if created else 200)


class ExportBatchItem(ApiView):
    scope_resource = "finance"

    @extend_schema(
        tags=_TAGS,
        operation_id="export_batches_get",
        parameters=[_BATCH_ID],
        responses=s.ExportBatchOut,
    )
    def get(self, request: Request, batch_id: int) -> Response:
        row = invoicing_api.export_batch_get(tenant_id=self.tenant_id, batch_id=batch_id)
        return Response(s.batch_out(row))


class ExportFileView(ApiView):
    scope_resource = "finance"

    @extend_schema(
        tags=_TAGS,
        operation_id="export_batches_file",
        parameters=[
            _BATCH_ID,
            OpenApiParameter(
                "kind", str, OpenApiParameter.PATH, enum=[k.value for k in ExportFileKind]
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/gzip"): OpenApiTypes.BINARY,
        },
        description="The file's stored bytes (byte-identical on every download): JOURNAL_CSV "
        "text/csv, JOURNAL_JSON application/json, RECORDS_JSONL gzip-compressed JSON lines. "
        "ETag and X-Content-SHA256: their SHA-256.",
    )
    def get(self, request: Request, batch_id: int, kind: str) -> StreamingHttpResponse:
        f = invoicing_api.export_file_open(tenant_id=self.tenant_id, batch_id=batch_id, kind=kind)
        body = f.achunks if isinstance(request._request, ASGIRequest) else f.chunks
        response = StreamingHttpResponse(body, content_type=_CONTENT_TYPES.get(kind, "text/plain"))
        response["Content-Length"] = str(f.size)
        response["Content-Disposition"] = f'attachment; filename="{f.filename}"'
        response["ETag"] = f'"{f.sha256}"'
        response["X-Content-SHA256"] = f.sha256
        return response
