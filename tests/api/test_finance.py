"""REST: the finance export (scope `finance`): GL mapping, exclusions, adjustments, the
preview, posting (dry run and for real), batches and byte-identical file downloads, problem
responses and tenant isolation."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.invoicing.models import ExportBatch, ExportedLine
from apps.parties.models import AuditEntry
from tests.invoicing.finance_world import world

pytestmark = pytest.mark.django_db
URL = "/api/v1"
PERIOD = {"period_start": "2026-03-01T00:00:00Z", "period_end": "2026-04-01T00:00:00Z"}


def _client(tenant: object, *scopes: str) -> APIClient:
    _, key = integrations_api.api_key_create(
        tenant_id=tenant.pk,  # type: ignore[attr-defined]
        name="finance",
        scopes=list(scopes or ["finance:read", "finance:write"]),
        actor=Actor.system("tests"),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_mapping_preview_post_and_download() -> None:
    w = world()
    api = _client(w.m.cpo_tenant)
    r = api.post(
        f"{URL}/finance/gl-mappings",
        {"role": "REVENUE", "component": "ENERGY", "account": "8000", "cost_centre": "CPO"},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert api.get(f"{URL}/finance/gl-mappings").json()["data"][0]["account"] == "8000"
    r = api.get(f"{URL}/finance/preview", PERIOD)
    assert r.status_code == 200, r.content
    body = r.json()
    accounts = {(t["key"], t["currency"]): t for t in body["per_account"]}
    assert accounts[("8000", "EUR")]["credit"] == 31.2
    assert body["own_charge_lines"] == 1 and body["cdr_count"] == 3
    assert body["unmapped"] is True  # VAT and COST are not mapped
    dry = api.post(f"{URL}/export-batches", {**PERIOD, "dry_run": True}, format="json")
    assert dry.status_code == 200, dry.content
    assert dry.json()["batch"] is None and ExportBatch.objects.count() == 0
    posted = api.post(f"{URL}/export-batches", PERIOD, format="json")
    assert posted.status_code == 201, posted.content
    batch = posted.json()["batch"]
    assert batch["number"] == 1 and batch["cdr_count"] == 3
    again = api.post(f"{URL}/export-batches", PERIOD, format="json")
    assert again.status_code == 200 and again.json()["existing"] is True
    assert again.json()["batch"]["files"] == batch["files"]
    listed = api.get(f"{URL}/export-batches").json()
    assert [b["id"] for b in listed["data"]] == [batch["id"]]
    assert api.get(f"{URL}/export-batches/{batch['id']}").json()["files"] == batch["files"]
    for f in batch["files"]:
        first = api.get(f"{URL}/export-batches/{batch['id']}/files/{f['kind']}")
        second = api.get(f"{URL}/export-batches/{batch['id']}/files/{f['kind']}")
        assert first.status_code == 200 and first.streaming
        body = b"".join(first.streaming_content)
        assert body == b"".join(second.streaming_content)
        assert len(body) == f["size"] == int(first["Content-Length"])
        assert hashlib.sha256(body).hexdigest() == f["sha256"] == first["ETag"][1:-1]
    assert api.get(f"{URL}/export-batches/{batch['id']}/files/PDF").status_code == 404
    assert AuditEntry.objects.filter(action="export_batch.post", actor_api_key_id__isnull=False)


def test_exclusions_and_adjustments_over_rest() -> None:
    w = world()
    api = _client(w.m.cpo_tenant)
    r = api.post(
        f"{URL}/finance/exclusions",
        {"kind": "PAYEE", "value": str(w.payee.pk), "reason": "owner disputes meter"},
        format="json",
    )
    assert r.status_code == 201, r.content
    ex = r.json()
    preview = api.get(f"{URL}/finance/preview", PERIOD).json()
    assert preview["excluded"][0]["reason"] == "owner disputes meter"
    r = api.post(f"{URL}/finance/exclusions/{ex['id']}/retire", format="json")
    assert r.status_code == 200 and r.json()["retired_at"]
    assert api.post(f"{URL}/finance/exclusions/{ex['id']}/retire").status_code == 409
    r = api.post(
        f"{URL}/finance/adjustments",
        {**PERIOD, "amount": -2.5, "currency": "EUR", "account": "8000", "reason": "goodwill"},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["author_name"].startswith("API key")
    page = api.get(f"{URL}/finance/adjustments").json()
    assert page["data"][0]["amount"] == -2.5 and page["next_cursor"] is None
    bad = api.post(
        f"{URL}/finance/adjustments",
        {**PERIOD, "amount": 0, "currency": "EUR", "account": "8000", "reason": "x"},
        format="json",
    )
    assert bad.status_code == 422
    assert bad["Content-Type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["path"] == "$.amount"
    unended = api.post(
        f"{URL}/export-batches",
        {"period_start": "2026-03-01T00:00:00Z", "period_end": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert unended.status_code == 422


def test_scopes_and_tenant_isolation() -> None:
    w = world()
    reader = _client(w.m.cpo_tenant, "finance:read")
    assert reader.get(f"{URL}/finance/preview", PERIOD).status_code == 200
    assert reader.post(f"{URL}/export-batches", PERIOD, format="json").status_code == 403
    other = _client(w.m.cpo_tenant, "invoices:read", "invoices:write")
    assert other.get(f"{URL}/finance/preview", PERIOD).status_code == 403
    posted = _client(w.m.cpo_tenant).post(f"{URL}/export-batches", PERIOD, format="json")
    batch_id = posted.json()["batch"]["id"]
    stranger = _client(w.m.other_tenant)
    assert stranger.get(f"{URL}/export-batches/{batch_id}").status_code == 404
    assert stranger.get(f"{URL}/export-batches/{batch_id}/files/JOURNAL_CSV").status_code == 404
    assert stranger.get(f"{URL}/export-batches").json()["data"] == []
    preview = stranger.get(f"{URL}/finance/preview", PERIOD).json()
    assert preview["journal"] == [] and preview["rated_lines"] == 0
    assert ExportedLine.objects.filter(tenant=w.m.other_tenant).count() == 0
