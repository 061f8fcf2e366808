"""Properties of the settlement report over random rated lines and corrections: per
currency, its totals are the sum of the lines that are not own charge (reversals
included), never across currencies; its rows add up to every line; a reversal and its new
line sum to the difference."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.rating import api as rating
from apps.rating.models import RatedLine
from tests.rating.views_world import T0, cdr, line, market, reversal

pytestmark = pytest.mark.django_db

cents = st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c) / 100)
one = st.tuples(
    st.sampled_from(["EUR", "CHF", "JPY"]),
    st.booleans(),  # own charge
    cents,  # first amount
    st.none() | cents,  # the corrected amount, if re-rated
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(one, min_size=1, max_size=6))
def test_report_totals_are_the_lines_per_currency(
    specs: list[tuple[str, bool, Decimal, Decimal | None]],
) -> None:
    with transaction.atomic():  # each example on its own: rolled back
        _check(specs)
        transaction.set_rollback(True)


def _check(specs: list[tuple[str, bool, Decimal, Decimal | None]]) -> None:
    m = market()
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for currency, own, first, corrected in specs:
        c = cdr(m, emsp=m.own_emsp if own else m.partner, currency=currency)
        buyer = m.own_emsp if own else m.partner
        x = line(
            c,
            "WHOLESALE",
            1,
            tenant=m.cpo_tenant,
            excl=str(first),
            own_charge=own,
            buyer_party=buyer,
        )
        in_force = first
        if corrected is not None:
            reversal(x, 2, at=T0 + timedelta(hours=1), reason="fix")
            line(
                c,
                "WHOLESALE",
                3,
                tenant=m.cpo_tenant,
                excl=str(corrected),
                own_charge=own,
                buyer_party=buyer,
                at=T0 + timedelta(hours=1),
            )
            in_force = corrected
            view = rating.cdr_rated_views(tenant_id=m.cpo_tenant.pk, cdr_id=c.pk).views[0]
            assert view.totals[0].total_excl_vat == corrected
            assert sum(li.total_excl_vat for li in view.lines[1:]) == corrected - first
        if not own:
            expected[currency] += in_force
    report = rating.settlement_report(
        tenant_id=m.cpo_tenant.pk, period_from=T0, period_to=T0 + timedelta(days=1)
    )
    got = {t.currency: t.total_excl_vat for t in report.totals}
    assert got == {k: v for k, v in expected.items()}
    every = defaultdict(Decimal)
    for li in RatedLine.objects.all():
        every[li.currency] += li.total_excl_vat
    rows = defaultdict(Decimal)
    for r in report.rows:
        rows[r.currency] += r.total_excl_vat
    assert rows == every
    for t in report.totals:
        assert t.total_incl_vat == t.total_excl_vat + t.vat
