"""REST: documents (scope `invoices`): list with filters and cursor, detail with lines and
VAT, finalize, discard, credit notes (full, partial, twice refused), problem+json errors,
Idempotency-Key, the buying tenant's read-only view, scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.invoicing.models import Document, DocumentLine
from tests.factories import OperatorFactory
from tests.invoicing.documents_world import PERIOD_END, draft

pytestmark = pytest.mark.django_db
URL = "/api/v1/documents"


def _client(tenant: Any, *scopes: str) -> APIClient:
    _, key = integrations_api.api_key_create(
        tenant_id=tenant.pk,
        name="invoicing",
        scopes=list(scopes or ["invoices:read", "invoices:write"]),
        actor=Actor.system("tests"),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def tenant() -> Any:
    return OperatorFactory(slug="api-docs", name="API Docs CPO")


def test_list_filter_and_cursor(tenant: Any) -> None:
    a = draft(tenant, buyer_name="Alice")
    b = draft(tenant, buyer_name="Bob")
    c = draft(tenant, buyer_name="Carol", period_end=None)
    client = _client(tenant, "invoices:read")
    page = client.get(URL, {"limit": 2}).json()
    assert [d["id"] for d in page["data"]] == [a.pk, b.pk]
    assert page["data"][0]["total"] == 12.1
    assert page["data"][0]["type"] == "CUSTOMER_INVOICE"
    assert page["data"][0]["counterparty"] == "Alice"
    nxt = client.get(URL, {"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [d["id"] for d in nxt["data"]] == [c.pk]
    assert nxt["next_cursor"] is None
    found = client.get(URL, {"counterparty": "bo"}).json()["data"]
    assert [d["id"] for d in found] == [b.pk]
    found = client.get(URL, {"period_from": "2026-02-01T00:00:00Z"}).json()["data"]
    assert [d["id"] for d in found] == [a.pk, b.pk]
    bad = client.get(URL, {"status": "PAID"})
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"


def test_finalize_detail_discard_and_credit(tenant: Any) -> None:
    doc = draft(tenant, [("10.00", "21"), ("2.00", "0", "HCC_E home")])
    other = draft(tenant)
    client = _client(tenant)
    early = client.post(f"{URL}/{doc.pk}/finalize")
    # The test's clock is real time, long after the period and its grace: finalized.
    assert early.status_code == 200, early.content
    body = early.json()
    assert body["status"] == "FINALIZED"
    assert body["number"].startswith("INV-") and body["number"].endswith("-000001")
    assert [ln["net"] for ln in body["lines"]] == [10.0, 2.0]
    assert body["vat_breakdown"] == [
        {
            "category": "E",
            "rate": 0.0,
            "taxable": 2.0,
            "vat": 0.0,
            "exemption_reason": "HCC_E home",
        },
        {"category": "S", "rate": 21.0, "taxable": 10.0, "vat": 2.1, "exemption_reason": ""},
    ]
    again = client.post(f"{URL}/{doc.pk}/finalize")
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    refused = client.post(f"{URL}/{doc.pk}/discard", {"reason": "oops"}, format="json")
    assert refused.status_code == 409
    gone = client.post(f"{URL}/{other.pk}/discard", {"reason": "duplicate"}, format="json")
    assert gone.status_code == 200
    assert gone.json()["status"] == "DISCARDED"
    no_reason = client.post(f"{URL}/{other.pk}/discard", {}, format="json")
    assert no_reason.status_code == 422
    first_line = DocumentLine.objects.filter(document=doc).order_by("position")[0]
    partial = client.post(
        f"{URL}/{doc.pk}/credit-notes",
        {"reason": "price error", "line_ids": [first_line.pk]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="credit-1",
    )
    assert partial.status_code == 201, partial.content
    note = partial.json()
    assert note["type"] == "CREDIT_NOTE" and note["credits_id"] == doc.pk
    assert note["total"] == 12.1
    assert note["original"]["id"] == doc.pk
    replay = client.post(
        f"{URL}/{doc.pk}/credit-notes",
        {"reason": "price error", "line_ids": [first_line.pk]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="credit-1",
    )
    assert replay.status_code == 201 and replay.json()["id"] == note["id"]
    twice = client.post(
        f"{URL}/{doc.pk}/credit-notes",
        {"reason": "again", "line_ids": [first_line.pk]},
        format="json",
    )
    assert twice.status_code == 409
    rest = client.post(f"{URL}/{doc.pk}/credit-notes", {"reason": "rest"}, format="json")
    assert rest.status_code == 201 and rest.json()["total"] == 2.0
    assert Document.objects.filter(doc_type="CREDIT_NOTE").count() == 2
    detail = client.get(f"{URL}/{doc.pk}").json()
    assert [n["id"] for n in detail["credit_notes"]] == [note["id"], rest.json()["id"]]


def test_grace_refusal_is_409_naming_the_date(tenant: Any, monkeypatch: Any) -> None:
    # The services' clock, fixed: the period ended one day before "now" (grace: 5 days).
    now = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    end = now - timedelta(days=1)
    doc = draft(tenant, period_end=end)
    response = _client(tenant).post(f"{URL}/{doc.pk}/finalize")
    assert response.status_code == 409
    assert "may be finalized from" in response.json()["detail"]
    assert PERIOD_END < end


def test_scopes_and_the_buying_tenant(tenant: Any) -> None:
    buyer = OperatorFactory(slug="api-buyer")
    doc = draft(tenant, buyer_tenant=buyer)
    reader = _client(tenant, "invoices:read")
    assert reader.post(f"{URL}/{doc.pk}/finalize").status_code == 403
    assert _client(tenant, "finance:read").get(URL).status_code == 403
    theirs = _client(buyer)
    assert theirs.get(f"{URL}/{doc.pk}").status_code == 404  # a draft: not yet theirs to see
    assert _client(tenant).post(f"{URL}/{doc.pk}/finalize").status_code == 200
    seen = theirs.get(f"{URL}/{doc.pk}")
    assert seen.status_code == 200 and seen.json()["incoming"] is True
    assert [d["id"] for d in theirs.get(URL, {"incoming": "true"}).json()["data"]] == [doc.pk]
    assert theirs.get(URL).json()["data"] == []
    assert (
        theirs.post(f"{URL}/{doc.pk}/credit-notes", {"reason": "x"}, format="json").status_code
        == 404
    )
