"""Each billing rule version's pricing terms (`RuleTerms`), cached for good (versions are
append-only), beside the matcher's index of the rules (`selectors.rules.rule_index`)."""

from __future__ import annotations

from collections.abc import Iterable

from apps.rating.contracts import RulePricing, RuleTerms
from apps.rating.models import BillingRuleVersion
from apps.rating.selectors.rules import rule_index, rule_index_cache_clear, rule_indexes

__all__ = ["rule_cache_clear", "rule_index", "rule_indexes", "rule_terms"]

_TERMS: dict[int, RuleTerms] = {}  # versions are append-only: cached for good


def rule_terms(*, version_ids: Iterable[int]) -> dict[int, RuleTerms]:
    """The pricing terms of these rule versions (one query for those not cached yet)."""
    ids = set(version_ids)
    missing = ids - _TERMS.keys()
    if missing:
        for v in BillingRuleVersion.objects.filter(pk__in=missing):
            _TERMS[v.pk] = RuleTerms(
                version_id=v.pk,
                rule_id=v.rule_id,
                pricing=RulePricing(v.pricing),
                tariff_id=v.tariff_id,
                markup_percent=v.markup_percent,
                markup_per_kwh=None if v.markup_per_kwh is None else v.markup_per_kwh.amount,
                markup_currency=(
                    "" if v.markup_per_kwh is None else str(v.markup_per_kwh.currency)
                ),
                margin_per_session=(
                    None if v.margin_per_session is None else v.margin_per_session.amount
                ),
                margin_per_session_currency=(
                    "" if v.margin_per_session is None else str(v.margin_per_session.currency)
                ),
                margin_per_kwh=None if v.margin_per_kwh is None else v.margin_per_kwh.amount,
                margin_per_kwh_currency=(
                    "" if v.margin_per_kwh is None else str(v.margin_per_kwh.currency)
                ),
            )
    return {i: _TERMS[i] for i in ids if i in _TERMS}


def rule_cache_clear() -> None:
    """Forget the cached indexes and terms (tests whose rows reuse ids after a rollback)."""
    rule_index_cache_clear()
    _TERMS.clear()
