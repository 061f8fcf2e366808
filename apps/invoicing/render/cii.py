"""UN/CEFACT Cross Industry Invoice (D16B) in the EN 16931 profile (Factur-X level EN 16931),
built with drafthorse and checked with factur-x's `xml_check_xsd` against the Factur-X
EN16931 XSD (ADR 0038). It is the XML file of the document and the one embedded in its
Factur-X PDF. Quantities and prices as in the UBL (`ubl.line_quantity`)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _
from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document as CiiDocument
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem

from apps.invoicing.arithmetic import EXEMPTION_REVERSE_CHARGE
from apps.invoicing.contracts import VatCategory
from apps.invoicing.render.data import DocumentData, PartyData
from apps.invoicing.render.ubl import (
    EXEMPTION_CODES,
    PAYMENT_MEANS_CREDIT_TRANSFER,
    PAYMENT_MEANS_SEPA,
    SEPA_COUNTRIES,
    InvalidXml,
    line_name,
    line_quantity,
)

GUIDELINE_EN16931 = "urn:cen.eu:en16931:2017"
DRAFTHORSE_SCHEMA = "FACTUR-X_EN16931"


def _rate(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _party(target: object, party: PartyData) -> None:
    target.name = party.name or party.email or "-"  # type: ignore[attr-defined]
    if party.company_id:
        target.legal_organization.id = ("", party.company_id)  # type: ignore[attr-defined]
    address = target.address  # type: ignore[attr-defined]
    if party.postal_code:
        address.postcode = party.postal_code
    if party.address:
        address.line_one = party.address
    if party.city:
        address.city_name = party.city
    address.country_id = party.country or "NL"
    if party.email:
        target.electronic_address.uri_ID = ("EM", party.email)  # type: ignore[attr-defined]
    if party.vat_number:
        target.tax_registrations.add(TaxRegistration(id=("VA", party.vat_number)))  # type: ignore[attr-defined]


def _exemption(category: str, reason: str) -> tuple[str, str]:
    if category not in (VatCategory.EXEMPT, VatCategory.REVERSE_CHARGE):
        return "", ""
    default = EXEMPTION_REVERSE_CHARGE if category == VatCategory.REVERSE_CHARGE else "Exempt"
    return reason or default, EXEMPTION_CODES.get(category, "")


def cii_xml(doc: DocumentData) -> bytes:
    """The CII document of `doc` as UTF-8 bytes. drafthorse validates it against its copy of
    the Factur-X EN16931 XSD while serializing; `cii_check` checks it with factur-x's."""
    with translation.override(doc.language):
        return _cii_xml(doc)


def _cii_xml(doc: DocumentData) -> bytes:
    cii = CiiDocument()
    cii.context.guideline_parameter.id = GUIDELINE_EN16931
    cii.header.id = doc.number
    cii.header.type_code = doc.type_code
    cii.header.issue_date_time = doc.issue_date
    if doc.is_self_billing:
        cii.header.notes.add(IncludedNote(content=_("Self-billing")))
    if doc.is_credit_note and doc.reason:
        cii.header.notes.add(IncludedNote(content=doc.reason[:300]))

    trade = cii.trade
    for line in doc.lines:
        item = LineItem()
        item.document.line_id = str(line.position)
        item.product.name = line_name(doc, line)
        if line.location or line.evse:
            item.product.description = " ".join(x for x in (line.location, line.evse) if x)
        quantity, unit = line_quantity(line)
        item.agreement.net.amount = abs(doc.amount(line.net))
        item.agreement.net.basis_quantity = (abs(quantity), unit)
        item.delivery.billed_quantity = (quantity, unit)
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = line.vat_category
        item.settlement.trade_tax.rate_applicable_percent = _rate(line.vat_rate)
        if line.session_start and line.session_end:
            item.settlement.period.start = line.session_start.astimezone(doc.timezone).date()
            item.settlement.period.end = line.session_end.astimezone(doc.timezone).date()
        item.settlement.monetary_summation.total_amount = doc.amount(line.net)
        trade.items.add(item)

    trade.agreement.buyer_reference = doc.buyer.reference or doc.number
    _party(trade.agreement.seller, doc.seller)
    _party(trade.agreement.buyer, doc.buyer)
    if doc.period_end:
        trade.delivery.event.occurrence = doc.period_end

    settlement = trade.settlement
    settlement.payment_reference = doc.number
    settlement.currency_code = doc.currency
    if doc.payment_iban and not doc.is_credit_note:
        means = PaymentMeans()
        sepa = doc.payment_iban[:2] in SEPA_COUNTRIES
        means.type_code = PAYMENT_MEANS_SEPA if sepa else PAYMENT_MEANS_CREDIT_TRANSFER
        means.payee_account.iban = doc.payment_iban
        if doc.seller.name:
            means.payee_account.account_name = doc.seller.name
        if doc.payment_bic:
            means.payee_institution.bic = doc.payment_bic
        settlement.payment_means.add(means)
    for g in doc.groups:
        tax = ApplicableTradeTax()
        tax.calculated_amount = doc.amount(g.vat)
        tax.type_code = "VAT"
        reason, code = _exemption(g.category, g.exemption_reason)
        if reason:
            tax.exemption_reason = reason
        tax.basis_amount = doc.amount(g.taxable)
        tax.category_code = g.category
        if code:
            tax.exemption_reason_code = code
        tax.rate_applicable_percent = _rate(g.rate)
        settlement.trade_tax.add(tax)
    if doc.period_start and doc.period_end:
        settlement.period.start = doc.period_start
        settlement.period.end = doc.period_end
    if doc.due_date and not doc.is_credit_note:
        terms = PaymentTerms()
        terms.due = doc.due_date
        settlement.terms.add(terms)
    total = settlement.monetary_summation
    total.line_total = doc.amount(doc.net_total)
    total.charge_total = doc.amount(Decimal(0))
    total.allowance_total = doc.amount(Decimal(0))
    total.tax_basis_total = doc.amount(doc.net_total)
    total.tax_total = (doc.amount(doc.vat_total), doc.currency)
    total.grand_total = doc.amount(doc.total)
    total.due_amount = doc.amount(doc.total)
    if doc.is_credit_note and doc.credits_number:
        settlement.invoice_referenced_document.issuer_assigned_id = doc.credits_number
        if doc.credits_issue_date:
            settlement.invoice_referenced_document.issue_date_time = doc.credits_issue_date
    return bytes(cii.serialize(schema=DRAFTHORSE_SCHEMA))


def cii_check(xml: bytes) -> None:
    """Validate `xml` with factur-x against the Factur-X EN16931 XSD; InvalidXml if not."""
    import facturx  # seconds to import: only where it is used (see render.pdf)

    try:
        facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    except Exception as exc:  # factur-x raises a bare Exception with the XSD error
        raise InvalidXml(f"Factur-X EN16931 schema: {exc}") from exc
