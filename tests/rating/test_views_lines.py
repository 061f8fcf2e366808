"""The read side of rating (apps.rating.selectors.lines / flags): a CDR's rated views, lines
per period, the settlement report; exact sums, currencies apart, own charge apart, and who
sees what (docs/billing.md "Seeing the money")."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.rating import api as rating
from apps.rating.contracts import EngineTotal, SettlementSide
from tests.rating.views_world import T0, cdr, flag, line, market, reversal

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def test_reversal_plus_new_line_sum_to_the_difference() -> None:
    m = market()
    c = cdr(m, emsp=m.partner)
    first = line(
        c,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="2.50",
        buyer_party=m.partner,
        seller_party=m.cpo,
        rule_version=m.rule,
        tariff_version=m.tariff_version,
    )
    reversal(first, 2, at=T0 + DAY, reason="rule fixed")
    line(c, "WHOLESALE", 3, tenant=m.cpo_tenant, excl="3.10", at=T0 + DAY, buyer_party=m.partner)
    views = rating.cdr_rated_views(tenant_id=m.cpo_tenant.pk, cdr_id=c.pk)
    assert [v.engine for v in views.views] == ["WHOLESALE", "REIMBURSEMENT"]
    wholesale = views.views[0]
    assert [(x.seq, x.kind, x.total_excl_vat) for x in wholesale.lines] == [
        (1, "LINE", Decimal("2.5000")),
        (2, "REVERSAL", Decimal("-2.5000")),
        (3, "LINE", Decimal("3.1000")),
    ]
    assert wholesale.lines[1].reverses_id == first.pk and wholesale.lines[1].reason == "rule fixed"
    # In force: the new line only; 2.50 -> 3.10 is +0.60 excl., VAT 0.53 -> 0.65.
    assert wholesale.totals == (
        EngineTotal("EUR", Decimal("3.1000"), Decimal("0.6500"), Decimal("3.7500")),
    )
    assert wholesale.lines[0].rule == "Roaming default" and wholesale.lines[0].rule_version == 2
    assert wholesale.lines[0].tariff == "WHOLESALE-1" and wholesale.lines[0].tariff_version == 1
    assert wholesale.lines[0].seller == "NL*AAA" and wholesale.lines[0].buyer == "DE*RMG"
    assert views.views[1].lines == () and views.views[1].totals == ()


def test_a_cdr_in_two_currencies_is_never_summed_across_them() -> None:
    m = market()
    c = cdr(m, emsp=m.partner)
    line(c, "WHOLESALE", 1, tenant=m.cpo_tenant, excl="2.00", buyer_party=m.partner)
    line(c, "WHOLESALE", 2, tenant=m.cpo_tenant, excl="3.00", currency="CHF", buyer_party=m.partner)
    (view,) = [
        v
        for v in rating.cdr_rated_views(tenant_id=m.cpo_tenant.pk, cdr_id=c.pk).views
        if v.engine == "WHOLESALE"
    ]
    assert view.totals == (
        EngineTotal("CHF", Decimal("3.0000"), Decimal("0.6300"), Decimal("3.6300")),
        EngineTotal("EUR", Decimal("2.0000"), Decimal("0.4200"), Decimal("2.4200")),
    )


def test_the_marketplace_emsp_sees_its_cost_and_its_retail_price_only() -> None:
    m = market()
    c = cdr(m, emsp=m.emsp_as_partner, emsp_tenant=m.emsp_tenant)
    line(
        c,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="2.50",
        seller_party=m.cpo,
        buyer_party=m.emsp_as_partner,
        buyer_tenant=m.emsp_tenant,
        rule_version=m.rule,
        tariff_version=m.tariff_version,
    )
    line(c, "REIMBURSEMENT", 1, tenant=m.cpo_tenant, excl="1.80")
    line(
        c,
        "RETAIL",
        1,
        tenant=m.emsp_tenant,
        excl="2.63",
        seller_party=m.emsp_party,
        buyer_customer=m.customer,
        rule_version=m.retail_rule,
    )
    flag(c, "REIMBURSEMENT", "NO_VAT_RATE", tenant=m.cpo_tenant)

    emsp = rating.cdr_rated_views(tenant_id=m.emsp_tenant.pk, cdr_id=c.pk)
    assert [v.engine for v in emsp.views] == ["RETAIL", "WHOLESALE"]
    retail, cost = emsp.views
    assert [x.total_excl_vat for x in retail.lines] == [Decimal("2.6300")]
    assert retail.lines[0].rule == "B cost plus 5" and retail.lines[0].buyer == "Driver Dana"
    assert [x.total_excl_vat for x in cost.lines] == [Decimal("2.5000")]
    # The CPO's rule is its internals: not shown to the buyer; the tariff (its price) is.
    assert cost.lines[0].viewer_side == "BUYER"
    assert (cost.lines[0].rule, cost.lines[0].rule_id, cost.lines[0].rule_version) == (None,) * 3
    assert cost.lines[0].tariff == "WHOLESALE-1"
    assert cost.flags == () and retail.flags == ()

    cpo = rating.cdr_rated_views(tenant_id=m.cpo_tenant.pk, cdr_id=c.pk)
    assert [v.engine for v in cpo.views] == ["WHOLESALE", "REIMBURSEMENT"]
    assert [f.reason for f in cpo.views[1].flags] == ["NO_VAT_RATE"]
    # A third tenant sees nothing at all.
    assert rating.cdr_rated_views(tenant_id=m.other_tenant.pk, cdr_id=c.pk).views == ()
    assert rating.cdr_rated_views(tenant_id=m.cpo_tenant.pk, cdr_id=10**9).views == ()


def test_lines_per_period_are_tenant_scoped_and_keyset_paged() -> None:
    m = market()
    c = cdr(m, emsp=m.emsp_as_partner, emsp_tenant=m.emsp_tenant)
    w = [
        line(
            c,
            "WHOLESALE",
            i + 1,
            tenant=m.cpo_tenant,
            excl="1.00",
            at=T0 + i * DAY,
            buyer_party=m.emsp_as_partner,
            buyer_tenant=m.emsp_tenant,
        )
        for i in range(3)
    ]
    r = line(c, "REIMBURSEMENT", 1, tenant=m.cpo_tenant, excl="1.00")
    retail = line(c, "RETAIL", 1, tenant=m.emsp_tenant, excl="1.00")
    ids = [x.id for x in rating.rated_line_rows(tenant_id=m.cpo_tenant.pk, limit=10)]
    assert ids == sorted([w[0].pk, w[1].pk, w[2].pk, r.pk])
    page1 = rating.rated_line_rows(tenant_id=m.cpo_tenant.pk, limit=2, engine="WHOLESALE")
    page2 = rating.rated_line_rows(
        tenant_id=m.cpo_tenant.pk, limit=2, engine="WHOLESALE", after_id=page1[-1].id
    )
    assert [x.id for x in page1 + page2] == [x.pk for x in w]
    period = rating.rated_line_rows(
        tenant_id=m.cpo_tenant.pk, limit=10, created_from=T0 + DAY, created_before=T0 + 2 * DAY
    )
    assert [x.id for x in period] == [w[1].pk]
    # The eMSP tenant: its retail line and the wholesale lines it buys; never reimbursement.
    emsp_ids = [x.id for x in rating.rated_line_rows(tenant_id=m.emsp_tenant.pk, limit=10)]
    assert emsp_ids == sorted([*(x.pk for x in w), retail.pk])
    assert rating.rated_line_rows(tenant_id=m.other_tenant.pk, limit=10) == []


def test_settlement_report_per_emsp_with_own_charge_apart_and_reversals() -> None:
    m = market()
    roam1 = cdr(m, emsp=m.partner)
    roam2 = cdr(m, emsp=m.partner, currency="CHF")
    own = cdr(m, emsp=m.own_emsp)
    mkt = cdr(m, emsp=m.emsp_as_partner, emsp_tenant=m.emsp_tenant)
    first = line(
        roam1, "WHOLESALE", 1, tenant=m.cpo_tenant, excl="2.50", kwh="10", buyer_party=m.partner
    )
    reversal(first, 2, at=T0 + DAY, reason="rule fixed")
    line(
        roam1,
        "WHOLESALE",
        3,
        tenant=m.cpo_tenant,
        excl="3.10",
        kwh="10",
        at=T0 + DAY,
        buyer_party=m.partner,
    )
    line(roam2, "WHOLESALE", 1, tenant=m.cpo_tenant, excl="4.00", kwh="7.5", buyer_party=m.partner)
    line(
        own,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="9.99",
        kwh="20",
        buyer_party=m.own_emsp,
        own_charge=True,
    )
    line(
        mkt,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="1.25",
        kwh="5",
        seller_party=m.cpo,
        buyer_party=m.emsp_as_partner,
        buyer_tenant=m.emsp_tenant,
    )
    # Not wholesale, out of the period, another tenant's: none of them count.
    line(roam1, "REIMBURSEMENT", 1, tenant=m.cpo_tenant, excl="100.00")
    line(
        roam1,
        "WHOLESALE",
        4,
        tenant=m.cpo_tenant,
        excl="100.00",
        at=T0 + 40 * DAY,
        buyer_party=m.partner,
    )
    line(mkt, "RETAIL", 1, tenant=m.emsp_tenant, excl="100.00")

    report = rating.settlement_report(
        tenant_id=m.cpo_tenant.pk, period_from=T0, period_to=T0 + 30 * DAY
    )
    got = [
        (
            r.party,
            r.currency,
            r.own_charge,
            r.cdrs,
            r.energy_kwh,
            r.total_excl_vat,
            r.vat,
            r.total_incl_vat,
        )
        for r in report.rows
    ]
    assert got == [
        (
            "BE*BBB",
            "EUR",
            False,
            1,
            Decimal("5"),
            Decimal("1.25"),
            Decimal("0.26"),
            Decimal("1.51"),
        ),
        (
            "DE*RMG",
            "CHF",
            False,
            1,
            Decimal("7.5"),
            Decimal("4.00"),
            Decimal("0.84"),
            Decimal("4.84"),
        ),
        # 2.50 - 2.50 + 3.10 (VAT 0.53 - 0.53 + 0.65); kWh 10 - 10 + 10.
        (
            "DE*RMG",
            "EUR",
            False,
            1,
            Decimal("10"),
            Decimal("3.10"),
            Decimal("0.65"),
            Decimal("3.75"),
        ),
        (
            "NL*AAE",
            "EUR",
            True,
            1,
            Decimal("20"),
            Decimal("9.99"),
            Decimal("2.10"),
            Decimal("12.09"),
        ),
    ]
    # Per currency, own charge excluded, never across currencies.
    assert report.totals == (
        EngineTotal("CHF", Decimal("4.00"), Decimal("0.84"), Decimal("4.84")),
        EngineTotal("EUR", Decimal("4.35"), Decimal("0.91"), Decimal("5.26")),
    )
    only = rating.settlement_report(
        tenant_id=m.cpo_tenant.pk,
        period_from=T0,
        period_to=T0 + 30 * DAY,
        party_id=m.emsp_as_partner.pk,
    )
    assert [r.party for r in only.rows] == ["BE*BBB"]
    # The period is half open by rating time: the day of the correction alone.
    day2 = rating.settlement_report(
        tenant_id=m.cpo_tenant.pk, period_from=T0 + DAY, period_to=T0 + 2 * DAY
    )
    assert [(r.party, r.energy_kwh, r.total_excl_vat) for r in day2.rows] == [
        ("DE*RMG", Decimal("0"), Decimal("0.60"))
    ]
    # The marketplace eMSP's payable side: its cost at A, per CPO; nothing receivable.
    payable = rating.settlement_report(
        tenant_id=m.emsp_tenant.pk,
        period_from=T0,
        period_to=T0 + 30 * DAY,
        side=SettlementSide.PAYABLE,
    )
    assert [(r.party, r.total_excl_vat) for r in payable.rows] == [("NL*AAA", Decimal("1.25"))]
    assert (
        rating.settlement_report(
            tenant_id=m.emsp_tenant.pk, period_from=T0, period_to=T0 + 30 * DAY
        ).rows
        == ()
    )
    assert (
        rating.settlement_report(
            tenant_id=m.other_tenant.pk,
            period_from=T0,
            period_to=T0 + 30 * DAY,
            side=SettlementSide.PAYABLE,
        ).rows
        == ()
    )


def test_rating_flags_of_the_queue_are_the_tenants_and_name_the_rules() -> None:
    m = market()
    c = cdr(m, emsp=m.partner)
    open_ = flag(
        c, "WHOLESALE", "AMBIGUOUS_RULES", tenant=m.cpo_tenant, detail={"rule_ids": [7, 9]}
    )
    dropped = flag(
        c,
        "REIMBURSEMENT",
        "NO_RULE",
        tenant=m.cpo_tenant,
        status="DROPPED",
        attempts=90,
        next_retry_at=None,
        closed_at=T0 + 90 * DAY,
    )
    flag(c, "RETAIL", "NO_PACKAGE", tenant=m.emsp_tenant)
    rows = rating.rating_flag_rows(tenant_id=m.cpo_tenant.pk, limit=10)
    assert [(r.id, r.rule_ids) for r in rows] == [(open_.pk, (7, 9))]
    every = rating.rating_flag_rows(tenant_id=m.cpo_tenant.pk, limit=10, status=None)
    assert [r.id for r in every] == [dropped.pk, open_.pk]
    assert every[0].attempts == 90 and every[0].status == "DROPPED"
    assert rating.rating_flag_rows(tenant_id=m.other_tenant.pk, limit=10, status=None) == []
