"""Portal: billing runs (list with live progress, start form with clear errors, a run's drafts),
invoicing settings (form errors per field, read-only for support) and billing profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.urls import reverse

from apps.invoicing import api as invoicing
from apps.invoicing.models import BillingRun, InvoicingSettings
from apps.parties.models import AuditEntry
from tests.factories import CdrFactory
from tests.portal.world import signed_in_client
from tests.rating import views_world as vw

ENDED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _url(a: Any, name: str, *args: object) -> str:
    return reverse(f"portal:{name}", args=[a.operator.slug, *args])


def _rated(a: Any) -> Any:
    """A CDR of A that ended on 10 March 2026, rated for A's customer."""
    cdr = CdrFactory(
        session=None,
        tenant=a.operator,
        party=a.party,
        start_date_time=ENDED - timedelta(hours=1),
        end_date_time=ENDED,
    )
    return vw.line(cdr, "RETAIL", 1, tenant=a.operator, excl="12.34", buyer_customer=a.customer)


def test_start_a_run_follow_it_and_see_its_draft(world) -> None:
    a, b = world
    _rated(a)
    period = invoicing.period_containing("MONTHLY", ENDED, "Europe/Amsterdam")
    client = signed_in_client(a.users["finance"])
    listing = client.get(_url(a, "billing_runs"))
    assert listing.status_code == 200
    assert (
        b"No billing runs yet." in listing.content and b'data-testid="run-form"' in listing.content
    )
    assert b"Billing runs" in listing.content  # the nav entry

    started = client.post(
        _url(a, "billing_run_start"),
        {"frequency": "MONTHLY", "period_start": period.first_day.isoformat()},
    )
    run = BillingRun.objects.get(tenant=a.operator)
    assert started.status_code == 302 and started["Location"] == _url(a, "billing_run", run.pk)
    entry = AuditEntry.objects.get(action="billing_run.start")
    assert entry.actor_id == a.users["finance"].pk
    assert run.actor_name == a.users["finance"].email  # "started by" on the pages

    queued = client.get(_url(a, "billing_runs")).content.decode()
    assert 'hx-trigger="every 2s"' in queued and period.first_day.strftime("%B %Y") in queued
    rows = client.get(_url(a, "billing_runs") + "?fragment=rows").content.decode()
    assert f'data-testid="run-{run.pk}"' in rows and "Queued" in rows

    invoicing.billing_run_execute(run_id=run.pk)

    detail = client.get(_url(a, "billing_run", run.pk)).content.decode()
    assert "Done" in detail and "every 2s" not in detail and "Customer invoice" in detail
    doc_id = run.documents.get().pk
    assert f'href="/portal/{a.operator.slug}/invoices/{doc_id}/"' in detail
    assert "12.34 EUR" in detail and "14.93" in detail  # 12.34 + 21 % (2.59)
    assert a.customer.name in detail
    # Tenant B sees none of it.
    other = signed_in_client(b.users["platform_admin"])
    assert other.get(_url(b, "billing_run", run.pk)).status_code == 404
    assert f"run-{run.pk}".encode() not in other.get(_url(b, "billing_runs")).content


def test_start_form_errors_are_shown(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["platform_admin"])
    missing = client.post(_url(a, "billing_run_start"), {"frequency": "MONTHLY"})
    assert missing.status_code == 422
    assert b"choose a day of the period to bill" in missing.content
    future = "2999-01-01"  # its month has not ended
    refused = client.post(
        _url(a, "billing_run_start"), {"frequency": "MONTHLY", "period_start": future}
    )
    assert refused.status_code == 422
    assert b"a run can start after it ends" in refused.content and b"Not started" in refused.content
    assert BillingRun.objects.count() == 0


def test_support_reads_but_cannot_start_or_edit(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["support"])
    listing = client.get(_url(a, "billing_runs")).content
    assert b'data-testid="run-form"' not in listing
    settings = client.get(_url(a, "invoicing_settings")).content
    assert b'data-testid="settings"' in settings and b"settings-form" not in settings
    assert b"profile-form" not in settings
    assert client.post(_url(a, "billing_run_start"), {}).status_code == 403
    assert client.post(_url(a, "invoicing_settings_save"), {}).status_code == 403


def _settings_post(**changes: Any) -> dict[str, Any]:
    body = {
        "legal_name": "A Charging B.V.",
        "country": "NL",
        "vat_number": "NL004495445B01",
        "timezone": "Europe/Amsterdam",
        "default_language": "nl",
        "grace_days": "3",
        "payment_terms_days": "30",
        "year_in_prefix": "on",
        "prefix_customer_invoice": "INV",
        "prefix_emsp_invoice": "EMSP",
        "prefix_self_billing": "SB",
        "prefix_credit_note": "CN",
    }
    body.update(changes)
    return body


def test_settings_saved_and_problems_shown_per_field(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    page = client.get(_url(a, "invoicing_settings")).content
    assert b"Nothing saved yet" in page and b'value="Europe/Amsterdam"' in page

    bad = client.post(
        _url(a, "invoicing_settings_save"),
        _settings_post(vat_number="NL123", prefix_credit_note="inv", timezone="Mars/Base"),
    )
    assert bad.status_code == 422
    text = bad.content.decode()
    assert "Not saved" in text and "is not a valid EU VAT number" in text
    assert "the same as prefix_customer_invoice" in text and "not a known IANA timezone" in text
    assert not InvoicingSettings.objects.exists()

    ok = client.post(_url(a, "invoicing_settings_save"), _settings_post())
    assert ok.status_code == 302
    saved = InvoicingSettings.objects.get(tenant=a.operator)
    assert (saved.legal_name, saved.grace_days, saved.default_language) == (
        "A Charging B.V.",
        3,
        "nl",
    )
    assert b"Invoicing settings saved." in client.get(_url(a, "invoicing_settings")).content


def test_billing_profiles_for_own_counterparties(world) -> None:
    a, b = world
    client = signed_in_client(a.users["emsp_admin"])
    ok = client.post(
        _url(a, "billing_profile_save"),
        {
            "kind": "CUSTOMER",
            "counterparty_id": a.customer.pk,
            "frequency": "WEEKLY",
            "language": "de",
        },
    )
    assert ok.status_code == 302
    page = client.get(_url(a, "invoicing_settings")).content.decode()
    assert a.customer.name in page and "Weekly" in page
    foreign = client.post(
        _url(a, "billing_profile_save"),
        {"kind": "CUSTOMER", "counterparty_id": b.customer.pk, "frequency": "MONTHLY"},
    )
    assert foreign.status_code == 422
    assert f"no customer {b.customer.pk} in this tenant".encode() in foreign.content
    assert AuditEntry.objects.filter(action="billing_profile.set").count() == 1
