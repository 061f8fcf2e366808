"""The portal's invoices pages: the list with filters and the incoming tab, a document's
page (lines by section, VAT summary, totals, credit notes, the files tag), and its
Finalize, Discard and Credit forms with their errors; roles and tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.invoicing.models import Document, DocumentLine
from tests.factories import MembershipFactory, OperatorFactory, UserFactory
from tests.invoicing.documents_world import draft
from tests.portal.world import signed_in_client

pytestmark = pytest.mark.django_db


def _user(tenant: Any, role: str) -> Any:
    user = UserFactory(username=f"{role}@{tenant.slug}.test", email=f"{role}@{tenant.slug}.test")
    MembershipFactory(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def tenant() -> Any:
    return OperatorFactory(slug="portal-docs", name="Portal Docs CPO")


def _url(name: str, tenant: Any, *args: Any) -> str:
    return reverse(f"portal:{name}", args=[tenant.slug, *args])


def test_list_filters_and_nav(tenant: Any) -> None:
    a = draft(tenant, buyer_name="Alice Anders")
    b = draft(tenant, buyer_name="Bob Brown")
    client = signed_in_client(_user(tenant, "finance"))
    r = client.get(_url("documents", tenant))
    assert r.status_code == 200
    html = r.content.decode()
    assert "Alice Anders" in html and "Bob Brown" in html
    assert _url("documents", tenant) in html  # the nav entry
    assert ">Invoices<" in html
    r = client.get(_url("documents", tenant), {"counterparty": "bob"})
    assert "Bob Brown" in r.content.decode() and "Alice Anders" not in r.content.decode()
    r = client.get(_url("documents", tenant), {"period": "2026-03"})
    assert "Alice Anders" in r.content.decode()
    r = client.get(_url("documents", tenant), {"period": "2026-04"})
    assert "Alice Anders" not in r.content.decode()
    bad = client.get(_url("documents", tenant), {"period": "March"})
    assert bad.status_code == 400
    assert "give a month as YYYY-MM" in bad.content.decode()
    assert a.pk and b.pk


def test_detail_shows_lines_vat_totals_and_files(tenant: Any) -> None:
    doc = draft(tenant, [("10.00", "21"), ("2.00", "0", "HCC_E home")])
    client = signed_in_client(_user(tenant, "support"))
    r = client.get(_url("document", tenant, doc.pk))
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="lines-PERIOD"' in html
    assert "Damrak 1, Amsterdam" in html
    assert "HCC_E home" in html
    assert "<strong>14.10</strong>" in html
    assert 'data-testid="finalize"' not in html  # support may not finalize
    other = OperatorFactory(slug="portal-docs-other")
    theirs = draft(other)
    assert client.get(_url("document", tenant, theirs.pk)).status_code == 404


def test_finalize_and_its_grace_error(tenant: Any) -> None:
    client = signed_in_client(_user(tenant, "finance"))
    recent = draft(tenant, period_end=datetime.now(UTC) - timedelta(days=1))
    r = client.post(_url("document_finalize", tenant, recent.pk))
    assert r.status_code == 409
    assert "may be finalized from" in r.content.decode()
    assert Document.objects.get(pk=recent.pk).status == "DRAFT"
    doc = draft(tenant)
    r = client.post(_url("document_finalize", tenant, doc.pk))
    assert r.status_code == 302
    doc.refresh_from_db()
    assert doc.status == "FINALIZED" and doc.number.endswith("-000001")
    assert doc.finalized_by_name == "finance@portal-docs.test"
    page = client.get(r["Location"]).content.decode()
    assert f"Finalized as {doc.number}." in page
    assert 'data-testid="credit"' in page
    assert client.post(_url("document_finalize", tenant, doc.pk)).status_code == 409


def test_discard_form_errors_and_discard(tenant: Any) -> None:
    client = signed_in_client(_user(tenant, "cpo_admin"))
    doc = draft(tenant)
    r = client.post(_url("document_discard", tenant, doc.pk), {"reason": ""})
    assert r.status_code == 400
    assert "say why the draft is discarded" in r.content.decode()
    r = client.post(_url("document_discard", tenant, doc.pk), {"reason": "duplicate"})
    assert r.status_code == 302
    doc.refresh_from_db()
    assert (doc.status, doc.reason) == ("DISCARDED", "duplicate")


def test_credit_chosen_lines_full_and_errors(tenant: Any) -> None:
    client = signed_in_client(_user(tenant, "finance"))
    doc = draft(tenant, [("10.00", "21"), ("5.00", "21")])
    client.post(_url("document_finalize", tenant, doc.pk))
    first, second = DocumentLine.objects.filter(document=doc).order_by("position")
    r = client.post(_url("document_credit", tenant, doc.pk), {"mode": "lines", "reason": "x"})
    assert r.status_code == 400
    assert "choose at least one line to credit" in r.content.decode()
    r = client.post(_url("document_credit", tenant, doc.pk), {"mode": "full", "reason": ""})
    assert r.status_code == 400 and "say why it is credited" in r.content.decode()
    r = client.post(
        _url("document_credit", tenant, doc.pk),
        {"mode": "lines", "line": [str(second.pk)], "reason": "wrong price"},
    )
    assert r.status_code == 302
    note = Document.objects.get(doc_type="CREDIT_NOTE")
    assert r["Location"] == _url("document", tenant, note.pk)
    page = client.get(r["Location"]).content.decode()
    assert f"Credit note {note.number} issued for 6.05 EUR." in page
    assert 'data-testid="original"' in page
    original = client.get(_url("document", tenant, doc.pk)).content.decode()
    assert note.number in original and 'data-testid="credited"' in original
    # Line 2 again (a stale form): refused with the reason on the page.
    r = client.post(
        _url("document_credit", tenant, doc.pk),
        {"mode": "lines", "line": [str(second.pk)], "reason": "again"},
    )
    assert r.status_code == 409 and "credited already" in r.content.decode()
    r = client.post(_url("document_credit", tenant, doc.pk), {"mode": "full", "reason": "rest"})
    assert r.status_code == 302
    assert Document.objects.filter(doc_type="CREDIT_NOTE").count() == 2
    assert first.pk


def test_support_may_not_change_documents(tenant: Any) -> None:
    client = signed_in_client(_user(tenant, "support"))
    doc = draft(tenant)
    assert client.post(_url("document_finalize", tenant, doc.pk)).status_code == 403
    assert client.post(_url("document_discard", tenant, doc.pk), {"reason": "x"}).status_code == 403
    assert Document.objects.get(pk=doc.pk).status == "DRAFT"


def test_incoming_tab_of_a_marketplace_emsp(tenant: Any) -> None:
    buyer = OperatorFactory(slug="portal-buyer", name="Buyer eMSP", marketplace=True)
    doc = draft(tenant, buyer_tenant=buyer, buyer_name="Buyer eMSP")
    signed_in_client(_user(tenant, "finance")).post(_url("document_finalize", tenant, doc.pk))
    doc.refresh_from_db()
    client = signed_in_client(_user(buyer, "emsp_admin"))
    listing = client.get(_url("documents", buyer)).content.decode()
    assert 'data-testid="incoming-tab"' in listing and doc.number not in listing
    incoming = client.get(_url("documents", buyer), {"tab": "incoming"}).content.decode()
    assert doc.number in incoming
    page = client.get(_url("document", buyer, doc.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Addressed to you by another tenant" in html and 'data-testid="credit"' not in html
    r = client.post(_url("document_credit", buyer, doc.pk), {"mode": "full", "reason": "x"})
    assert r.status_code == 404


def test_list_and_detail_queries_do_not_grow_with_rows(tenant: Any) -> None:
    client = signed_in_client(_user(tenant, "finance"))
    few = draft(tenant, [("1.00", "21")] * 2)
    url = _url("documents", tenant)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
        client.get(_url("document", tenant, few.pk))
    many = draft(tenant, [("1.00", "21")] * 20)
    for _ in range(10):
        draft(tenant)
    with CaptureQueriesContext(connection) as large:
        client.get(url)
        client.get(_url("document", tenant, many.pk))
    assert len(large) == len(small)
