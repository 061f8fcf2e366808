"""Invoices, self-billing statements and credit notes (scope `invoices`): list with filters,
a document with its lines and VAT breakdown, finalize a draft, discard a draft, credit a
finalized document (in full or some lines). One service call per request; the caller's
tenant only (a document addressed to it by another tenant: read only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.invoicing import api as invoicing_api
from restapi.base import ApiView
from restapi.idempotency import idempotent
from restapi.pagination import page_of, paginate
from restapi.serializers import invoicing_documents as s

_DOCUMENT_ID = OpenApiParameter("document_id", int, OpenApiParameter.PATH)
_TAGS = ["invoices"]


class DocumentCollection(ApiView):
    scope_resource = "invoices"

    @extend_schema(
        tags=_TAGS,
        operation_id="documents_list",
        parameters=[s.DocumentListQuery],
        responses=page_of(s.DocumentOut),
        description="The tenant's invoices, self-billing statements and credit notes (every "
        "status), oldest first; with incoming=true the finalized documents other tenants "
        "address to it instead.",
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.DocumentListQuery)
        filters: dict[str, Any] = {
            "doc_type": q.pop("type", None),
            "status": q.pop("status", None),
            "counterparty": q.pop("counterparty", None),
            "number": q.pop("number", None),
            "billing_run_id": q.pop("billing_run_id", None),
            "incoming": q.pop("incoming", False),
        }
        start, end = q.pop("period_from", None), q.pop("period_to", None)
        if start or end:
            filters["period"] = (start, end)
        tenant_id = self.tenant_id
        body, headers = paginate(
            request,
            q,
            lambda **page: invoicing_api.document_list(
                tenant_id=tenant_id, newest_first=False, **filters, **page
            ),
            key=lambda r: r.id,
            item=lambda rows, many=True: _Items(rows, tenant_id),
        )
        return Response(body, headers=headers)


class _Items:
    def __init__(self, rows: list[Any], viewer: int) -> None:
        self.data = [s.document_out(r, viewer) for r in rows]


class DocumentItem(ApiView):
    scope_resource = "invoices"

    @extend_schema(
        tags=_TAGS,
        operation_id="documents_get",
        parameters=[_DOCUMENT_ID],
        responses={200: s.DocumentDetailOut},
        description="A document with its lines (by position), VAT breakdown (per category "
        "and rate), the credit notes that credit it and, for a credit note, its original.",
    )
    def get(self, request: Request, document_id: int) -> Response:
        detail = invoicing_api.document_get(tenant_id=self.tenant_id, document_id=document_id)
        return Response(s.detail_out(detail, self.tenant_id))


def _detail(tenant_id: int, document_id: int) -> dict[str, Any]:
    return s.detail_out(
        invoicing_api.document_get(tenant_id=tenant_id, document_id=document_id), tenant_id
    )


class DocumentFinalizeView(ApiView):
    scope_resource = "invoices"

    @extend_schema(
        tags=_TAGS,
        operation_id="documents_finalize",
        parameters=[_DOCUMENT_ID],
        request=None,
        responses={200: s.DocumentDetailOut},
        description="Give a draft the next number of its gapless series; it is immutable "
        "from then on and its files are rendered. 409 when it is not a draft or its period's "
        "grace period has not ended (the problem names the date); 422 when it has no lines.",
    )
    @idempotent
    def post(self, request: Request, document_id: int) -> Response:
        invoicing_api.document_finalize(
            tenant_id=self.tenant_id, document_id=document_id, actor=self.actor
        )
        return Response(_detail(self.tenant_id, document_id))


class DocumentDiscardView(ApiView):
    scope_resource = "invoices"

    @extend_schema(
        tags=_TAGS,
        operation_id="documents_discard",
        parameters=[_DOCUMENT_ID],
        request=s.DocumentDiscardIn,
        responses={200: s.DocumentDetailOut},
        description="Give up a draft: its rated lines are free for the next billing run; "
        "the draft is kept (DISCARDED). 409 when it is not a draft.",
    )
    @idempotent
    def post(self, request: Request, document_id: int) -> Response:
        data = self.body(s.DocumentDiscardIn)
        invoicing_api.document_discard(
            tenant_id=self.tenant_id,
            document_id=document_id,
            actor=self.actor,
            reason=data["reason"],
        )
        return Response(_detail(self.tenant_id, document_id))


class CreditNoteCreateView(ApiView):
    scope_resource = "invoices"

    @extend_schema(
        tags=_TAGS,
        operation_id="documents_credit",
        parameters=[_DOCUMENT_ID],
        request=s.CreditNoteIn,
        responses={201: s.DocumentDetailOut},
        description="A credit note of a finalized document, finalized at once in the credit "
        "note series: every line not credited yet, or the lines `line_ids`. 409 when a line "
        "is credited already, the document is not finalized or is a credit note.",
    )
    @idempotent
    def post(self, request: Request, document_id: int) -> Response:
        data = self.body(s.CreditNoteIn)
        note_id = invoicing_api.credit_note_create(
            tenant_id=self.tenant_id,
            document_id=document_id,
            actor=self.actor,
            reason=data["reason"],
            line_ids=data.get("line_ids"),
        )
        return Response(
            _detail(self.tenant_id, note_id),
            status=201,
            headers={"Location": f"/api/v1/documents/{note_id}"},
        )
