"""The three engines on the GreenFlux examples of BILLING.md (sections 1 to 3), to the cent:
wholesale for the same company (own charge, still computed), retail cost-plus 5 %,
reimbursement with a per-kWh margin, a home charger excluding VAT, VAT from each level."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from apps.common.contracts import Actor
from apps.rating import api as rating_api
from apps.rating.contracts import RatingOutcome
from apps.rating.models import RatedLine, RatingFlag
from billing.rating.amounts import HCC_EXEMPTION_REASON
from tests.integration.rating import builders as b

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


def rate(*cdrs: Any) -> RatingOutcome:
    return rating_api.cdrs_rate(cdr_ids=[c.pk for c in cdrs], actor=ACTOR, now=b.T0)


def line(cdr: Any, engine: str) -> RatedLine:
    (only,) = RatedLine.objects.filter(cdr=cdr, engine=engine)
    return only


def amounts(x: RatedLine) -> dict[str, Decimal]:
    return {
        "fixed": x.fixed,
        "energy": x.energy,
        "time": x.time,
        "adjustment": x.adjustment,
        "excl": x.total_excl_vat,
        "vat_rate": x.vat_rate,
        "vat": x.vat,
        "incl": x.total_incl_vat,
    }


def D(value: str) -> Decimal:
    return Decimal(value)


def test_same_company_is_still_split_wholesale_own_charge_and_retail_cost_plus_5_percent() -> None:
    """GreenFlux: CPO and eMSP are one company. The wholesale line is computed and marked
    own-charge (never invoiced); the driver pays the wholesale price + 5 %."""
    w = b.world()
    wholesale = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25", vat="21")])
    w_rule = b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=wholesale)
    r_rule = b.rule(
        w.cpo_tenant, "RETAIL", pricing="COST_PLUS", markup_percent=D("5"), emsp_scope="ANY"
    )
    cdr = b.cdr(w, kwh="10", tariff_version=wholesale)

    outcome = rate(cdr)

    assert outcome == RatingOutcome(lines_written=2, flags_opened=0, skipped=0)
    ws = line(cdr, "WHOLESALE")
    assert ws.own_charge is True
    assert (ws.seller_party_id, ws.buyer_party_id, ws.buyer_tenant_id) == (
        w.cpo_party.pk,
        w.emsp_party.pk,
        None,
    )
    assert ws.tenant_id == w.cpo_tenant.pk
    assert (ws.rule_version_id, ws.tariff_version_id) == (w_rule.pk, wholesale.pk)
    assert amounts(ws) == {
        "fixed": 0,
        "energy": D("2.50"),
        "time": 0,
        "adjustment": 0,
        "excl": D("2.50"),
        "vat_rate": D("21"),
        "vat": D("0.53"),  # 0.525 rounded half up
        "incl": D("3.03"),
    }
    assert ws.vat_source == "TARIFF"
    rt = line(cdr, "RETAIL")
    assert rt.own_charge is False
    assert (rt.seller_party_id, rt.buyer_customer_id, rt.rule_version_id) == (
        w.emsp_own_party.pk,
        w.customer.pk,
        r_rule.pk,
    )
    assert rt.energy_exact == D("2.625")
    assert amounts(rt) == {
        "fixed": 0,
        "energy": D("2.63"),
        "time": 0,
        "adjustment": 0,
        "excl": D("2.63"),
        "vat_rate": D("21"),
        "vat": D("0.55"),  # 0.5523
        "incl": D("3.18"),
    }
    assert RatingFlag.objects.count() == 0


def test_cost_plus_per_kwh_markup_is_the_adjustment() -> None:
    w = b.world(emsp_vat="21")
    wholesale = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.30"), b.flat("1.00")])
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=wholesale)
    b.rule(
        w.cpo_tenant,
        "RETAIL",
        pricing="COST_PLUS",
        markup_percent=D("10"),
        markup_per_kwh="0.05",
    )
    b.cpo_contract(w.cpo_tenant, w.cpo_party, vat_rate="21")
    cdr = b.cdr(w, kwh="7.5")

    rate(cdr)

    ws = line(cdr, "WHOLESALE")
    assert amounts(ws) == {
        "fixed": D("1.00"),
        "energy": D("2.25"),
        "time": 0,
        "adjustment": 0,
        "excl": D("3.25"),
        "vat_rate": D("21"),
        "vat": D("0.68"),  # 0.6825
        "incl": D("3.93"),
    }
    assert ws.vat_source == "CPO_CONTRACT"
    rt = line(cdr, "RETAIL")
    assert amounts(rt) == {
        "fixed": D("1.10"),
        "energy": D("2.48"),  # 2.475 half up
        "time": 0,
        "adjustment": D("0.38"),  # 7.5 kWh x 0.05 = 0.375
        "excl": D("3.96"),
        "vat_rate": D("21"),
        "vat": D("0.83"),  # 0.8316
        "incl": D("4.79"),
    }
    # the eMSP tenant's contract with the CPO party gives the rate
    assert rt.vat_source == "CPO_CONTRACT"


def _reimbursement_world(hcc: str) -> tuple[b.World, Any]:
    w = b.world(cpo_vat="21")
    wholesale = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.40")])
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=wholesale)
    owner = b.tariff(w.cpo_tenant, w.cpo_party, "REIMBURSEMENT", [b.energy("0.22")])
    b.rule(w.cpo_tenant, "REIMBURSEMENT", tariff_version=owner, margin_per_kwh="0.02")
    b.rule(w.cpo_tenant, "RETAIL", pricing="COST_PLUS", markup_percent=D("0"))
    payee = b.payee(w)
    cdr = b.cdr(w, kwh="12.345", hcc=hcc)
    rate(cdr)
    return w, (cdr, payee)


def test_reimbursement_pays_the_owner_energy_rate_minus_a_per_kwh_margin() -> None:
    w, (cdr, payee) = _reimbursement_world(hcc="")
    rb = line(cdr, "REIMBURSEMENT")
    assert (rb.seller_payee_id, rb.buyer_party_id, rb.tenant_id) == (
        payee.pk,
        w.cpo_party.pk,
        w.cpo_tenant.pk,
    )
    assert rb.energy_exact == D("2.7159")  # 12.345 x 0.22
    assert rb.adjustment_exact == D("-0.2469")  # 12.345 x 0.02
    assert amounts(rb) == {
        "fixed": 0,
        "energy": D("2.72"),
        "time": 0,
        "adjustment": D("-0.25"),
        "excl": D("2.47"),
        "vat_rate": D("21"),
        "vat": D("0.52"),  # 0.5187
        "incl": D("2.99"),
    }
    assert (rb.vat_source, rb.vat_exemption_reason, rb.hcc) == ("PARTY", "", "")


def test_home_charger_excluding_vat_reimburses_at_0_percent_with_the_reason() -> None:
    w, (cdr, _) = _reimbursement_world(hcc="HCC_E")
    rb = line(cdr, "REIMBURSEMENT")
    assert amounts(rb) == {
        "fixed": 0,
        "energy": D("2.72"),
        "time": 0,
        "adjustment": D("-0.25"),
        "excl": D("2.47"),
        "vat_rate": D("0"),
        "vat": D("0.00"),
        "incl": D("2.47"),
    }
    assert (rb.vat_source, rb.vat_exemption_reason, rb.hcc) == (
        "HCC_EXEMPT",
        HCC_EXEMPTION_REASON,
        "HCC_E",
    )
    # only the reimbursement is exempt: the wholesale line keeps its normal VAT
    ws = line(cdr, "WHOLESALE")
    assert (ws.vat_rate, ws.vat_source, ws.vat, ws.hcc) == (D("21"), "PARTY", D("1.04"), "HCC_E")


def test_home_charger_including_vat_resolves_normally() -> None:
    _, (cdr, _) = _reimbursement_world(hcc="HCC_V")
    rb = line(cdr, "REIMBURSEMENT")
    assert (rb.vat_rate, rb.vat_source, rb.vat, rb.hcc) == (D("21"), "PARTY", D("0.52"), "HCC_V")


@pytest.mark.parametrize(
    ("tariff_vat", "contract_vat", "party_vat", "expected"),
    [
        ("9", "19", "20", (D("9"), "TARIFF", D("0.23"))),  # 2.50 x 9 % = 0.225
        (None, "19", "20", (D("19"), "CPO_CONTRACT", D("0.48"))),  # 0.475
        (None, None, "20", (D("20"), "PARTY", D("0.50"))),
        ("0", "19", "20", (D("0"), "TARIFF", D("0.00"))),  # vat 0 is a rate, not "none"
    ],
)
def test_vat_rate_comes_from_the_first_level_that_has_one(
    tariff_vat: str | None,
    contract_vat: str | None,
    party_vat: str | None,
    expected: tuple[Decimal, str, Decimal],
) -> None:
    w = b.world(cpo_vat=party_vat)
    wholesale = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25", vat=tariff_vat)])
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=wholesale)
    if contract_vat is not None:
        b.cpo_contract(w.cpo_tenant, w.cpo_party, vat_rate=contract_vat)
    cdr = b.cdr(w, kwh="10")

    rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)

    ws = line(cdr, "WHOLESALE")
    assert (ws.vat_rate, ws.vat_source, ws.vat) == expected
    assert ws.total_incl_vat == ws.total_excl_vat + ws.vat


def test_no_vat_rate_anywhere_flags_the_cdr_and_writes_no_line() -> None:
    w = b.world(package=False)
    wholesale = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25")])
    w_rule = b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=wholesale)
    cdr = b.cdr(w)

    outcome = rate(cdr)

    assert outcome.lines_written == 0
    assert not RatedLine.objects.filter(cdr=cdr).exists()
    flags = {(f.engine, f.reason, f.status): f.detail for f in RatingFlag.objects.filter(cdr=cdr)}
    assert flags == {
        ("WHOLESALE", "NO_VAT_RATE", "OPEN"): {"rule": w_rule.rule_id},
        ("RETAIL", "NO_PACKAGE", "OPEN"): {"contract": w.contract.pk},
    }


def test_rounding_mode_of_the_cpo_contract_applies() -> None:
    w = b.world()
    wholesale = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25", vat="21")])
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=wholesale)
    b.cpo_contract(w.cpo_tenant, w.cpo_party, rounding="ROUND_HALF_EVEN")
    cdr = b.cdr(w, kwh="10.1")  # 2.525 -> 2.52 half even (2.53 half up)

    rate(cdr)

    ws = line(cdr, "WHOLESALE")
    assert (ws.energy_exact, ws.energy, ws.rounding_mode) == (
        D("2.525"),
        D("2.52"),
        "ROUND_HALF_EVEN",
    )
    assert (ws.vat, ws.total_incl_vat) == (D("0.53"), D("3.05"))  # 0.5292


def test_currency_mismatch_flags_and_never_converts() -> None:
    w = b.world(cpo_vat="21")
    chf = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25")], currency="CHF")
    w_rule = b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=chf)
    cdr = b.cdr(w)

    rate(cdr)

    assert not RatedLine.objects.filter(cdr=cdr, engine="WHOLESALE").exists()
    flag = RatingFlag.objects.get(cdr=cdr, engine="WHOLESALE")
    assert (flag.reason, flag.detail) == (
        "CURRENCY_MISMATCH",
        {"rule": w_rule.rule_id, "rule_currency": "CHF", "cdr_currency": "EUR"},
    )


def test_a_rule_tariff_priced_over_the_cdr_periods_not_the_cdr_totals() -> None:
    """The wholesale rule names another tariff than the station's: the CDR's periods are
    priced with it (energy and time, with the step size), not the CDR's figures."""
    w = b.world(cpo_vat="20")
    station = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25")])
    special = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.20"), b.time_("1.20")])
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=special)
    exact = {
        k: {"excl_vat": "0", "incl_vat": "0"}
        for k in (
            "total_cost",
            "total_fixed_cost",
            "total_energy_cost",
            "total_time_cost",
            "total_parking_cost",
            "total_reservation_cost",
        )
    }
    cdr = b.cdr(w, kwh="10", hours="1.5", tariff_version=station, exact=exact)

    rate(cdr)

    ws = line(cdr, "WHOLESALE")
    assert (ws.energy, ws.time, ws.total_excl_vat, ws.tariff_version_id) == (
        D("2.00"),
        D("1.80"),
        D("3.80"),
        special.pk,
    )


def test_the_cdrs_own_figures_when_the_rule_tariff_is_the_cdrs() -> None:
    """Same tariff version as the CDR: its exact figures are the price (not re-priced)."""
    w = b.world(cpo_vat="20")
    station = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25")])
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=station)
    exact = {
        k: {"excl_vat": v, "incl_vat": v}
        for k, v in (
            ("total_cost", "2.5"),
            ("total_fixed_cost", "0"),
            ("total_energy_cost", "2.5"),
            ("total_time_cost", "0"),
            ("total_parking_cost", "0"),
            ("total_reservation_cost", "0"),
        )
    }
    cdr = b.cdr(w, kwh="10", tariff_version=station, exact=exact)

    rate(cdr)

    ws = line(cdr, "WHOLESALE")
    assert (ws.energy, ws.total_excl_vat, ws.vat) == (D("2.50"), D("2.50"), D("0.50"))


def test_a_cdr_without_a_known_emsp_gets_no_wholesale_or_retail() -> None:
    w = b.world(cpo_vat="21")
    station = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25")])
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=station)
    cdr = b.cdr(w, token=False)

    assert rate(cdr) == RatingOutcome()
    assert not RatedLine.objects.exists()
    assert not RatingFlag.objects.exists()
