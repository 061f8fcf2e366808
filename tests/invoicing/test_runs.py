"""Billing runs: rated lines -> drafts (ADR 0036). Exact cents, the LATE section, lines
rated after a document was finalized, own charge, tenancy, frequency, grace and scheduling,
idempotent execution, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError
from django.test import TestCase

from apps.common.errors import Conflict, NotFound, ValidationFailed
from apps.invoicing import api
from apps.invoicing.models import BillingRun, Document, DocumentLine
from apps.invoicing.services import runs as run_services
from apps.parties.models import AuditEntry
from tests.factories import CustomerFactory
from tests.invoicing import runs_world as w

pytestmark = pytest.mark.django_db

D = Decimal


def run_march(m: Any, tenant: Any, frequency: str = "MONTHLY", day: date = date(2026, 3, 1)) -> int:
    run_id = api.billing_run_start(
        tenant_id=tenant.pk, actor=w.ACTOR, frequency=frequency, period_start=day, now=w.AFTER_MARCH
    )
    api.billing_run_execute(run_id=run_id, now=w.AFTER_MARCH)
    return run_id


def docs(tenant: Any, **kw: Any) -> list[Document]:
    return list(Document.objects.filter(tenant=tenant, **kw).order_by("pk"))


def finalize(doc: Document, number: str) -> None:
    """What the documents area's finalize does to the row (numbering aside)."""
    Document.objects.filter(pk=doc.pk).update(
        status="FINALIZED", number=number, issue_date=date(2026, 4, 8)
    )


# -- drafting -------------------------------------------------------------------------------


def test_customer_invoice_exact_cents_vat_per_group() -> None:
    m = w.market()
    for excl in ("0.07", "0.07", "0.07"):
        w.retail(m, w.session(m, ended=w.IN_MARCH), excl)  # 21 %
    w.retail(m, w.session(m, ended=w.IN_MARCH + timedelta(hours=2)), "5.00", vat_rate="9")

    run_id = run_march(m, m.emsp_tenant)

    (doc,) = docs(m.emsp_tenant)
    assert doc.doc_type == "CUSTOMER_INVOICE" and doc.status == "DRAFT" and doc.number == ""
    assert doc.billing_run_id == run_id
    assert doc.buyer_customer_id == m.customer.pk
    assert doc.period_start == w.MARCH_START and doc.period_end == w.MARCH_END
    # VAT once per rate on the group's sum: 0.21 x 21 % = 0.0441 -> 0.04 (per line: 0.03).
    assert (doc.net_total, doc.vat_total, doc.total) == (D("5.21"), D("0.49"), D("5.70"))
    assert doc.line_count == 4 and doc.energy_kwh == D("40")
    breakdown = [(b.category, b.rate, b.taxable, b.vat) for b in doc.vat_breakdown.all()]
    assert breakdown == [
        ("S", D("9.00"), D("5.00"), D("0.45")),
        ("S", D("21.00"), D("0.21"), D("0.04")),
    ]
    lines = list(doc.lines.all())
    assert [x.position for x in lines] == [1, 2, 3, 4]
    assert {x.section for x in lines} == {"PERIOD"} and not doc.has_late_section
    assert lines[0].location == "Station Dam, Dam 1, Amsterdam" and lines[0].evse == "NL*AAA*E1"
    assert lines[0].description.startswith("Charging session ")
    assert doc.buyer["name"] == "Driver Dana"
    assert doc.seller["name"] == "eMSP B"  # no settings: the operator's name
    run = api.billing_run_get(tenant_id=m.emsp_tenant.pk, run_id=run_id)
    assert (run.status, run.groups_total, run.groups_done) == ("DONE", 1, 1)
    assert (run.documents_created, run.lines_billed) == (1, 4)


def test_one_document_per_counterparty_and_currency() -> None:
    m = w.market()
    other = CustomerFactory(party=m.emsp_party, tenant=m.emsp_tenant, name="Driver Eve")
    w.retail(m, w.session(m, ended=w.IN_MARCH), "1.00")
    w.retail(m, w.session(m, ended=w.IN_MARCH, currency="CHF"), "2.00")
    w.retail(m, w.session(m, ended=w.IN_MARCH), "3.00", customer=other)

    run_march(m, m.emsp_tenant)

    got = sorted((d.buyer_customer_id, d.currency, d.net_total) for d in docs(m.emsp_tenant))
    assert got == sorted(
        [
            (m.customer.pk, "EUR", D("1.00")),
            (m.customer.pk, "CHF", D("2.00")),
            (other.pk, "EUR", D("3.00")),
        ]
    )


def test_emsp_invoice_and_self_billing_of_the_cpo_tenant() -> None:
    m = w.market()
    c = w.session(m, ended=w.IN_MARCH)
    w.wholesale(m, c, "4.00")
    w.reimbursement(m, c, "2.50", vat_rate="0", vat_exemption_reason="HCC_E home charger")
    api.invoicing_settings_update(
        tenant_id=m.cpo_tenant.pk, actor=w.ACTOR, legal_name="A Charging B.V.", country="NL"
    )

    run_march(m, m.cpo_tenant)

    emsp, sb = docs(m.cpo_tenant)
    assert emsp.doc_type == "EMSP_INVOICE" and emsp.buyer_party_id == m.emsp_as_partner.pk
    assert emsp.buyer_tenant_id == m.emsp_tenant.pk  # the marketplace eMSP sees it
    assert emsp.seller["name"] == "A Charging B.V."
    assert (emsp.net_total, emsp.vat_total, emsp.total) == (D("4.00"), D("0.84"), D("4.84"))
    assert sb.doc_type == "SELF_BILLING" and sb.payee_id == m.payee.pk
    assert sb.seller["name"] == "Owner Olga" and sb.buyer["name"] == "A Charging B.V."
    assert sb.email == "olga@example.com"
    (line,) = sb.lines.all()
    assert (line.vat_category, line.vat_rate, line.exemption_reason) == (
        "E",
        D("0"),
        "HCC_E home charger",
    )
    assert (sb.net_total, sb.vat_total, sb.total) == (D("2.50"), D("0.00"), D("2.50"))


def test_reverse_charge_for_a_company_in_another_eu_country() -> None:
    m = w.market()
    company = CustomerFactory(
        party=m.emsp_party,
        tenant=m.emsp_tenant,
        name="Fahrzeug GmbH",
        kind="company",
        country="DE",
        vat_number="DE136695976",
    )
    api.invoicing_settings_update(tenant_id=m.emsp_tenant.pk, actor=w.ACTOR, country="NL")
    w.retail(m, w.session(m, ended=w.IN_MARCH), "10.00", customer=company)

    run_march(m, m.emsp_tenant)

    (doc,) = docs(m.emsp_tenant)
    (line,) = doc.lines.all()
    assert (line.vat_category, line.vat_rate, line.exemption_reason) == (
        "AE",
        D("0"),
        "Reverse charge",
    )
    assert (doc.net_total, doc.vat_total, doc.total) == (D("10.00"), D("0.00"), D("10.00"))


def test_a_reversal_is_billed_as_a_negative_correction_line() -> None:
    m = w.market()
    c = w.session(m, ended=w.IN_MARCH)
    original = w.retail(m, c, "6.00")
    w.reversal(original, at=w.IN_MARCH)
    w.retail(m, c, "5.00")

    run_march(m, m.emsp_tenant)

    (doc,) = docs(m.emsp_tenant)
    kinds = [(x.kind, x.net) for x in doc.lines.all()]
    assert sorted(kinds) == sorted(
        [("SESSION", D("6.00")), ("CORRECTION", D("-6.00")), ("SESSION", D("5.00"))]
    )
    assert (doc.net_total, doc.vat_total, doc.total) == (D("5.00"), D("1.05"), D("6.05"))


# -- periods: late sessions, finalized documents ---------------------------------------------


def test_a_late_cdr_never_changes_a_finalized_document_and_lands_in_the_next_run() -> None:
    m = w.market()
    w.retail(m, w.session(m, ended=w.IN_MARCH), "10.00")
    run_march(m, m.emsp_tenant)
    (march,) = docs(m.emsp_tenant)
    finalize(march, "INV-2026-000001")

    # A CDR of March arrives (and is rated) after March's document was finalized.
    w.retail(m, w.session(m, ended=w.IN_MARCH + timedelta(days=5)), "3.00")
    # Running March again leaves the finalized document alone: the line gets its own draft.
    run_id = api.billing_run_start(
        tenant_id=m.emsp_tenant.pk,
        actor=w.ACTOR,
        frequency="MONTHLY",
        period_start=date(2026, 4, 1),
        now=w.AFTER_APRIL,
    )
    w.retail(m, w.session(m, ended=w.IN_APRIL), "1.00")
    api.billing_run_execute(run_id=run_id, now=w.AFTER_APRIL)

    march.refresh_from_db()
    assert march.status == "FINALIZED" and march.line_count == 1 and march.net_total == D("10.00")
    assert DocumentLine.objects.filter(document=march).count() == 1
    april = docs(m.emsp_tenant, billing_run_id=run_id)
    (doc,) = april
    assert doc.has_late_section
    sections = [(x.section, x.net) for x in doc.lines.all()]
    assert sections == [("PERIOD", D("1.00")), ("LATE", D("3.00"))]
    assert (doc.net_total, doc.total) == (D("4.00"), D("4.84"))


def test_a_cdr_that_ends_after_the_period_waits_for_its_own_run() -> None:
    m = w.market()
    w.retail(m, w.session(m, ended=w.MARCH_END), "2.00")  # 1 April 00:00 local: April's
    w.retail(m, w.session(m, ended=w.MARCH_END - timedelta(seconds=1)), "1.00")

    run_march(m, m.emsp_tenant)

    (doc,) = docs(m.emsp_tenant)
    assert doc.net_total == D("1.00")


# -- what is never billed ----------------------------------------------------------------------


def test_own_charge_is_never_billed() -> None:
    m = w.market()
    c = w.session(m, ended=w.IN_MARCH, emsp=m.own_emsp)
    w.wholesale(m, c, "4.00", buyer=m.own_emsp, own_charge=True)

    run_id = run_march(m, m.cpo_tenant)

    assert docs(m.cpo_tenant) == []
    assert DocumentLine.objects.count() == 0
    assert api.billing_run_get(tenant_id=m.cpo_tenant.pk, run_id=run_id).status == "DONE"


def test_other_tenants_lines_are_never_billed() -> None:
    m = w.market()
    c = w.session(m, ended=w.IN_MARCH)
    retail_line = w.retail(m, c, "7.00")  # tenant B's
    w.wholesale(m, c, "4.00")  # tenant A's

    run_march(m, m.cpo_tenant)
    run_march(m, m.other_tenant)

    assert docs(m.other_tenant) == []
    (doc,) = docs(m.cpo_tenant)
    assert doc.doc_type == "EMSP_INVOICE"
    assert not DocumentLine.objects.filter(rated_line=retail_line).exists()


def test_frequency_billing_profile_decides_which_run_bills() -> None:
    m = w.market()
    weekly = CustomerFactory(party=m.emsp_party, tenant=m.emsp_tenant, name="Weekly Walt")
    api.billing_profile_set(
        tenant_id=m.emsp_tenant.pk,
        actor=w.ACTOR,
        kind="CUSTOMER",
        counterparty_id=weekly.pk,
        frequency="WEEKLY",
        language="nl",
        email="walt@example.com",
    )
    w.retail(m, w.session(m, ended=w.IN_MARCH), "1.00")  # Tuesday 10 March
    w.retail(m, w.session(m, ended=w.IN_MARCH), "2.00", customer=weekly)

    run_march(m, m.emsp_tenant)
    (monthly_doc,) = docs(m.emsp_tenant)
    assert monthly_doc.buyer_customer_id == m.customer.pk

    week_run = run_march(m, m.emsp_tenant, frequency="WEEKLY", day=date(2026, 3, 11))
    run = BillingRun.objects.get(pk=week_run)
    assert run.period_start == datetime(2026, 3, 8, 23, 0, tzinfo=UTC)  # Monday 9 March
    (weekly_doc,) = docs(m.emsp_tenant, billing_run_id=week_run)
    assert weekly_doc.buyer_customer_id == weekly.pk and weekly_doc.net_total == D("2.00")
    assert weekly_doc.language == "nl" and weekly_doc.email == "walt@example.com"


# -- idempotency ----------------------------------------------------------------------------


def test_a_repeated_run_bills_nothing_twice() -> None:
    m = w.market()
    w.retail(m, w.session(m, ended=w.IN_MARCH), "1.00")
    first = run_march(m, m.emsp_tenant)
    # The task delivered again after it finished: nothing happens.
    api.billing_run_execute(run_id=first, now=w.AFTER_MARCH)
    # A redelivery while it was marked RUNNING: it continues, finds everything billed.
    BillingRun.objects.filter(pk=first).update(status="RUNNING")
    api.billing_run_execute(run_id=first, now=w.AFTER_MARCH)
    # A second run of the same period: no lines left.
    second = run_march(m, m.emsp_tenant)

    assert len(docs(m.emsp_tenant)) == 1
    assert DocumentLine.objects.count() == 1
    r2 = api.billing_run_get(tenant_id=m.emsp_tenant.pk, run_id=second)
    assert (r2.status, r2.documents_created, r2.lines_billed) == ("DONE", 0, 0)


def test_a_run_killed_midway_continues_where_it_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    m = w.market()
    customers = [
        CustomerFactory(party=m.emsp_party, tenant=m.emsp_tenant, name=f"Driver {i}")
        for i in range(3)
    ]
    for i, customer in enumerate(customers):
        w.retail(m, w.session(m, ended=w.IN_MARCH), f"{i + 1}.00", customer=customer)
    monkeypatch.setattr(run_services, "BATCH_GROUPS", 1)
    real = run_services._write
    calls = {"n": 0}

    def dies_on_the_second_batch(*args: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection unexpectedly")
        real(*args, **kw)

    monkeypatch.setattr(run_services, "_write", dies_on_the_second_batch)
    run_id = api.billing_run_start(
        tenant_id=m.emsp_tenant.pk,
        actor=w.ACTOR,
        frequency="MONTHLY",
        period_start=date(2026, 3, 1),
        now=w.AFTER_MARCH,
    )
    with pytest.raises(OperationalError):
        api.billing_run_execute(run_id=run_id, now=w.AFTER_MARCH)
    run = api.billing_run_get(tenant_id=m.emsp_tenant.pk, run_id=run_id)
    assert (run.status, run.groups_total, run.groups_done) == ("RUNNING", 3, 1)

    api.billing_run_execute(run_id=run_id, now=w.AFTER_MARCH)  # the redelivered task

    run = api.billing_run_get(tenant_id=m.emsp_tenant.pk, run_id=run_id)
    assert (run.status, run.groups_total, run.groups_done, run.documents_created) == (
        "DONE",
        3,
        3,
        3,
    )
    assert sorted(d.net_total for d in docs(m.emsp_tenant)) == [D("1.00"), D("2.00"), D("3.00")]
    assert DocumentLine.objects.count() == 3


def test_a_discarded_draft_frees_its_lines_for_the_next_run() -> None:
    m = w.market()
    line = w.retail(m, w.session(m, ended=w.IN_MARCH), "1.00")
    run_march(m, m.emsp_tenant)
    (draft,) = docs(m.emsp_tenant)
    DocumentLine.objects.filter(document=draft).update(active=False)  # what discard does
    Document.objects.filter(pk=draft.pk).update(status="DISCARDED")

    second = run_march(m, m.emsp_tenant)

    (again,) = docs(m.emsp_tenant, billing_run_id=second)
    assert again.lines.get().rated_line_id == line.pk


def test_a_failing_run_is_marked_failed_with_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    m = w.market()
    w.retail(m, w.session(m, ended=w.IN_MARCH), "1.00")

    def broken(*args: Any, **kw: Any) -> None:
        raise ValueError("line net 1.001 is not rounded")

    monkeypatch.setattr(run_services, "_write", broken)
    run_id = run_march(m, m.emsp_tenant)

    run = api.billing_run_get(tenant_id=m.emsp_tenant.pk, run_id=run_id)
    assert run.status == "FAILED" and "not rounded" in run.error
    assert docs(m.emsp_tenant) == []


# -- starting and scheduling ------------------------------------------------------------------


def test_start_refuses_a_period_that_has_not_ended() -> None:
    m = w.market()
    with pytest.raises(ValidationFailed) as exc:
        api.billing_run_start(
            tenant_id=m.emsp_tenant.pk,
            actor=w.ACTOR,
            frequency="MONTHLY",
            period_start=date(2026, 3, 1),
            now=w.MARCH_END - timedelta(seconds=1),
        )
    assert "2026-03-31T22:00:00+00:00" in str(exc.value)
    assert BillingRun.objects.count() == 0


def test_start_refuses_a_second_live_run_of_the_period_and_audits() -> None:
    m = w.market()
    kw = dict(tenant_id=m.emsp_tenant.pk, actor=w.ACTOR, frequency="MONTHLY", now=w.AFTER_MARCH)
    run_id = api.billing_run_start(period_start=date(2026, 3, 15), **kw)
    with pytest.raises(Conflict):
        api.billing_run_start(period_start=date(2026, 3, 1), **kw)
    entry = AuditEntry.objects.get(action="billing_run.start")
    assert entry.object_id == str(run_id) and entry.actor_name == "test"
    assert entry.after["first_day"] == "2026-03-01" and entry.after["trigger"] == "MANUAL"


def test_start_queues_the_task_on_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    m = w.market()
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr("apps.invoicing.jobs.enqueue", lambda *a, **kw: sent.append(a))
    with TestCase.captureOnCommitCallbacks(execute=True):
        run_id = api.billing_run_start(
            tenant_id=m.emsp_tenant.pk,
            actor=w.ACTOR,
            frequency="MONTHLY",
            period_start=date(2026, 3, 1),
            now=w.AFTER_MARCH,
        )
    assert sent == [("invoicing.run_billing", run_id)]


def test_schedule_waits_for_the_grace_period_and_runs_once() -> None:
    m = w.market()
    c = w.session(m, ended=w.IN_MARCH)
    w.retail(m, c, "1.00")
    w.wholesale(m, c, "1.00")
    grace_ends = w.MARCH_END + timedelta(days=5)

    before = api.billing_runs_schedule(now=grace_ends - timedelta(seconds=1))
    # Before March's grace ended, the latest period past its grace is February.
    assert {BillingRun.objects.get(pk=i).period_start for i in before} == {
        datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    }
    created = api.billing_runs_schedule(now=grace_ends)
    again = api.billing_runs_schedule(now=grace_ends + timedelta(hours=1))

    march = BillingRun.objects.filter(trigger="SCHEDULE", period_start=w.MARCH_START)
    assert again == []
    assert sorted(r.tenant_id for r in march) == sorted(
        [m.cpo_tenant.pk, m.emsp_tenant.pk]  # the tenants with rated lines
    )
    assert sorted(created) == sorted(r.pk for r in march)
    assert {r.frequency for r in march} == {"MONTHLY"}


def test_schedule_makes_a_weekly_run_when_a_profile_is_weekly() -> None:
    m = w.market()
    api.billing_profile_set(
        tenant_id=m.emsp_tenant.pk,
        actor=w.ACTOR,
        kind="CUSTOMER",
        counterparty_id=m.customer.pk,
        frequency="WEEKLY",
    )
    api.invoicing_settings_update(tenant_id=m.emsp_tenant.pk, actor=w.ACTOR, grace_days=0)
    created = api.billing_runs_schedule(now=datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    runs = BillingRun.objects.filter(pk__in=created, tenant=m.emsp_tenant)
    got = {(r.frequency, r.period_start) for r in runs}
    assert got == {
        ("MONTHLY", datetime(2026, 1, 31, 23, 0, tzinfo=UTC)),
        ("WEEKLY", datetime(2026, 3, 1, 23, 0, tzinfo=UTC)),  # Monday 2 March
    }


# -- settings and profiles ----------------------------------------------------------------


def test_settings_defaults_and_update_with_audit() -> None:
    m = w.market()
    s = api.invoicing_settings_get(tenant_id=m.cpo_tenant.pk)
    assert not s.saved and s.timezone == "Europe/Amsterdam" and s.grace_days == 5
    assert (s.prefix("CUSTOMER_INVOICE"), s.prefix("CREDIT_NOTE")) == ("INV", "CN")

    s = api.invoicing_settings_update(
        tenant_id=m.cpo_tenant.pk,
        actor=w.ACTOR,
        vat_number="nl 0044 95 445B01",
        country="nl",
        grace_days=3,
        prefix_self_billing="SBA",
    )
    assert s.saved and s.vat_number == "NL004495445B01" and s.country == "NL"
    assert s.grace_days == 3 and s.prefix_self_billing == "SBA" and s.prefix_emsp_invoice == "EMSP"
    entry = AuditEntry.objects.get(action="invoicing_settings.update")
    assert entry.before is None and entry.after["grace_days"] == 3


def test_settings_refuse_bad_values_naming_each_field() -> None:
    m = w.market()
    with pytest.raises(ValidationFailed) as exc:
        api.invoicing_settings_update(
            tenant_id=m.cpo_tenant.pk,
            actor=w.ACTOR,
            vat_number="NL123",
            country="Netherlands",
            timezone="Mars/Olympus",
            prefix_customer_invoice="",
            prefix_credit_note="emsp",
            grace_days=-1,
        )
    paths = {p.path for p in exc.value.problems}
    assert paths == {
        "$.vat_number",
        "$.country",
        "$.timezone",
        "$.prefix_customer_invoice",
        "$.prefix_credit_note",
        "$.grace_days",
    }
    assert not AuditEntry.objects.filter(action="invoicing_settings.update").exists()
    assert not api.invoicing_settings_get(tenant_id=m.cpo_tenant.pk).saved


def test_billing_profile_only_for_the_tenants_own_counterparties() -> None:
    m = w.market()
    with pytest.raises(NotFound):
        api.billing_profile_set(
            tenant_id=m.cpo_tenant.pk,
            actor=w.ACTOR,
            kind="CUSTOMER",
            counterparty_id=m.customer.pk,  # tenant B's customer
        )
    with pytest.raises(NotFound):
        api.billing_profile_set(
            tenant_id=m.emsp_tenant.pk, actor=w.ACTOR, kind="PARTY", counterparty_id=m.partner.pk
        )
    ref = api.billing_profile_set(
        tenant_id=m.cpo_tenant.pk,
        actor=w.ACTOR,
        kind="PARTY",
        counterparty_id=m.partner.pk,
        frequency="DAILY",
        vat_number="DE136695976",
    )
    again = api.billing_profile_set(
        tenant_id=m.cpo_tenant.pk,
        actor=w.ACTOR,
        kind="PARTY",
        counterparty_id=m.partner.pk,
        frequency="WEEKLY",
    )
    assert again.id == ref.id and again.frequency == "WEEKLY" and again.vat_number == ""
    assert ref.counterparty_name == "Roaming GmbH"
    assert AuditEntry.objects.filter(action="billing_profile.set").count() == 2
    (listed,) = api.billing_profile_list(tenant_id=m.cpo_tenant.pk)
    assert listed.counterparty_id == m.partner.pk
    with pytest.raises(ValidationFailed):
        api.billing_profile_set(
            tenant_id=m.cpo_tenant.pk,
            actor=w.ACTOR,
            kind="PAYEE",
            counterparty_id=m.payee.pk,
            frequency="YEARLY",
        )
