"""Invoices, self-billing statements and credit notes: the list with filters (and the
incoming invoices other tenants address to a marketplace eMSP), a document's page (header,
seller and buyer, lines by section, VAT summary, totals, credit notes and original, files)
and its Finalize, Discard and Credit forms for roles with INVOICING_EDIT."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from apps.common.contracts import Actor
from apps.common.errors import DomainError, NotFound
from apps.invoicing import api as invoicing_api
from apps.invoicing.contracts import DocumentDetail, DocumentLineRecord, DocumentRow
from apps.parties import api as parties_api
from apps.parties.contracts import Capability
from portal.access import Portal, portal_view
from portal.forms.actions import problems_in_words
from portal.forms.invoicing_documents import (
    TYPE_LABELS,
    TYPE_NAMES,
    CreditForm,
    DiscardForm,
    DocumentFilterForm,
)
from portal.views.common import id_page, not_found, notify, now, page, problem_messages
from portal.views.money import money

SECTION = "documents"
COMPONENTS = [
    ("fixed", "start"),
    ("energy", "energy"),
    ("time", "time"),
    ("parking", "parking"),
    ("reservation", "reservation"),
    ("adjustment", "mark-up"),
]
SECTION_TITLES = {"PERIOD": "Sessions of the period", "LATE": "Late sessions (earlier periods)"}


def _qty(value: Decimal, places: str = "0.001") -> str:
    return f"{value.quantize(Decimal(places)):f}"


def _row(r: DocumentRow) -> dict[str, Any]:
    c = r.currency
    return {
        "id": r.id,
        "type": r.doc_type,
        "type_name": TYPE_NAMES[r.doc_type],
        "status": r.status,
        "number": r.number,
        "counterparty": r.counterparty or "—",
        "period_start": r.period_start,
        "period_end": r.period_end,
        "issue_date": r.issue_date,
        "due_date": r.due_date,
        "currency": c,
        "net": money(r.net_total, c),
        "vat": money(r.vat_total, c),
        "total": money(r.total, c),
        "lines": r.line_count,
        "kwh": _qty(r.energy_kwh),
        "late": r.has_late_section,
    }


def _month(value: str, tz: str) -> tuple[datetime, datetime]:
    year, month = (int(x) for x in value.split("-"))
    zone = ZoneInfo(tz)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start, end


@portal_view()
def document_list(request: HttpRequest) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    incoming = request.GET.get("tab") == "incoming"
    form = DocumentFilterForm(request.GET)
    valid = form.is_valid()
    f = form.cleaned_data if valid else {}
    period = None
    if f.get("period"):
        period = _month(f["period"], invoicing_api.document_timezone(tenant_id=portal.tenant_id))
    pager = id_page(
        request,
        partial(
            invoicing_api.document_list,
            tenant_id=portal.tenant_id,
            doc_type=f.get("type") or None,
            status=f.get("status") or None,
            number=f.get("number") or None,
            counterparty=f.get("counterparty") or None,
            period=period,
            incoming=incoming,
        )
        if valid
        else (lambda **page: []),
        newest_first=True,
    )
    return page(
        request,
        "portal/invoicing/documents.html",
        {
            "rows": [_row(r) for r in pager.rows],
            "pager": pager,
            "f": {k: form.data.get(k, "") for k in form.fields},
            "types": list(TYPE_LABELS.items()),
            "statuses": [s for s, _ in form.fields["status"].choices if s],  # type: ignore[attr-defined]
            "problems": "" if valid else problems_in_words(form),
            "incoming": incoming,
            "tz": invoicing_api.document_timezone(tenant_id=portal.tenant_id),
            "show_incoming": incoming
            or parties_api.operator_marketplace(tenant_id=portal.tenant_id),
        },
        section=SECTION,
        status=200 if valid else 400,
    )


def _line(ln: DocumentLineRecord, currency: str, credited: bool) -> dict[str, Any]:
    parts = [
        f"{label} {money(getattr(ln, key), currency)}"
        for key, label in COMPONENTS
        if getattr(ln, key)
    ]
    return {
        "id": ln.id,
        "position": ln.position,
        "kind": ln.kind,
        "description": ln.description,
        "start": ln.session_start,
        "end": ln.session_end,
        "location": ln.location,
        "evse": ln.evse,
        "kwh": _qty(ln.energy_kwh),
        "hours": _qty(ln.duration_hours, "0.01"),
        "components": ", ".join(parts) or "—",
        "net": money(ln.net, currency),
        "vat_category": ln.vat_category,
        "vat_rate": f"{ln.vat_rate.normalize():f}",
        "exemption_reason": ln.exemption_reason,
        "cdr_id": ln.cdr_id,
        "credited": credited,
    }


def _party(snapshot: dict[str, Any]) -> list[str]:
    keys = ("name", "legal_name", "address", "postal_code", "city", "country", "vat_number")
    out = [str(snapshot[k]) for k in keys if snapshot.get(k)]
    return out or ["—"]


def _detail_context(portal: Portal, d: DocumentDetail) -> dict[str, Any]:
    doc = d.document
    c = doc.currency
    sections = []
    for key, title in SECTION_TITLES.items():
        lines = [_line(ln, c, ln.id in d.credited_line_ids) for ln in d.lines if ln.section == key]
        if lines:
            sections.append({"key": key, "title": title, "lines": lines})
    may_edit = portal.may(Capability.INVOICING_EDIT) and not d.incoming
    creditable = [ln.id for ln in d.lines if ln.id not in d.credited_line_ids]
    return {
        # Dates and times in the tenant's timezone (its periods are its local days).
        "tz": invoicing_api.document_timezone(tenant_id=portal.tenant_id),
        "document": _row(doc),
        "seller": _party(d.seller),
        "buyer": _party(d.buyer),
        "email": d.email,
        "language": d.language,
        "reason": d.reason,
        "created_by": d.created_by_name,
        "finalized_at": doc.finalized_at,
        "finalized_by": d.finalized_by_name,
        "discarded_at": d.discarded_at,
        "discarded_by": d.discarded_by_name,
        "sections": sections,
        "vat": [
            {
                "category": v.category,
                "rate": f"{v.rate.normalize():f}",
                "taxable": money(v.taxable, c),
                "vat": money(v.vat, c),
                "exemption_reason": v.exemption_reason,
            }
            for v in d.vat_breakdown
        ],
        "credit_notes": [_row(n) for n in d.credit_notes],
        "original": _row(d.original) if d.original else None,
        "incoming": d.incoming,
        "may_finalize": may_edit and doc.status == "DRAFT",
        "may_discard": may_edit and doc.status == "DRAFT",
        "may_credit": may_edit
        and doc.status == "FINALIZED"
        and doc.doc_type != "CREDIT_NOTE"
        and bool(creditable),
        "creditable": creditable,
        "errors": {},
    }


def _show(
    request: HttpRequest,
    document_id: int,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    posted: dict[str, Any] | None = None,
) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    try:
        detail = invoicing_api.document_get(tenant_id=portal.tenant_id, document_id=document_id)
    except NotFound:
        return not_found(request, f"document {document_id}", section=SECTION)
    context = _detail_context(portal, detail)
    context["errors"] = errors or {}
    context["posted"] = posted or {}
    return page(request, "portal/invoicing/document.html", context, section=SECTION, status=status)


@portal_view()
def document_detail(request: HttpRequest, document_id: int) -> HttpResponse:
    return _show(request, document_id)


def actor(request: HttpRequest) -> Actor:
    """The signed-in user, named by e-mail on the documents it finalizes, discards or
    credits (and in the audit log, as every portal change)."""
    portal: Portal = request.portal  # type: ignore[attr-defined]
    return Actor(user_id=portal.user_id, name=portal.email)


def _back(portal: Portal, document_id: int) -> HttpResponse:
    return redirect(reverse("portal:document", args=[portal.tenant.slug, document_id]))


def _refused(request: HttpRequest, document_id: int, form: str, exc: DomainError) -> HttpResponse:
    status = 404 if isinstance(exc, NotFound) else 409 if exc.code == "conflict" else 422
    if status == 404:
        return not_found(request, f"document {document_id}", section=SECTION)
    message = "; ".join(problem_messages(exc)) if exc.problems else exc.message
    return _show(
        request, document_id, errors={form: message}, status=status, posted=request.POST.dict()
    )


@portal_view(Capability.INVOICING_EDIT)
def document_finalize(request: HttpRequest, document_id: int) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    try:
        number = invoicing_api.document_finalize(
            tenant_id=portal.tenant_id, document_id=document_id, actor=actor(request), now=now()
        )
    except DomainError as exc:
        return _refused(request, document_id, "finalize", exc)
    notify(request, f"Finalized as {number}.")
    return _back(portal, document_id)


@portal_view(Capability.INVOICING_EDIT)
def document_discard(request: HttpRequest, document_id: int) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    form = DiscardForm(request.POST)
    if not form.is_valid():
        return _show(
            request,
            document_id,
            errors={"discard": problems_in_words(form)},
            status=400,
            posted=request.POST.dict(),
        )
    try:
        invoicing_api.document_discard(
            tenant_id=portal.tenant_id,
            document_id=document_id,
            actor=actor(request),
            reason=form.cleaned_data["reason"],
            now=now(),
        )
    except DomainError as exc:
        return _refused(request, document_id, "discard", exc)
    notify(request, f"Draft {document_id} discarded: its sessions go on the next run.")
    return _back(portal, document_id)


@portal_view(Capability.INVOICING_EDIT)
def document_credit(request: HttpRequest, document_id: int) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    try:
        detail = invoicing_api.document_get(tenant_id=portal.tenant_id, document_id=document_id)
    except NotFound:
        return not_found(request, f"document {document_id}", section=SECTION)
    form = CreditForm(request.POST, line_ids=[ln.id for ln in detail.lines])
    if not form.is_valid():
        return _show(
            request,
            document_id,
            errors={"credit": problems_in_words(form)},
            status=400,
            posted={"reason": request.POST.get("reason", ""), "mode": request.POST.get("mode")},
        )
    d = form.cleaned_data
    try:
        note_id = invoicing_api.credit_note_create(
            tenant_id=portal.tenant_id,
            document_id=document_id,
            actor=actor(request),
            reason=d["reason"],
            line_ids=d["line"] if d["mode"] == "lines" else None,
            now=now(),
        )
    except DomainError as exc:
        return _refused(request, document_id, "credit", exc)
    note = invoicing_api.document_row(tenant_id=portal.tenant_id, document_id=note_id)
    notify(
        request,
        f"Credit note {note.number} issued for {money(note.total, note.currency)} {note.currency}.",
    )
    return _back(portal, note_id)
