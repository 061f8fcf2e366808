"""Property: whatever sequence of rule changes and re-ratings a CDR goes through, the sum of
its lines per engine is its latest rating, each reversal negates the line it reverses
exactly, and re-rating with an unchanged price writes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common.contracts import Actor
from apps.rating import api as rating_api
from apps.rating.models import RatedLine
from tests.integration.rating import builders as b

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("property")
SUMMED = ("energy", "energy_exact", "adjustment", "total_excl_vat", "vat", "total_incl_vat")
CENT = Decimal("0.01")

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.99"), places=2)
energies = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("80"), places=3)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kwh=energies, first=prices, changes=st.lists(prices, min_size=1, max_size=4))
def test_lines_sum_to_the_latest_rating(
    kwh: Decimal, first: Decimal, changes: list[Decimal]
) -> None:
    w = b.world(cpo_vat="21", package=False)
    tv = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy(str(first))])
    rv = b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    cdr = b.cdr(w, kwh=str(kwh))
    rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)

    price = first
    expected_lines = 1
    for i, new in enumerate(changes, start=1):
        tv = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy(str(new))])
        b.rule_version(rv.rule, tariff_version=tv, effective_from=b.EPOCH + i * timedelta(hours=1))
        out = rating_api.cdr_rerate(
            tenant_id=w.cpo_tenant.pk, cdr_id=cdr.pk, actor=ACTOR, reason=f"change {i}", now=b.T0
        )
        expected_lines += 0 if new == price else 2
        assert out.lines_written == (0 if new == price else 2)
        price = new

        lines = list(RatedLine.objects.filter(cdr=cdr, engine="WHOLESALE").order_by("seq"))
        assert len(lines) == expected_lines
        assert [x.seq for x in lines] == list(range(1, expected_lines + 1))
        energy = (price * kwh).quantize(CENT, rounding=ROUND_HALF_UP)
        vat = (energy * Decimal("0.21")).quantize(CENT, rounding=ROUND_HALF_UP)
        sums = {f: sum((getattr(x, f) for x in lines), Decimal(0)) for f in SUMMED}
        assert sums["energy"] == energy
        assert sums["energy_exact"] == price * kwh
        assert (sums["total_excl_vat"], sums["vat"], sums["total_incl_vat"]) == (
            energy,
            vat,
            energy + vat,
        )
        by_id = {x.pk: x for x in lines}
        for x in lines:
            if x.kind == "REVERSAL":
                original = by_id[x.reverses_id]
                assert all(getattr(x, f) == -getattr(original, f) for f in SUMMED)
