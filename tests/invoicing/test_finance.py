"""The finance preview and the ERP export (BILLING.md section 5, ADR 0039): exact totals,
exclusions and adjustments, dry runs that write nothing, idempotent posting, a CDR in one
batch only, late CDRs in the next batch, every kWh traced to its CDRs, tenant isolation and
the audit of every change."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from djmoney.money import Money

from apps.common.errors import Conflict, NotFound, ValidationFailed
from apps.invoicing import api
from apps.invoicing.models import (
    CdrRecord,
    ExportBatch,
    ExportedAdjustment,
    ExportedLine,
    ExportFile,
    FinanceAdjustment,
)
from apps.parties.models import AuditEntry
from apps.rating.models import RatedLine
from tests.invoicing.finance_world import ACTOR, APRIL, MARCH, POSTED, RATED, ended, world
from tests.rating.views_world import cdr, line, reversal

pytestmark = pytest.mark.django_db

D = Decimal


def _read(tenant_id: int, batch_id: int, kind: str) -> bytes:
    return b"".join(api.export_file_open(tenant_id=tenant_id, batch_id=batch_id, kind=kind).chunks)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _map(tenant_id: int) -> None:
    for role, component, account, centre in (
        ("REVENUE", "ENERGY", "8000", "CPO"),
        ("REVENUE", "VAT", "1500", ""),
        ("COST", "ENERGY", "7000", "HOME"),
        ("COST", "VAT", "1510", ""),
    ):
        api.gl_mapping_set(
            tenant_id=tenant_id,
            actor=ACTOR,
            engine="",
            role=role,
            component=component,
            vat_category="",
            account=account,
            cost_centre=centre,
            description="",
        )


def _counts() -> dict[str, int]:
    return {
        m.__name__: m.objects.count()
        for m in (
            ExportBatch,
            ExportFile,
            ExportedLine,
            ExportedAdjustment,
            CdrRecord,
            FinanceAdjustment,
        )
    }


def _account(preview: api.FinancePreview, account: str) -> tuple[Decimal, Decimal]:
    t = preview.per_account[account]["EUR"]
    return t.debit, t.credit


def test_preview_totals_are_exact_per_account_vat_class_and_counterparty() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    _map(a)
    p = api.finance_preview(tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], now=POSTED)
    # Revenue: 10.00 + 20.00 + 1.20 wholesale (own charge skipped), VAT 2.10 + 4.20 + 0.25.
    assert _account(p, "8000") == (D("0"), D("31.2000"))
    assert _account(p, "1500") == (D("0"), D("6.5500"))
    # Cost: the home charger's payout, 3.00 without VAT (no VAT line at all).
    assert _account(p, "7000") == (D("3.0000"), D("0"))
    assert "1510" not in p.per_account
    assert p.per_vat_class["S21"]["EUR"].credit == D("37.7500")
    assert p.per_vat_class["E0"]["EUR"].debit == D("3.0000")
    assert p.per_counterparty[f"PAYEE:{w.payee.pk}"]["EUR"].debit == D("3.0000")
    partner = p.per_counterparty[f"PARTY:{w.m.partner.pk}"]["EUR"]
    assert partner.credit == D("11.2000") + D("2.3500")
    assert p.per_cost_centre["CPO"]["EUR"].credit == D("31.2000")
    assert p.totals == {"EUR": {"debit": "3.0000", "credit": "37.7500"}}
    assert p.own_charge_lines == 1 and p.own_charge_net == {"EUR": D("5.0000")}
    assert p.rated_lines == 4
    assert p.cdr_ids == tuple(sorted([w.roaming.pk, w.market_cdr.pk, w.home.pk]))
    assert not p.unmapped


def test_unmapped_components_book_to_unmapped_and_most_specific_mapping_wins() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    p = api.finance_preview(tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], now=POSTED)
    assert p.unmapped and set(p.per_account) == {api.GL_UNMAPPED}
    _map(a)
    api.gl_mapping_set(
        tenant_id=a,
        actor=ACTOR,
        engine="REIMBURSEMENT",
        role="COST",
        component="ENERGY",
        vat_category="E",
        account="7010",
        cost_centre="HCC",
        description="home charging, VAT exempt",
    )
    p = api.finance_preview(tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], now=POSTED)
    assert _account(p, "7010") == (D("3.0000"), D("0"))
    assert "7000" not in p.per_account
    with pytest.raises(ValidationFailed):
        api.gl_mapping_set(
            tenant_id=a,
            actor=ACTOR,
            engine="",
            role="REVENUE",
            component="BEER",
            vat_category="",
            account="",
            cost_centre="",
            description="",
        )
    assert AuditEntry.objects.filter(tenant_id=a, action="gl_mapping.set").count() == 5


def test_exclusions_and_adjustments_change_the_preview() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    _map(a)
    period = {"tenant_id": a, "period_start": MARCH[0], "period_end": MARCH[1], "now": POSTED}
    ex = api.finance_exclusion_add(
        tenant_id=a, actor=ACTOR, kind="PARTY", value=str(w.m.partner.pk), reason="disputed"
    )
    p = api.finance_preview(**period)
    assert _account(p, "8000") == (D("0"), D("20.0000"))
    [removed] = p.excluded
    assert (removed.reason, removed.amount, removed.rated_lines) == ("disputed", D("11.2000"), 2)
    assert w.roaming.pk not in p.cdr_ids
    with pytest.raises(Conflict):
        api.finance_exclusion_add(
            tenant_id=a, actor=ACTOR, kind="PARTY", value=str(w.m.partner.pk), reason="again"
        )
    api.finance_exclusion_add(tenant_id=a, actor=ACTOR, kind="ACCOUNT", value="1500", reason="x")
    p = api.finance_preview(**period)
    assert "1500" not in p.per_account
    api.finance_exclusion_retire(tenant_id=a, actor=ACTOR, exclusion_id=ex.id, now=POSTED)
    p = api.finance_preview(**period)
    assert _account(p, "8000") == (D("0"), D("31.2000"))
    adj = api.finance_adjustment_add(
        tenant_id=a,
        actor=ACTOR,
        period_start=MARCH[0],
        period_end=MARCH[1],
        amount=Money(D("-12.34"), "EUR"),
        account="8000",
        cost_centre="CPO",
        reason="goodwill credit",
    )
    p = api.finance_preview(**period)
    assert _account(p, "8000") == (D("0"), D("43.5400"))
    assert [x.id for x in p.adjustments] == [adj.id]
    with pytest.raises(ValidationFailed):
        api.finance_adjustment_add(
            tenant_id=a,
            actor=ACTOR,
            period_start=MARCH[0],
            period_end=MARCH[1],
            amount=Money(D("1"), "EUR"),
            account="",
            reason="",
        )
    actions = set(AuditEntry.objects.filter(tenant_id=a).values_list("action", flat=True))
    assert {
        "finance_exclusion.add",
        "finance_exclusion.retire",
        "finance_adjustment.add",
    } <= actions


def test_dry_run_writes_nothing_and_shows_the_bytes_a_post_writes() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    _map(a)
    before = _counts()
    audits = AuditEntry.objects.count()
    dry = api.export_batch_post(
        tenant_id=a,
        period_start=MARCH[0],
        period_end=MARCH[1],
        actor=ACTOR,
        dry_run=True,
        now=POSTED,
    )
    assert _counts() == before and AuditEntry.objects.count() == audits
    assert dry.batch is None and dry.number == 1 and len(dry.files) == 3
    posted = api.export_batch_post(
        tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, now=POSTED
    )
    assert posted.files == dry.files  # kind, name, size and SHA-256 of the same bytes
    assert posted.batch is not None
    for f in posted.files:
        assert _sha(_read(a, posted.batch.id, f.kind)) == f.sha256


def test_posting_twice_gives_the_same_batch_and_bytes() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    _map(a)
    first = api.export_batch_post(
        tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, now=POSTED
    )
    assert first.batch is not None and first.batch.number == 1
    counts = _counts()
    # Later, with a new line of the period rated since: still the same batch, byte for byte.
    late = cdr(w.m, emsp=w.m.partner, **ended(30))
    line(
        late,
        "WHOLESALE",
        1,
        tenant=w.m.cpo_tenant,
        excl="7.00",
        buyer_party=w.m.partner,
        at=POSTED + timedelta(hours=1),
    )
    again = api.export_batch_post(
        tenant_id=a,
        period_start=MARCH[0],
        period_end=MARCH[1],
        actor=ACTOR,
        now=POSTED + timedelta(days=3),
    )
    assert again.existing and again.batch is not None and again.batch.id == first.batch.id
    assert {f.kind: f.sha256 for f in again.files} == {f.kind: f.sha256 for f in first.files}
    assert again.files == first.files
    assert {f.kind: _read(a, again.batch.id, f.kind) for f in again.files} == {
        f.kind: _read(a, first.batch.id, f.kind) for f in first.files
    }
    assert _counts() == counts
    stored = {f.kind: f.sha256 for f in first.batch.files}
    assert stored == {f.kind: f.sha256 for f in first.files}
    assert AuditEntry.objects.filter(tenant_id=a, action="export_batch.post").count() == 1


def test_a_cdr_is_never_in_two_batches_and_late_cdrs_go_in_the_next() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    _map(a)
    march = api.export_batch_post(
        tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, now=POSTED
    )
    # A session that ended in March, rated after March's cutoff (a late CDR), and one of April.
    late = cdr(w.m, emsp=w.m.partner, total_energy_kwh=D("7"), **ended(31))
    line(
        late,
        "WHOLESALE",
        1,
        tenant=w.m.cpo_tenant,
        excl="7.00",
        kwh="7",
        buyer_party=w.m.partner,
        at=POSTED + timedelta(hours=1),
    )
    april_cdr = cdr(w.m, emsp=w.m.partner, total_energy_kwh=D("2"), **ended(10, 4))
    line(
        april_cdr,
        "WHOLESALE",
        1,
        tenant=w.m.cpo_tenant,
        excl="2.00",
        kwh="2",
        buyer_party=w.m.partner,
        at=datetime_(11, 4),
    )
    april = api.export_batch_post(
        tenant_id=a,
        period_start=APRIL[0],
        period_end=APRIL[1],
        actor=ACTOR,
        now=datetime_(6, 5),
    )
    assert march.batch is not None and april.batch is not None
    assert april.batch.number == 2
    first = set(
        ExportedLine.objects.filter(batch_id=march.batch.id).values_list("cdr_id", flat=True)
    )
    second = set(
        ExportedLine.objects.filter(batch_id=april.batch.id).values_list("cdr_id", flat=True)
    )
    assert first == {w.roaming.pk, w.market_cdr.pk, w.home.pk}
    assert second == {late.pk, april_cdr.pk}
    assert not first & second
    assert april.preview is not None and _account(april.preview, "8000") == (D("0"), D("9.0000"))
    # Nothing left: a third look at April's period exports nothing new.
    p = api.finance_preview(
        tenant_id=a, period_start=APRIL[0], period_end=APRIL[1], now=datetime_(7, 5)
    )
    assert p.rated_lines == 0 and p.journal == ()


def datetime_(day: int, month: int) -> datetime:
    return datetime(2026, month, day, 8, 0, tzinfo=UTC)


def test_every_kwh_is_traceable_to_its_cdrs() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    _map(a)
    res = api.export_batch_post(
        tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, now=POSTED
    )
    assert res.batch is not None
    files = {f.kind: _read(a, res.batch.id, f.kind) for f in res.files}
    journal = json.loads(files["JOURNAL_JSON"])["journal"]
    cdr_kwh = {w.roaming.pk: D("10"), w.market_cdr.pk: D("20"), w.home.pk: D("4")}
    for role, cdrs in (
        ("REVENUE", [w.roaming.pk, w.market_cdr.pk, w.home.pk]),
        ("COST", [w.home.pk]),
    ):
        rows = [j for j in journal if j["role"] == role]
        assert sum(D(j["kwh"]) for j in rows) == sum(cdr_kwh[c] for c in cdrs)
        traced = {c for j in rows if D(j["kwh"]) for c in j["cdr_ids"]}
        assert traced == set(cdrs)
    for j in journal:
        assert j["cdr_ids"], j  # every rated-line journal line names its CDRs
    rows = list(csv.DictReader(io.StringIO(files["JOURNAL_CSV"].decode())))
    assert len(rows) == len(journal)
    energy = [r for r in rows if r["account"] == "8000"]
    assert sum(D(r["kwh"]) for r in energy) == D("34")
    assert {int(c) for r in energy for c in r["cdr_ids"].split()} == set(cdr_kwh)
    records = [json.loads(x) for x in gzip.decompress(files["RECORDS_JSONL"]).splitlines()]
    assert [r["cdr_id"] for r in records] == sorted(cdr_kwh)
    assert res.batch is not None and res.batch.energy_kwh == D("38")  # 34 revenue + 4 cost


def test_adjustments_are_exported_once_with_their_batch() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    _map(a)
    adj = api.finance_adjustment_add(
        tenant_id=a,
        actor=ACTOR,
        period_start=MARCH[0],
        period_end=MARCH[1],
        amount=Money(D("4.50"), "EUR"),
        account="4400",
        reason="meter correction",
    )
    march = api.export_batch_post(
        tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, now=POSTED
    )
    assert march.batch is not None
    journal = json.loads(_read(a, march.batch.id, "JOURNAL_JSON"))["journal"]
    [row] = [j for j in journal if j["account"] == "4400"]
    assert (row["debit"], row["credit"], row["adjustment_ids"]) == ("4.5000", "0", [adj.id])
    april = api.finance_preview(
        tenant_id=a, period_start=APRIL[0], period_end=APRIL[1], now=datetime_(6, 5)
    )
    assert april.adjustments == ()
    [listed] = api.finance_adjustment_list(tenant_id=a)
    assert listed.batch_number == 1 and listed.author_name == "finance test"


def test_records_are_versioned_only_when_they_change() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    ids = [w.roaming.pk, w.home.pk]
    assert api.cdr_records_store(tenant_id=a, cdr_ids=ids) == {w.roaming.pk: 1, w.home.pk: 1}
    assert api.cdr_records_store(tenant_id=a, cdr_ids=ids) == {w.roaming.pk: 1, w.home.pk: 1}
    [first] = CdrRecord.objects.filter(tenant_id=a, cdr_id=w.roaming.pk)
    original = first.payload["engines"][0]["lines"][0]
    reversal(_line(w.roaming.pk), 2, at=POSTED, reason="re-rated")
    assert api.cdr_records_store(tenant_id=a, cdr_ids=ids) == {w.roaming.pk: 2, w.home.pk: 1}
    record = api.cdr_record_build(tenant_id=a, cdr_id=w.roaming.pk)
    [view] = record["engines"]
    assert [x["kind"] for x in view["lines"]] == ["LINE", "REVERSAL"]
    assert view["lines"][0] == original
    assert view["totals"] == {
        "EUR": {"kwh": "0.000000", "total_excl_vat": "0.0000", "vat": "0.0000"}
    }
    assert record["cdr"]["id"] == w.roaming.ocpi_id
    assert original["rule_version_id"] == w.m.rule.pk
    assert original["tariff_version_id"] == w.m.tariff_version.pk
    assert original["vat_rate"] == "21.00" and original["vat_source"] == "TARIFF"
    home = api.cdr_record_build(tenant_id=a, cdr_id=w.home.pk)
    payout = [e for e in home["engines"] if e["engine"] == "REIMBURSEMENT"][0]["lines"][0]
    assert payout["hcc"] == "HCC_E" and "VAT_EXEMPT" in payout["flags"]
    assert payout["vat_exemption_reason"] == "HCC_E"


def _line(cdr_id: int) -> RatedLine:
    return RatedLine.objects.get(cdr_id=cdr_id, engine="WHOLESALE", seq=1)


def test_the_buying_tenant_exports_its_cost_and_sees_no_seller_rule() -> None:
    w = world()
    b = w.m.emsp_tenant.pk
    p = api.finance_preview(tenant_id=b, period_start=MARCH[0], period_end=MARCH[1], now=POSTED)
    assert p.cdr_ids == (w.market_cdr.pk,)
    [cost] = [j for j in p.journal if j.component == "ENERGY"]
    assert (cost.role, cost.debit, cost.kwh) == ("COST", D("20.0000"), D("20.000000"))
    assert cost.counterparty == f"PARTY:{w.m.cpo.pk}"
    record = api.cdr_record_build(tenant_id=b, cdr_id=w.market_cdr.pk)
    assert record["side"] == "EMSP" and "charge_station_id" not in record["cdr"]
    [view] = record["engines"]
    assert view["lines"][0]["rule_version_id"] is None
    # Both sides export the same line once each, on their own side.
    a = w.m.cpo_tenant.pk
    api.export_batch_post(
        tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, now=POSTED
    )
    res = api.export_batch_post(
        tenant_id=b, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, now=POSTED
    )
    assert res.batch is not None and res.batch.number == 1 and res.batch.cdr_count == 1


def test_other_tenants_see_nothing() -> None:
    w = world()
    c = w.m.other_tenant.pk
    p = api.finance_preview(tenant_id=c, period_start=MARCH[0], period_end=MARCH[1], now=POSTED)
    assert p.journal == () and p.rated_lines == 0
    a = w.m.cpo_tenant.pk
    api.export_batch_post(
        tenant_id=a, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, now=POSTED
    )
    assert api.export_batch_list(tenant_id=c) == []
    with pytest.raises(NotFound):
        api.cdr_record_build(tenant_id=c, cdr_id=w.roaming.pk)
    batch = api.export_batch_list(tenant_id=a)[0]
    with pytest.raises(NotFound):
        api.export_batch_get(tenant_id=c, batch_id=batch.id)
    with pytest.raises(NotFound):
        api.export_file_open(tenant_id=c, batch_id=batch.id, kind="JOURNAL_CSV")


def test_a_period_that_has_not_ended_cannot_be_posted() -> None:
    w = world()
    with pytest.raises(ValidationFailed):
        api.export_batch_post(
            tenant_id=w.m.cpo_tenant.pk,
            period_start=APRIL[0],
            period_end=APRIL[1],
            actor=ACTOR,
            now=RATED,
        )
