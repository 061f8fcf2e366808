"""Finalize, bulk finalize, discard and credit notes (apps.invoicing.services.documents):
numbers, dates, grace, audit, the webhook once, files queued after commit, tenant
isolation; and the document reads (apps.invoicing.selectors.documents)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, ValidationFailed
from apps.integrations.models import WebhookDelivery, WebhookSubscription
from apps.invoicing import api as invoicing_api
from apps.invoicing import jobs
from apps.invoicing.contracts import DocumentType
from apps.invoicing.models import (
    BillingRun,
    Document,
    DocumentLine,
    InvoicingSettings,
    VatBreakdown,
)
from apps.parties.models import AuditEntry
from tests.factories import OperatorFactory
from tests.invoicing.documents_world import AFTER_GRACE, PERIOD_END, draft
from tests.rating.views_world import cdr, line, market

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test: finance clerk")


@pytest.fixture
def tenant() -> Any:
    return OperatorFactory(slug="cpo-docs", name="Docs CPO")


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The invoicing tasks queued (after commit), instead of sending them to a broker."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(jobs, "enqueue", lambda name, *args, **kw: calls.append((name, args)))
    return calls


def _subscribe(tenant: Any) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        tenant=tenant,
        url="https://hooks.example.test/in",
        events=["invoice.finalized", "credit_note.finalized"],
        secret_encrypted="x",
    )


def _finalize(tenant: Any, doc: Document, **kw: Any) -> str:
    return invoicing_api.document_finalize(
        tenant_id=tenant.pk, document_id=doc.pk, actor=ACTOR, now=kw.pop("now", AFTER_GRACE), **kw
    )


def test_finalize_numbers_dates_audit_webhook_and_files(
    tenant: Any, queued: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    _subscribe(tenant)
    first, second = draft(tenant), draft(tenant, [("3.33", "9")])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        n1 = _finalize(tenant, first)
        n2 = _finalize(tenant, second)
    assert (n1, n2) == ("INV-2026-000001", "INV-2026-000002")
    first.refresh_from_db()
    assert first.status == "FINALIZED"
    assert first.number == "INV-2026-000001"
    # 6 April 2026 22:00 UTC is 7 April in Amsterdam (CEST): the tenant's date.
    assert AFTER_GRACE.date() == date(2026, 4, 6)
    assert first.issue_date == date(2026, 4, 7)
    assert first.due_date == date(2026, 4, 21)  # 14 days of payment terms
    assert first.finalized_at == AFTER_GRACE
    assert first.finalized_by_name == "test: finance clerk"
    deliveries = WebhookDelivery.objects.filter(tenant=tenant).order_by("id")
    assert [d.event_type for d in deliveries] == ["invoice.finalized"] * 2
    assert '"number":"INV-2026-000001"' in deliveries[0].body
    assert '"total":12.10' in deliveries[0].body
    entries = AuditEntry.objects.filter(tenant=tenant, action="document.finalize")
    assert sorted(e.object_id for e in entries) == sorted([str(first.pk), str(second.pk)])
    assert entries.get(object_id=str(first.pk)).actor_name == "test: finance clerk"
    # Files are queued only after the commit, once per document.
    assert queued == []
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the webhook dispatch needs a broker; not this test's concern
            pass
    assert (jobs.RENDER_FILES, ([first.pk],)) in queued
    assert (jobs.RENDER_FILES, ([second.pk],)) in queued


def test_finalize_twice_is_refused_and_the_webhook_is_emitted_once(tenant: Any) -> None:
    _subscribe(tenant)
    doc = draft(tenant)
    _finalize(tenant, doc)
    with pytest.raises(Conflict, match="only a draft can be finalized"):
        _finalize(tenant, doc)
    assert WebhookDelivery.objects.filter(tenant=tenant).count() == 1
    assert AuditEntry.objects.filter(tenant=tenant, action="document.finalize").count() == 1


def test_series_per_type_and_year_and_prefix_settings(tenant: Any) -> None:
    InvoicingSettings.objects.create(
        tenant=tenant, year_in_prefix=False, prefix_self_billing="OWN", timezone="UTC"
    )
    inv = draft(tenant)
    sb = draft(tenant, doc_type=DocumentType.SELF_BILLING)
    emsp = draft(tenant, doc_type=DocumentType.EMSP_INVOICE)
    assert _finalize(tenant, sb) == "OWN-000001"
    assert _finalize(tenant, inv) == "INV-000001"
    assert _finalize(tenant, emsp) == "EMSP-000001"
    assert Document.objects.get(pk=inv.pk).issue_date == date(2026, 4, 6)  # UTC date


def test_a_new_year_starts_a_new_series(tenant: Any) -> None:
    a, b = draft(tenant), draft(tenant)
    assert _finalize(tenant, a) == "INV-2026-000001"
    new_year = AFTER_GRACE.replace(year=2027, month=1, day=1, hour=0)
    assert _finalize(tenant, b, now=new_year) == "INV-2027-000001"


def test_grace_period_refusal_names_the_date(tenant: Any) -> None:
    doc = draft(tenant)
    early = PERIOD_END + timedelta(days=4, hours=23)
    with pytest.raises(Conflict) as exc:
        _finalize(tenant, doc, now=early)
    assert "may be finalized from 2026-04-06" in exc.value.message
    assert "grace period of 5 day(s)" in exc.value.message
    doc.refresh_from_db()
    assert (doc.status, doc.number) == ("DRAFT", "")
    assert _finalize(tenant, doc, now=PERIOD_END + timedelta(days=5)) == "INV-2026-000001"


def test_empty_draft_and_wrong_totals_are_refused_and_take_no_number(tenant: Any) -> None:
    empty = Document.objects.create(
        tenant=tenant, doc_type="CUSTOMER_INVOICE", currency="EUR", counterparty_kind="CUSTOMER"
    )
    with pytest.raises(ValidationFailed, match="no lines"):
        _finalize(tenant, empty)
    bad = draft(tenant, [("10.00", "21")])
    Document.objects.filter(pk=bad.pk).update(vat_total=Decimal("2.11"), total=Decimal("12.11"))
    with pytest.raises(Conflict, match="not those of its lines"):
        _finalize(tenant, bad)
    good = draft(tenant)
    assert _finalize(tenant, good) == "INV-2026-000001"  # nothing was used up


def test_another_tenants_document_is_not_found(tenant: Any) -> None:
    other = OperatorFactory(slug="other-docs")
    doc = draft(other)
    with pytest.raises(NotFound):
        _finalize(tenant, doc)
    with pytest.raises(NotFound):
        invoicing_api.document_discard(
            tenant_id=tenant.pk, document_id=doc.pk, actor=ACTOR, reason="x"
        )
    _finalize(other, doc)
    with pytest.raises(NotFound):
        invoicing_api.credit_note_create(
            tenant_id=tenant.pk, document_id=doc.pk, actor=ACTOR, reason="x"
        )
    with pytest.raises(NotFound):
        invoicing_api.document_get(tenant_id=tenant.pk, document_id=doc.pk)
    assert invoicing_api.document_list(tenant_id=tenant.pk) == []


def test_discard_frees_the_rated_lines(tenant: Any) -> None:
    m = market()
    c = cdr(m, emsp=m.partner)
    rated = line(c, "WHOLESALE", 1, tenant=m.cpo_tenant, excl="4.00")
    doc = draft(m.cpo_tenant, [("4.00", "21")], rated_lines=[rated])
    with pytest.raises(ValidationFailed):
        invoicing_api.document_discard(
            tenant_id=m.cpo_tenant.pk, document_id=doc.pk, actor=ACTOR, reason="  "
        )
    invoicing_api.document_discard(
        tenant_id=m.cpo_tenant.pk,
        document_id=doc.pk,
        actor=ACTOR,
        reason="wrong buyer address",
        now=AFTER_GRACE,
    )
    doc.refresh_from_db()
    assert (doc.status, doc.number, doc.reason) == ("DISCARDED", "", "wrong buyer address")
    assert doc.discarded_at == AFTER_GRACE
    assert list(DocumentLine.objects.filter(document=doc).values_list("active", flat=True)) == [
        False
    ]
    # The rated line may be billed again: a new draft takes it (the unique index allows it).
    again = draft(m.cpo_tenant, [("4.00", "21")], rated_lines=[rated])
    assert _finalize(m.cpo_tenant, again) == "INV-2026-000001"
    with pytest.raises(Conflict, match="only a draft can be discarded"):
        invoicing_api.document_discard(
            tenant_id=m.cpo_tenant.pk, document_id=again.pk, actor=ACTOR, reason="late"
        )
    assert AuditEntry.objects.filter(action="document.discard", object_id=str(doc.pk)).count() == 1


def _credit(tenant: Any, doc: Document, line_ids: list[int] | None = None) -> Document:
    pk = invoicing_api.credit_note_create(
        tenant_id=tenant.pk,
        document_id=doc.pk,
        actor=ACTOR,
        reason="price error",
        line_ids=line_ids,
        now=AFTER_GRACE + timedelta(days=1),
    )
    return Document.objects.get(pk=pk)


def test_full_credit_note(tenant: Any) -> None:
    _subscribe(tenant)
    doc = draft(tenant, [("10.00", "21"), ("5.55", "21"), ("2.00", "0", "HCC_E home")])
    _finalize(tenant, doc)
    note = _credit(tenant, doc)
    assert note.doc_type == "CREDIT_NOTE"
    assert note.status == "FINALIZED"
    assert note.number == "CN-2026-000001"
    assert note.credits_id == doc.pk
    assert note.reason == "price error"
    # 15.55 at 21 % -> 3.27 (3.2655 rounded once per group); 2.00 exempt.
    assert (note.net_total, note.vat_total, note.total) == (
        Decimal("17.55"),
        Decimal("3.27"),
        Decimal("20.82"),
    )
    assert note.total == Document.objects.get(pk=doc.pk).total
    lines = list(DocumentLine.objects.filter(document=note).order_by("position"))
    originals = list(DocumentLine.objects.filter(document=doc).order_by("position"))
    assert [ln.credited_line_id for ln in lines] == [o.pk for o in originals]
    assert {ln.kind for ln in lines} == {"CREDIT"}
    assert [ln.rated_line_id for ln in lines] == [None, None, None]
    assert list(
        VatBreakdown.objects.filter(document=note).values_list("category", "taxable", "vat")
    ) == [("E", Decimal("2.00"), Decimal("0")), ("S", Decimal("15.55"), Decimal("3.27"))]
    events = list(WebhookDelivery.objects.filter(tenant=tenant).values_list("event_type"))
    assert events == [("invoice.finalized",), ("credit_note.finalized",)]
    assert AuditEntry.objects.filter(action="credit_note.create", object_id=str(note.pk)).exists()
    # A second full credit note: nothing is left to credit.
    with pytest.raises(Conflict, match="credited in full already"):
        _credit(tenant, doc)
    assert Document.objects.filter(doc_type="CREDIT_NOTE").count() == 1


def test_partial_credit_notes_never_credit_a_line_twice(tenant: Any) -> None:
    doc = draft(tenant, [("10.00", "21"), ("5.55", "21"), ("1.00", "9")])
    _finalize(tenant, doc)
    first, second, third = DocumentLine.objects.filter(document=doc).order_by("position")
    note = _credit(tenant, doc, [second.pk])
    assert (note.net_total, note.vat_total, note.total) == (
        Decimal("5.55"),
        Decimal("1.17"),
        Decimal("6.72"),
    )
    with pytest.raises(Conflict, match="credited already"):
        _credit(tenant, doc, [first.pk, second.pk])
    with pytest.raises(ValidationFailed, match="invalid credit note"):
        _credit(tenant, doc, [999_999])
    # The rest, in full: the lines not credited yet.
    rest = _credit(tenant, doc)
    assert sorted(
        DocumentLine.objects.filter(document=rest).values_list("credited_line_id", flat=True)
    ) == sorted([first.pk, third.pk])
    assert (rest.number, rest.total) == ("CN-2026-000002", Decimal("13.19"))
    detail = invoicing_api.document_get(tenant_id=tenant.pk, document_id=doc.pk)
    assert [n.number for n in detail.credit_notes] == ["CN-2026-000001", "CN-2026-000002"]
    assert detail.credited_line_ids == {first.pk, second.pk, third.pk}
    note_detail = invoicing_api.document_get(tenant_id=tenant.pk, document_id=note.pk)
    assert note_detail.original is not None and note_detail.original.id == doc.pk


def test_a_draft_or_a_credit_note_is_not_credited(tenant: Any) -> None:
    doc = draft(tenant)
    with pytest.raises(Conflict, match="only a finalized document can be credited"):
        _credit(tenant, doc)
    _finalize(tenant, doc)
    note = _credit(tenant, doc)
    with pytest.raises(Conflict, match="credit notes are not credited"):
        _credit(tenant, note)
    assert Document.objects.filter(doc_type="CREDIT_NOTE").count() == 1


def test_bulk_finalize_numbers_in_id_order_and_reports_refusals(tenant: Any) -> None:
    _subscribe(tenant)
    docs = [draft(tenant) for _ in range(7)]
    sb = draft(tenant, doc_type=DocumentType.SELF_BILLING)
    early = draft(tenant, period_end=AFTER_GRACE)  # its grace period has not ended
    done = draft(tenant)
    _finalize(tenant, done)
    other = draft(OperatorFactory(slug="other-bulk"))
    ids = [d.pk for d in [*reversed(docs), sb, early, done, other]]
    result = invoicing_api.documents_finalize(
        tenant_id=tenant.pk, document_ids=ids, actor=ACTOR, now=AFTER_GRACE, chunk_size=3
    )
    assert result.finalized == tuple(
        [(d.pk, f"INV-2026-{n:06d}") for n, d in enumerate(docs, start=2)]
        + [(sb.pk, "SB-2026-000001")]
    )
    assert dict(result.refused).keys() == {early.pk, done.pk, other.pk}
    assert "may be finalized from" in dict(result.refused)[early.pk]
    assert result.chunks == 4
    assert Document.objects.get(pk=early.pk).status == "DRAFT"
    assert WebhookDelivery.objects.filter(tenant=tenant).count() == 9
    assert AuditEntry.objects.filter(tenant=tenant, action="document.finalize").count() == 1 + 3


def test_bulk_finalize_by_run(tenant: Any) -> None:
    run = BillingRun.objects.create(
        tenant=tenant,
        frequency="MONTHLY",
        period_start=PERIOD_END - timedelta(days=31),
        period_end=PERIOD_END,
        trigger="MANUAL",
    )
    a, b = draft(tenant, billing_run=run), draft(tenant, billing_run=run)
    draft(tenant)  # not of the run
    result = invoicing_api.documents_finalize(
        tenant_id=tenant.pk, run_id=run.pk, actor=ACTOR, now=AFTER_GRACE
    )
    assert result.finalized == ((a.pk, "INV-2026-000001"), (b.pk, "INV-2026-000002"))
    assert Document.objects.filter(tenant=tenant, status="DRAFT").count() == 1


def test_lists_filters_and_incoming(tenant: Any) -> None:
    buyer = OperatorFactory(slug="emsp-incoming", name="Incoming eMSP")
    a = draft(tenant, buyer_name="Alice")
    b = draft(tenant, doc_type=DocumentType.EMSP_INVOICE, buyer_name="B drive", buyer_tenant=buyer)
    c = draft(tenant, doc_type=DocumentType.SELF_BILLING, buyer_name=tenant.name)
    _finalize(tenant, a)
    rows = invoicing_api.document_list(tenant_id=tenant.pk)
    assert [r.id for r in rows] == [c.pk, b.pk, a.pk]
    assert [r.id for r in invoicing_api.document_list(tenant_id=tenant.pk, status="DRAFT")] == [
        c.pk,
        b.pk,
    ]
    assert [r.id for r in invoicing_api.document_list(tenant_id=tenant.pk, number="000001")] == [
        a.pk
    ]
    assert [
        r.id for r in invoicing_api.document_list(tenant_id=tenant.pk, counterparty="alic")
    ] == [a.pk]
    assert [
        r.id for r in invoicing_api.document_list(tenant_id=tenant.pk, doc_type="SELF_BILLING")
    ] == [c.pk]
    assert [r.id for r in invoicing_api.document_list(tenant_id=tenant.pk, limit=2)] == [
        c.pk,
        b.pk,
    ]
    assert [
        r.id for r in invoicing_api.document_list(tenant_id=tenant.pk, before_id=b.pk, limit=2)
    ] == [a.pk]
    assert [
        r.id
        for r in invoicing_api.document_list(tenant_id=tenant.pk, after_id=a.pk, newest_first=False)
    ] == [b.pk, c.pk]
    # The buying tenant sees the eMSP invoice only once finalized, read only.
    assert invoicing_api.document_list(tenant_id=buyer.pk, incoming=True) == []
    with pytest.raises(NotFound):
        invoicing_api.document_get(tenant_id=buyer.pk, document_id=b.pk)
    _finalize(tenant, b)
    [row] = invoicing_api.document_list(tenant_id=buyer.pk, incoming=True)
    assert (row.id, row.number) == (b.pk, "EMSP-2026-000001")
    detail = invoicing_api.document_get(tenant_id=buyer.pk, document_id=b.pk)
    assert detail.incoming is True
    assert invoicing_api.document_list(tenant_id=buyer.pk) == []  # not its own
    with pytest.raises(NotFound):
        invoicing_api.document_finalize(
            tenant_id=buyer.pk, document_id=b.pk, actor=ACTOR, now=AFTER_GRACE
        )


def test_document_get_holds_lines_and_vat(tenant: Any) -> None:
    doc = draft(tenant, [("10.00", "21"), ("2.00", "0", "HCC_E home")])
    detail = invoicing_api.document_get(tenant_id=tenant.pk, document_id=doc.pk)
    assert [ln.net for ln in detail.lines] == [Decimal("10.00"), Decimal("2.00")]
    assert [(v.category, v.vat) for v in detail.vat_breakdown] == [
        ("E", Decimal("0")),
        ("S", Decimal("2.10")),
    ]
    assert detail.document.total == Decimal("14.10")
    assert detail.incoming is False and detail.original is None
