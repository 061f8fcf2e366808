"""A tenant's billing rules of one engine as the matcher's `RuleIndex`, cached per process
and rebuilt when a rule changes (a new version has a higher id), and each version's pricing
terms (`RuleTerms`).

Area "rate" wrote this minimal version so the engines run before area "rules"'
`selectors/rules.py` is merged; the lead keeps one `rule_index`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Max

from apps.rating.contracts import RulePricing, RuleTerms
from apps.rating.models import BillingRuleVersion
from apps.tariffs.contracts import BillingEngine
from billing.rating.match import RuleIndex, RuleSpec

_CACHE: dict[tuple[int, str], tuple[int | None, RuleIndex]] = {}
_TERMS: dict[int, RuleTerms] = {}  # versions are append-only: cached for good


def _specs(tenant_id: int, engine: BillingEngine) -> list[RuleSpec]:
    rows = list(
        BillingRuleVersion.objects.filter(rule__tenant_id=tenant_id, rule__engine=engine.value)
        .order_by("rule_id", "effective_from")
        .values(
            "pk",
            "rule_id",
            "effective_from",
            "active",
            "cpo_scope",
            "cpo_scope_value",
            "emsp_scope",
            "emsp_scope_value",
            "valid_from",
            "valid_until",
            "weekdays",
            "time_from",
            "time_until",
            "exceptions",
        )
    )
    specs = []
    for i, row in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        until = nxt["effective_from"] if nxt and nxt["rule_id"] == row["rule_id"] else None
        if not row["active"]:
            continue
        specs.append(
            RuleSpec(
                rule_id=row["rule_id"],
                version_id=row["pk"],
                cpo_scope=row["cpo_scope"],
                cpo_value=row["cpo_scope_value"],
                emsp_scope=row["emsp_scope"],
                emsp_value=row["emsp_scope_value"],
                effective_from=row["effective_from"],
                effective_until=until,
                valid_from=row["valid_from"],
                valid_until=row["valid_until"],
                weekdays=row["weekdays"],
                time_from=row["time_from"],
                time_until=row["time_until"],
                exceptions=tuple(
                    (str(e.get("side", "")), str(e.get("scope", "")), str(e.get("value", "")))
                    for e in row["exceptions"] or ()
                ),
            )
        )
    return specs


def rule_index(*, tenant_id: int, engine: BillingEngine) -> RuleIndex:
    """Every version of the tenant's rules of `engine` (retired ones end a rule)."""
    newest = BillingRuleVersion.objects.filter(
        rule__tenant_id=tenant_id, rule__engine=engine.value
    ).aggregate(m=Max("pk"))["m"]
    key = (tenant_id, engine.value)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == newest:
        return cached[1]
    index = RuleIndex(_specs(tenant_id, engine))
    _CACHE[key] = (newest, index)
    return index


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
    _CACHE.clear()
    _TERMS.clear()
