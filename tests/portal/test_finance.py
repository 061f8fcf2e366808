"""The finance page: the preview tables of a period, exclusions, adjustments, the diff
against the last preview of this session, dry run and post, batch history and downloads, and
the GL mapping editor; who may change what; clear errors."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.urls import reverse

from apps.invoicing.models import ExportBatch, FinanceAdjustment, FinanceExclusion, GlMapping
from apps.parties.models import AuditEntry
from tests.factories import MembershipFactory, UserFactory
from tests.invoicing.finance_world import world
from tests.portal.world import signed_in_client

pytestmark = pytest.mark.django_db
PERIOD = {"period_start": "2026-03-01", "period_end": "2026-04-01"}


def _user(tenant: Any, role: str) -> Any:
    user = UserFactory(username=f"{role}@{tenant.slug}.test", email=f"{role}@{tenant.slug}.test")
    MembershipFactory(user=user, tenant=tenant, role=role)
    return user


def _url(tenant: Any, name: str, *args: Any) -> str:
    return reverse(f"portal:{name}", args=[tenant.slug, *args])


def test_preview_exclusion_diff_adjustment_dry_run_post_and_download() -> None:
    w = world()
    a = w.m.cpo_tenant
    client = signed_in_client(_user(a, "finance"))
    page = client.get(_url(a, "finance"), PERIOD)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="per-account"' in html and "UNMAPPED" in html
    assert "1 own-charge line(s) (5.00) not exported" in html
    assert "Total EUR: debit 3.00, credit 37.75" in html
    # An exclusion, then the preview again: the diff shows what it removed.
    r = client.post(
        _url(a, "finance_exclusion_add"),
        {**PERIOD, "kind": "PARTY", "value": str(w.m.partner.pk), "reason": "disputed"},
    )
    assert r.status_code == 302 and r["Location"].endswith(
        "?period_start=2026-03-01&period_end=2026-04-01"
    )
    html = client.get(_url(a, "finance"), PERIOD).content.decode()
    assert 'data-testid="diff"' in html and "-13.55" in html  # 11.20 + 2.35 VAT
    assert "disputed" in html
    # An adjustment with a problem says which field, and adds nothing.
    r = client.post(
        _url(a, "finance_adjustment_add"),
        {**PERIOD, "amount": "", "currency": "EUR", "account": "8000", "reason": ""},
    )
    notice = client.get(_url(a, "finance"), PERIOD).content.decode()
    assert (
        "Adjustment not added: amount: give the amount (negative: a credit); reason: say why"
        in notice
    )
    assert FinanceAdjustment.objects.count() == 0
    r = client.post(
        _url(a, "finance_adjustment_add"),
        {**PERIOD, "amount": "-1.50", "currency": "EUR", "account": "8000", "reason": "goodwill"},
    )
    assert FinanceAdjustment.objects.get().author_name == f"finance@{a.slug}.test"
    # Dry run: the files it would write, nothing stored.
    dry = client.post(_url(a, "finance_post"), {**PERIOD, "dry_run": "on"})
    assert dry.status_code == 200 and 'data-testid="dry-run-result"' in dry.content.decode()
    assert ExportBatch.objects.count() == 0
    r = client.post(_url(a, "finance_post"), PERIOD)
    assert r.status_code == 302
    batch = ExportBatch.objects.get()
    html = client.get(_url(a, "finance"), PERIOD).content.decode()
    assert f"Batch {batch.number} posted" in html and 'data-testid="batch-1"' in html
    for kind in ("JOURNAL_CSV", "JOURNAL_JSON", "RECORDS_JSONL"):
        f = client.get(_url(a, "finance_batch_file", batch.pk, kind))
        assert f.status_code == 200 and f.streaming
        body = b"".join(f.streaming_content)
        assert len(body) == int(f["Content-Length"])
        assert hashlib.sha256(body).hexdigest() == f["ETag"].strip('"')
        assert f["ETag"].strip('"')[:14] in html
    retire = client.post(
        _url(a, "finance_exclusion_retire", FinanceExclusion.objects.get().pk), PERIOD
    )
    assert retire.status_code == 302 and FinanceExclusion.objects.get().retired_at is not None
    assert {
        "finance_exclusion.add",
        "finance_adjustment.add",
        "export_batch.post",
        "finance_exclusion.retire",
    } <= set(AuditEntry.objects.values_list("action", flat=True))


def test_a_bad_period_says_why() -> None:
    w = world()
    a = w.m.cpo_tenant
    client = signed_in_client(_user(a, "support"))
    r = client.get(_url(a, "finance"), {"period_start": "2026-04-01", "period_end": "2026-03-01"})
    assert r.status_code == 400
    assert "until (excl.): must be after the first day" in r.content.decode()


def test_gl_mapping_editor_shows_errors_and_saves() -> None:
    w = world()
    a = w.m.cpo_tenant
    client = signed_in_client(_user(a, "finance"))
    assert client.get(_url(a, "finance_gl_mapping")).status_code == 200
    bad = client.post(
        _url(a, "finance_gl_mapping_set"),
        {"role": "REVENUE", "component": "ENERGY", "account": "UNMAPPED"},
    )
    assert bad.status_code == 400
    assert "UNMAPPED is what no mapping means" in bad.content.decode()
    ok = client.post(
        _url(a, "finance_gl_mapping_set"),
        {"role": "REVENUE", "component": "ENERGY", "account": "8000", "cost_centre": "CPO"},
    )
    assert ok.status_code == 302
    assert GlMapping.objects.get().account == "8000"
    assert "8000" in client.get(_url(a, "finance_gl_mapping")).content.decode()


def test_support_reads_but_cannot_change_and_other_tenants_see_nothing() -> None:
    w = world()
    a = w.m.cpo_tenant
    support = signed_in_client(_user(a, "support"))
    html = support.get(_url(a, "finance"), PERIOD).content.decode()
    assert 'data-testid="per-account"' in html and 'data-testid="post-form"' not in html
    assert support.post(_url(a, "finance_post"), PERIOD).status_code == 403
    assert (
        support.post(
            _url(a, "finance_exclusion_add"),
            {**PERIOD, "kind": "ACCOUNT", "value": "1", "reason": "x"},
        ).status_code
        == 403
    )
    finance = signed_in_client(_user(a, "finance"))
    finance.post(_url(a, "finance_post"), PERIOD)
    batch = ExportBatch.objects.get()
    c = w.m.other_tenant
    stranger = signed_in_client(_user(c, "platform_admin"))
    html = stranger.get(_url(c, "finance"), PERIOD).content.decode()
    assert "Nothing to export in this period." in html and "Nothing posted yet." in html
    assert stranger.get(_url(c, "finance_batch_file", batch.pk, "JOURNAL_CSV")).status_code == 404
