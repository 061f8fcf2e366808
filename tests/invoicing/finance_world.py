"""The finance tests' world: `tests.rating.views_world.market()` with a payee, and the rated
lines of March 2026 the CPO tenant exports (wholesale to a roaming eMSP, to the marketplace
eMSP tenant, own charge, a home charger's reimbursement)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from apps.common.contracts import Actor
from apps.rating.models import Payee
from tests.rating.views_world import Market, cdr, line, market

MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
APRIL = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
POSTED = datetime(2026, 4, 6, 8, 0, tzinfo=UTC)  # March's cutoff
RATED = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
ACTOR = Actor.system("finance test")


@dataclass
class World:
    m: Market
    payee: Any
    roaming: Any  # CDR: wholesale to the roaming partner, 10.00 + 21 %
    market_cdr: Any  # CDR: wholesale to the marketplace eMSP tenant, 20.00 + 21 %
    own: Any  # CDR: own charge, 5.00
    home: Any  # CDR: reimbursement to the home charger's owner, 3.00 HCC_E


def ended(day: int, month: int = 3) -> dict[str, Any]:
    end = datetime(2026, month, day, 18, 0, tzinfo=UTC)
    return {"start_date_time": end - timedelta(hours=2), "end_date_time": end}


def world() -> World:
    m = market()
    payee = Payee.objects.create(tenant=m.cpo_tenant, kind="HOME", name="Hanna Home")
    roaming = cdr(m, emsp=m.partner, total_energy_kwh=Decimal("10"), **ended(5))
    line(
        roaming,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="10.00",
        kwh="10",
        at=RATED,
        buyer_party=m.partner,
        seller_party=m.cpo,
        rule_version=m.rule,
        tariff_version=m.tariff_version,
    )
    market_cdr = cdr(
        m, emsp=m.emsp_party, emsp_tenant=m.emsp_tenant, total_energy_kwh=Decimal("20"), **ended(8)
    )
    line(
        market_cdr,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="20.00",
        kwh="20",
        at=RATED,
        buyer_party=m.emsp_as_partner,
        buyer_tenant=m.emsp_tenant,
        seller_party=m.cpo,
        rule_version=m.rule,
    )
    own = cdr(m, emsp=m.own_emsp, total_energy_kwh=Decimal("5"), **ended(9))
    line(
        own,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="5.00",
        kwh="5",
        at=RATED,
        buyer_party=m.own_emsp,
        own_charge=True,
    )
    home = cdr(m, emsp=m.partner, total_energy_kwh=Decimal("4"), **ended(12))
    line(
        home,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="1.20",
        kwh="4",
        at=RATED,
        buyer_party=m.partner,
    )
    line(
        home,
        "REIMBURSEMENT",
        1,
        tenant=m.cpo_tenant,
        excl="3.00",
        vat_rate="0",
        kwh="4",
        at=RATED,
        seller_payee=payee,
        vat_source="HCC_EXEMPT",
        vat_exemption_reason="HCC_E",
        hcc="HCC_E",
    )
    return World(m, payee, roaming, market_cdr, own, home)
