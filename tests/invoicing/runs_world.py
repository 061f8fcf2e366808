"""A world for billing-run tests, on top of tests/rating/views_world.py (CDRs and rated lines
written with the ORM): a CPO tenant A with a roaming partner, its own eMSP and a payee, a
marketplace eMSP tenant B with a driver, a third tenant C; helpers that write one session
(CDR ending at a given instant) with its rated line per engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apps.common.contracts import Actor
from apps.rating.models import Payee, RatedLine
from tests.rating import views_world as vw

ACTOR = Actor.system("test")
# March 2026 in Europe/Amsterdam: [2026-02-28 23:00Z, 2026-03-31 22:00Z) (DST on 29 March).
MARCH_START = datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
MARCH_END = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
IN_MARCH = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
IN_FEBRUARY = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
IN_APRIL = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
AFTER_MARCH = datetime(2026, 4, 8, 9, 0, tzinfo=UTC)  # March ended, grace passed
AFTER_APRIL = datetime(2026, 5, 8, 9, 0, tzinfo=UTC)


def market() -> vw.Market:
    m = vw.market()
    m.payee = Payee.objects.create(  # type: ignore[attr-defined]
        tenant=m.cpo_tenant,
        kind="HOME",
        name="Owner Olga",
        email="olga@example.com",
        address="Kerkstraat 1",
        postal_code="1017 GA",
        city="Amsterdam",
        country="NL",
    )
    return m


def session(m: vw.Market, *, ended: datetime, emsp: Any = None, **kw: Any) -> Any:
    """A CDR of A's station, charged with B's token, that ended at `ended`."""
    data = {
        "cdr_location": {
            "name": "Station Dam",
            "address": "Dam 1",
            "city": "Amsterdam",
            "evse_id": "NL*AAA*E1",
        }
    }
    c = vw.cdr(
        m,
        emsp=emsp or m.emsp_as_partner,
        emsp_tenant=m.emsp_tenant,
        start_date_time=ended - timedelta(hours=1),
        end_date_time=ended,
        data={"currency": kw.get("currency", "EUR"), **data},
        **kw,
    )
    return c


def _next(cdr: Any, engine: str) -> int:
    return RatedLine.objects.filter(cdr_id=cdr.pk, engine=engine).count() + 1


def retail(m: vw.Market, cdr: Any, excl: str, *, customer: Any = None, **kw: Any) -> RatedLine:
    return vw.line(
        cdr,
        "RETAIL",
        _next(cdr, "RETAIL"),
        tenant=m.emsp_tenant,
        excl=excl,
        buyer_customer=customer or m.customer,
        seller_party=m.emsp_party,
        **kw,
    )


def wholesale(m: vw.Market, cdr: Any, excl: str, *, buyer: Any = None, **kw: Any) -> RatedLine:
    buyer = buyer or m.emsp_as_partner
    kw.setdefault("buyer_tenant", m.emsp_tenant if buyer == m.emsp_as_partner else None)
    return vw.line(
        cdr,
        "WHOLESALE",
        _next(cdr, "WHOLESALE"),
        tenant=m.cpo_tenant,
        excl=excl,
        buyer_party=buyer,
        seller_party=m.cpo,
        **kw,
    )


def reimbursement(m: vw.Market, cdr: Any, excl: str, **kw: Any) -> RatedLine:
    return vw.line(
        cdr,
        "REIMBURSEMENT",
        _next(cdr, "REIMBURSEMENT"),
        tenant=m.cpo_tenant,
        excl=excl,
        seller_payee=m.payee,  # type: ignore[attr-defined]
        **kw,
    )


def reversal(line: RatedLine, *, at: datetime) -> RatedLine:
    return vw.reversal(line, _next(line.cdr, line.engine), at=at, reason="tariff corrected")
