"""A document's files and deliveries (scope `invoices`, area "files", ADR 0038): the stored
PDF (Factur-X), UBL and CII bytes with their SHA-256 as ETag (byte-identical on every
download; `If-None-Match` answers 304), the deliveries log, and resend (POST a delivery)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.invoicing import api as invoicing
from restapi.base import ApiView
from restapi.idempotency import idempotent
from restapi.json import DecimalJSONRenderer
from restapi.pagination import page_of, paginate
from restapi.serializers import invoicing_files as s

_DOCUMENT_ID = OpenApiParameter("document_id", int, OpenApiParameter.PATH)
_TAGS = ["invoices"]
_NOT_FINALIZED = OpenApiResponse(description="a draft or discarded document has no files")


def _file(view: ApiView, request: Request, document_id: int, kind: str) -> HttpResponseBase:
    f = invoicing.document_file_get(tenant_id=view.tenant_id, document_id=document_id, kind=kind)
    etag = f'"{f.sha256}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(f.content, content_type=f.content_type)
        response["Content-Disposition"] = f'attachment; filename="{f.filename}"'
    response["ETag"] = etag
    return response


def _schema(kind: str, media_type: str, what: str) -> dict[str, Any]:
    return {
        "tags": _TAGS,
        "operation_id": f"documents_{kind}",
        "parameters": [_DOCUMENT_ID],
        "responses": {
            (200, media_type): OpenApiResponse(response=OpenApiTypes.BINARY, description=what),
            304: OpenApiResponse(description="If-None-Match named the ETag: not changed"),
            409: _NOT_FINALIZED,
        },
        "description": f"{what} The bytes stored when the document was finalized (rendered "
        "now if the worker has not yet); ETag is their SHA-256. The issuing tenant and, for "
        "a marketplace invoice, the buyer tenant may read it.",
    }


class DocumentPdfView(ApiView):
    scope_resource = "invoices"
    renderer_classes = [DecimalJSONRenderer, s.PdfRenderer]

    @extend_schema(**_schema("pdf", "application/pdf", "The Factur-X PDF (CII inside)."))
    def get(self, request: Request, document_id: int) -> HttpResponseBase:
        return _file(self, request, document_id, "PDF")


class DocumentUblView(ApiView):
    scope_resource = "invoices"
    renderer_classes = [DecimalJSONRenderer, s.XmlRenderer]

    @extend_schema(
        **_schema("ubl", "application/xml", "The UBL 2.1 e-invoice (Peppol BIS Billing 3.0).")
    )
    def get(self, request: Request, document_id: int) -> HttpResponseBase:
        return _file(self, request, document_id, "UBL")


class DocumentCiiView(ApiView):
    scope_resource = "invoices"
    renderer_classes = [DecimalJSONRenderer, s.XmlRenderer]

    @extend_schema(**_schema("cii", "application/xml", "The CII e-invoice (EN 16931)."))
    def get(self, request: Request, document_id: int) -> HttpResponseBase:
        return _file(self, request, document_id, "CII")


class DocumentDeliveryListView(ApiView):
    scope_resource = "invoices"

    @extend_schema(
        tags=_TAGS,
        operation_id="documents_deliveries_list",
        parameters=[_DOCUMENT_ID, s.DeliveryListQuery],
        responses=page_of(s.DocumentDeliveryOut),
        description="Every e-mail of the document (first send and resends), oldest first. "
        "A buyer tenant sees none.",
    )
    def get(self, request: Request, document_id: int) -> Response:
        q = self.query(s.DeliveryListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: invoicing.document_deliveries_list(
                tenant_id=self.tenant_id, document_id=document_id, **page
            ),
            key=lambda r: r.id,
            item=s.DeliveryItems,
        )
        return Response(body, headers=headers)


class DocumentResendView(ApiView):
    scope_resource = "invoices"

    @extend_schema(
        tags=_TAGS,
        operation_id="documents_deliveries_create",
        parameters=[_DOCUMENT_ID],
        request=s.ResendIn,
        responses={201: s.DocumentDeliveryOut, 409: _NOT_FINALIZED},
        description="Send the finalized document (PDF and UBL attached) again, to to_email or "
        "its own address; audited as document.resend. 201 with the delivery, SENT or FAILED "
        "(then `error` is the mail server's answer).",
    )
    @idempotent
    def post(self, request: Request, document_id: int) -> Response:
        data = self.body(s.ResendIn)
        row = invoicing.document_resend(
            tenant_id=self.tenant_id,
            document_id=document_id,
            actor=self.actor,
            to_email=data.get("to_email") or None,
        )
        return Response(s.delivery_out(row), status=201)


class DocumentDeliveryCollection(DocumentDeliveryListView, DocumentResendView):
    pass
