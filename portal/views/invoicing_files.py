"""A document's files on the portal (area "files", ADR 0038): its files page (the files
panel, which the document page includes too), downloads of the stored PDF / UBL / CII
(byte-identical every time) and the Send again form."""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from apps.common.errors import DomainError, NotFound
from apps.invoicing import api as invoicing
from apps.parties.contracts import Capability
from portal.access import portal_view
from portal.forms.actions import problems_in_words
from portal.forms.invoicing_files import ResendForm
from portal.views.common import actor, not_found, notify, page, problem_messages

SECTION = "invoicing"
KINDS = {"pdf": "PDF", "ubl": "UBL", "cii": "CII"}


@portal_view()
def document_files(request: HttpRequest, document_id: int) -> HttpResponse:
    """One document's files and deliveries, on a page of their own."""
    portal = request.portal  # type: ignore[attr-defined]
    try:
        panel = invoicing.document_files_panel(tenant_id=portal.tenant_id, document_id=document_id)
    except NotFound:
        return not_found(request, f"document {document_id}", section=SECTION)
    return page(
        request,
        "portal/invoicing/files.html",
        {"document_id": document_id, "number": panel.number or f"draft {document_id}"},
        section=SECTION,
    )


@portal_view()
def document_file_download(request: HttpRequest, document_id: int, kind: str) -> HttpResponse:
    """The stored bytes of one file (rendered now if the worker has not yet)."""
    portal = request.portal  # type: ignore[attr-defined]
    if kind not in KINDS:
        return not_found(request, f"{kind} file", section=SECTION)
    try:
        f = invoicing.document_file_get(
            tenant_id=portal.tenant_id, document_id=document_id, kind=KINDS[kind]
        )
    except NotFound:
        return not_found(request, f"document {document_id}", section=SECTION)
    except invoicing.DocumentNotFinalized as exc:
        return page(
            request,
            "portal/error.html",
            {"title": "No files yet", "message": exc.message},
            section=SECTION,
            status=409,
        )
    response = HttpResponse(f.content, content_type=f.content_type)
    response["Content-Disposition"] = f'attachment; filename="{f.filename}"'
    response["ETag"] = f'"{f.sha256}"'
    response["Content-Length"] = str(f.size)
    return response


@portal_view(Capability.INVOICING_EDIT)
def document_resend(request: HttpRequest, document_id: int) -> HttpResponse:
    """Send a finalized document again (audited as document.resend by the service)."""
    portal = request.portal  # type: ignore[attr-defined]
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    target = back or reverse(
        "portal:invoicing_document_files", args=[portal.tenant.slug, document_id]
    )
    form = ResendForm(request.POST)
    if not form.is_valid():
        notify(request, f"Not sent: {problems_in_words(form)}.")
        return redirect(target)
    try:
        row = invoicing.document_resend(
            tenant_id=portal.tenant_id,
            document_id=document_id,
            # named by e-mail in the deliveries log (the audit entry has the user id too)
            actor=replace(actor(request), name=portal.email),
            to_email=form.cleaned_data["to_email"] or None,
        )
    except NotFound:
        return not_found(request, f"document {document_id}", section=SECTION)
    except DomainError as exc:
        notify(request, "Not sent: " + "; ".join(problem_messages(exc)))
        return redirect(target)
    if row.status == "SENT":
        notify(request, f"Sent to {row.to_email}.")
    else:
        notify(request, f"Sending to {row.to_email} failed: {row.error}")
    return redirect(target)
