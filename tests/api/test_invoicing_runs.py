"""REST API: billing runs (start, list, progress with the drafts), invoicing settings (GET,
PUT with problems per field) and billing profiles (scope `invoices`), audited as the key."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import TestCase

from apps.invoicing import api as invoicing_api
from apps.parties.models import AuditEntry
from tests.api.conftest import World, key_with

pytestmark = pytest.mark.django_db


def test_start_a_run_see_its_progress_and_drafts(world_a: World, monkeypatch: Any) -> None:
    sent: list[Any] = []
    monkeypatch.setattr("apps.invoicing.jobs.enqueue", lambda *a, **kw: sent.append(a))
    client = world_a.client()
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(
            "/api/v1/billing-runs",
            {"frequency": "MONTHLY", "period_start": "2026-03-01"},
            format="json",
        )
    assert created.status_code == 201, created.content
    run = created.json()
    assert (run["status"], run["trigger"], run["frequency"]) == ("QUEUED", "MANUAL", "MONTHLY")
    assert run["period_start"] == "2026-02-28T23:00:00Z"
    assert run["period_end"] == "2026-03-31T22:00:00Z"
    assert sent == [("invoicing.run_billing", run["id"])]
    entry = AuditEntry.objects.get(action="billing_run.start", object_id=str(run["id"]))
    assert entry.actor_api_key_id is not None

    invoicing_api.billing_run_execute(run_id=run["id"])
    got = client.get(f"/api/v1/billing-runs/{run['id']}").json()
    assert (got["status"], got["percent"], got["documents"]) == ("DONE", 100, [])

    listed = client.get("/api/v1/billing-runs?status=DONE").json()
    assert [r["id"] for r in listed["data"]] == [run["id"]]


def test_a_period_that_has_not_ended_is_refused(world_a: World) -> None:
    response = world_a.client().post(
        "/api/v1/billing-runs", {"period_start": "2999-01-01"}, format="json"
    )
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["path"] == "$.period_start" and "a run can start after it ends" in error["message"]


def test_settings_get_put_and_problems(world_a: World) -> None:
    client = world_a.client()
    defaults = client.get("/api/v1/invoicing-settings").json()
    assert defaults["saved"] is False and defaults["timezone"] == "Europe/Amsterdam"

    bad = client.put(
        "/api/v1/invoicing-settings",
        {"prefix_credit_note": "INV", "timezone": "Nowhere/Else"},
        format="json",
    )
    assert bad.status_code == 422, bad.content
    assert {e["path"] for e in bad.json()["errors"]} == {"$.prefix_credit_note", "$.timezone"}

    ok = client.put(
        "/api/v1/invoicing-settings",
        {"legal_name": "A B.V.", "country": "NL", "grace_days": 2},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["saved"] is True and ok.json()["grace_days"] == 2
    assert AuditEntry.objects.filter(action="invoicing_settings.update").count() == 1


def test_billing_profiles_set_and_list(world_a: World, world_b: World) -> None:
    client = world_a.client()
    body = {"kind": "PAYEE", "counterparty_id": world_a.ids["payee_id"], "frequency": "WEEKLY"}
    response = client.post("/api/v1/billing-profiles", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["counterparty_name"] == "Owner"
    listed = client.get("/api/v1/billing-profiles?kind=PAYEE").json()["data"]
    assert [p["frequency"] for p in listed] == ["WEEKLY"]

    foreign = {**body, "counterparty_id": world_b.ids["payee_id"]}
    assert client.post("/api/v1/billing-profiles", foreign, format="json").status_code == 404
    assert world_b.client().get("/api/v1/billing-profiles").json()["data"] == []


def test_scope_invoices_is_needed(world_a: World) -> None:
    key = key_with(world_a.tenant.pk, "invoices:read")
    client = world_a.client(key)
    assert client.get("/api/v1/billing-runs").status_code == 200
    refused = client.post("/api/v1/billing-runs", {"period_start": "2026-03-01"}, format="json")
    assert refused.status_code == 403
    other = world_a.client(key_with(world_a.tenant.pk, "billing:read"))
    assert other.get("/api/v1/invoicing-settings").status_code == 403
