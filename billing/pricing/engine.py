"""``price_session``: the one pricing function (live cost, final CDR, foreign CDR).

Follows PRICING.md point by point; the numbers in comments refer to its points.
Money is ``Decimal`` at full precision until the named rounding point (point 9, done in
``PriceResult.totals``). Durations are integer seconds from timestamps (point 5).

Here: the dispatch. Fast paths (``fast_paths.py``) give the general path's numbers (property
tests compare them): ``price_energy_only`` and ``price_static`` for tariffs whose every
charging dimension has one unrestricted component (priced from the session's volume totals),
``price_table`` for tariffs whose dimensions are static or selected by time of day / weekday
only (a table lookup per period), and ``general.price_general`` (per period, per dimension
element selection) for everything else. Modules, from the bottom: ``amounts`` (exact
amounts, durations), ``result`` (totals, clamp, tariff-level warnings), ``general``,
``fast_paths``, this one.
"""

from __future__ import annotations

import decimal

from billing.pricing.amounts import DIV
from billing.pricing.catalogue import TariffCatalogue, Tariffs
from billing.pricing.compiled import CompiledTariff
from billing.pricing.fast_paths import price_energy_only, price_static, price_table
from billing.pricing.general import price_general
from billing.pricing.model import InputIssue, PriceResult, PricingInputError, SessionInput, epoch
from billing.pricing.tariff import Tariff

__all__ = ["ROUND_HALF_UP", "ROUNDING_MODES", "epoch", "price_session", "rounding_mode"]

ROUND_HALF_UP = decimal.ROUND_HALF_UP
ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_UP,
        decimal.ROUND_DOWN,
        decimal.ROUND_CEILING,
        decimal.ROUND_FLOOR,
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_05UP,
    }
)
_MODES = {m: m for m in ROUNDING_MODES} | {m[len("ROUND_") :]: m for m in ROUNDING_MODES}


def rounding_mode(rounding: str) -> str:
    """Accept ``decimal.ROUND_HALF_UP`` or the short name ``HALF_UP``."""
    mode = _MODES.get(rounding)
    if mode is None:
        raise PricingInputError(
            [
                InputIssue(
                    "rounding",
                    f"unknown rounding mode {rounding!r}; one of "
                    f"{', '.join(sorted(ROUNDING_MODES))}",
                )
            ]
        )
    return mode


def price_session(
    *,
    tariff: Tariff,
    session: SessionInput,
    rounding: str = ROUND_HALF_UP,
    tariffs: Tariffs | None = None,
) -> PriceResult:
    """Price a session (live: ``session.end`` is "now"; final or foreign CDR alike).

    ``tariff`` is the session's tariff: it prices the periods without a ``tariff_id`` (and
    those naming it). ``tariffs`` are the other tariffs the periods' ``tariff_id`` may name
    (a tariff switch: a mapping tariff_id -> Tariff, or tariffs keyed by their id); an
    unknown ``tariff_id`` is a ``PricingInputError`` naming the period. Across a switch
    FLAT and step_size apply once per session and min/max_price are those of the first
    period's tariff (docs/pricing.md, "Tariff switch").
    """
    mode = _MODES.get(rounding)
    if mode is None:
        mode = rounding_mode(rounding)
    if decimal.getcontext().prec < 28:
        with decimal.localcontext(DIV):
            return price_session(tariff=tariff, session=session, rounding=mode, tariffs=tariffs)
    ids = session.epochs[3]
    if ids and (tariffs is not None or len(ids) > 1 or ids[0] != tariff.id):
        # periods name tariffs (the common single-tariff case skips this)
        switched = _price_switch(tariff, tariffs, session, mode)
        if isinstance(switched, PriceResult):
            return switched
        tariff = switched  # one tariff for the whole session: the paths below
    ct: CompiledTariff = tariff.compiled
    if ct.energy_only:
        result = price_energy_only(ct, session, mode)
        if result is not None:
            return result
        return price_general(ct, session, mode)
    if ct.all_static:
        result = price_static(ct, session, mode)
        if result is not None:
            return result
    elif ct.table_path:
        result = price_table(ct, session, mode)
        if result is not None:
            return result
    return price_general(ct, session, mode)


def _price_switch(
    tariff: Tariff, tariffs: Tariffs | None, session: SessionInput, mode: str
) -> PriceResult | Tariff:
    """Resolve the periods' tariff_ids: the result of a session that switches tariffs (each
    period priced with its own, by the general path), or the one tariff of all its periods.
    (Its own function: price_session stays free of the closures written here.)"""
    resolved = TariffCatalogue(tariff, tariffs).resolve(session.charging_periods)
    label, first = resolved[0] if resolved else (tariff.id, tariff)
    if label == first.id and all(t is first and i == label for i, t in resolved):
        return first
    # a switch (or a tariff known under another id): each period its own tariff and label
    plan = tuple([t.compiled for _, t in resolved])
    labels = tuple([i for i, _ in resolved])
    return price_general(first.compiled, session, mode, plan, labels)
