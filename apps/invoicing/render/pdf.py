"""The PDF for people: HTML from the top-level `templates/invoicing/document.html` (+
`document.css`) in the document's language, rendered by WeasyPrint as PDF/A-3b, then made a
Factur-X PDF by factur-x with the CII XML embedded (ADR 0038).

WeasyPrint and factur-x are imported where they are used: importing them takes seconds, and
every process that imports `apps.invoicing.api` (web, gateway, workers) would pay it.

Labels go through Django's i18n (`locale/{nl,de,fr}`); amounts and dates are formatted per
language from the exact Decimals (1.234,56 in nl / de), never through floats. The view
context is strings only: the template does no arithmetic and no queries."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.translation import gettext as _

from apps.invoicing.arithmetic import quantum
from apps.invoicing.contracts import DocumentType, LineKind, VatCategory
from apps.invoicing.render.data import DocumentData, LineData, PartyData

TEMPLATE = "invoicing/document.html"
CSS_FILE = "invoicing/document.css"
PDF_VARIANT = "pdf/a-3b"
LANG_TAGS = {"en": "en-GB", "nl": "nl-NL", "de": "de-DE", "fr": "fr-FR"}


def number(value: Decimal, places: int) -> str:
    """`value` with `places` decimals and grouping, in the active language's format."""
    return formats.number_format(
        value.quantize(Decimal(1).scaleb(-places)),
        decimal_pos=places,
        use_l10n=True,
        force_grouping=True,
    )


def percent(rate: Decimal) -> str:
    """`21 %`, `5,5 %` in fr: whole rates without decimals."""
    places = 0 if rate == rate.to_integral() else 2
    return f"{number(rate, places)} %"


def money_text(value: Decimal, currency: str) -> str:
    """`EUR 1.234,56` in nl / de: the amount at the currency's minor unit."""
    amount = value.quantize(quantum(currency))
    places = max(0, -int(amount.as_tuple().exponent))
    return f"{currency} {number(amount, places)}"


def money(doc: DocumentData, value: Decimal) -> str:
    return money_text(value, doc.currency)


def _day(d: date | None) -> str:
    return formats.date_format(d, "DATE_FORMAT") if d else ""


def _short(d: date) -> str:
    return formats.date_format(d, "SHORT_DATE_FORMAT")


def _time(at: datetime, doc: DocumentData) -> str:
    return formats.time_format(at.astimezone(doc.timezone), "H:i")


def _duration(hours: Decimal) -> str:
    minutes = int((abs(hours) * 60).to_integral_value())
    return f"{minutes // 60}:{minutes % 60:02d}"


def _component_labels() -> dict[str, str]:
    return {
        "fixed": _("Start fee"),
        "energy": _("Energy"),
        "time": _("Time"),
        "parking": _("Parking"),
        "reservation": _("Reservation"),
        "adjustment": _("Mark-up"),
    }


def _category_label(category: str) -> str:
    return {
        VatCategory.STANDARD.value: _("Standard rate"),
        VatCategory.ZERO.value: _("Zero rate"),
        VatCategory.EXEMPT.value: _("Exempt"),
        VatCategory.REVERSE_CHARGE.value: _("Reverse charge"),
        VatCategory.OUTSIDE_SCOPE.value: _("Outside the scope of VAT"),
    }.get(category, category)


def _party(p: PartyData) -> dict[str, Any]:
    return {
        "name": p.name,
        "lines": [
            x
            for x in (p.address, " ".join(y for y in (p.postal_code, p.city) if y), p.country)
            if x
        ],
        "vat_number": p.vat_number,
        "company_id": p.company_id,
        "email": p.email,
    }


def _line(doc: DocumentData, line: LineData, labels: dict[str, str]) -> dict[str, Any]:
    start = line.session_start
    return {
        "position": line.position,
        "date": _short(start.astimezone(doc.timezone).date()) if start else "",
        "time": f"{_time(start, doc)}–{_time(line.session_end, doc)}"
        if start and line.session_end
        else "",
        "description": line.description,
        "location": line.location,
        "evse": line.evse,
        "energy": number(line.energy_kwh, 3),
        "duration": _duration(line.duration_hours) if line.duration_hours else "",
        "components": [
            {"label": labels[name], "amount": money(doc, amount)}
            for name, amount in line.components
        ],
        "correction": line.kind == LineKind.CORRECTION,
        "vat": percent(line.vat_rate),
        "net": money(doc, line.net),
    }


def document_title(doc_type: str) -> str:
    """ "Invoice", "Self-billing statement" or "Credit note" in the active language."""
    return {
        DocumentType.CUSTOMER_INVOICE.value: _("Invoice"),
        DocumentType.EMSP_INVOICE.value: _("Invoice"),
        DocumentType.SELF_BILLING.value: _("Self-billing statement"),
        DocumentType.CREDIT_NOTE.value: _("Credit note"),
    }[doc_type]


def context(doc: DocumentData) -> dict[str, Any]:
    """The template's context: strings only, in the active language."""
    labels = _component_labels()
    return {
        "lang": doc.language,
        "title": document_title(doc.doc_type),
        "number": doc.number,
        "issue_date": _day(doc.issue_date),
        "due_date": "" if doc.is_credit_note else _day(doc.due_date),
        "period": f"{_day(doc.period_start)} – {_day(doc.period_end)}"
        if doc.period_start and doc.period_end
        else "",
        "self_billing": doc.is_self_billing,
        "credit_note": doc.is_credit_note,
        "credits_number": doc.credits_number,
        "credits_date": _day(doc.credits_issue_date),
        "reason": doc.reason,
        "seller": _party(doc.seller),
        "buyer": _party(doc.buyer),
        "period_lines": [_line(doc, x, labels) for x in doc.period_lines()],
        "late_lines": [_line(doc, x, labels) for x in doc.late_lines()],
        "energy": number(doc.energy_kwh, 3),
        "groups": [
            {
                "category": _category_label(g.category),
                "rate": percent(g.rate),
                "taxable": money(doc, g.taxable),
                "vat": money(doc, g.vat),
                "reason": g.exemption_reason,
            }
            for g in doc.groups
        ],
        "net_total": money(doc, doc.net_total),
        "vat_total": money(doc, doc.vat_total),
        "total": money(doc, doc.total),
        "iban": doc.payment_iban,
        "bic": doc.payment_bic,
        "payee": doc.seller.name,
    }


@cache
def _stylesheet() -> Any:
    """`templates/invoicing/document.css`, found by the template loaders, parsed once."""
    from weasyprint import CSS

    return CSS(string=render_to_string(CSS_FILE))


def document_html(doc: DocumentData) -> str:
    with translation.override(doc.language):
        return render_to_string(TEMPLATE, context(doc))


def plain_pdf(doc: DocumentData) -> bytes:
    """The PDF/A-3b of `doc`, without the XML (WeasyPrint)."""
    from weasyprint import HTML

    html = document_html(doc)
    pdf = HTML(string=html).write_pdf(stylesheets=[_stylesheet()], pdf_variant=PDF_VARIANT)
    assert pdf is not None
    return bytes(pdf)


def facturx_pdf(doc: DocumentData, cii: bytes) -> bytes:
    """The Factur-X PDF of `doc`: its PDF/A-3b with `cii` (already validated) embedded as
    factur-x.xml, level EN 16931."""
    import facturx

    title = f"{doc.seller.name}: {doc.number}" if doc.seller.name else doc.number
    return bytes(
        facturx.generate_from_binary(
            plain_pdf(doc),
            cii,
            flavor="factur-x",
            level="en16931",
            check_xsd=False,
            pdf_metadata={
                "author": doc.seller.name or doc.number,
                "keywords": "Factur-X, Invoice",
                "title": title,
                "subject": f"{doc.number} {doc.issue_date.isoformat()}",
            },
            lang=LANG_TAGS.get(doc.language, "en-GB"),
        )
    )
