"""Billing rules: create, new versions, retire, copy (BILLING.md section 2, ADR 0027).

A rule's terms live in append-only versions; a change is a new version from a moment on and
applies to sessions that start at or after it (a price change with lead time is a version
effective later). Every change is validated (problems name their field) and audited with
the actor. A draft that may cover a session another active rule of the engine covers is
refused (`Conflict`, the overlapping versions named) unless the caller confirms it: some
changes pass through an overlap on purpose (two rules narrowed one after the other), and
the matcher flags every session that really matches two rules (`AMBIGUOUS_RULES`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from djmoney.money import Money

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.customers import api as customers_api
from apps.locations import api as locations_api
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.rating.contracts import (
    BillingRuleRecord,
    BillingRuleTerms,
    CpoScope,
    EmspScope,
    RuleException,
    RuleOverlap,
    RulePricing,
)
from apps.rating.models import BillingRule, BillingRuleVersion
from apps.rating.selectors import rules as selectors
from apps.tariffs import api as tariffs_api
from apps.tariffs.contracts import BillingEngine

_audit = parties_api.audit
_COUNTRY = re.compile(r"^[A-Z]{3}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MAX_AMOUNT = Decimal("1e14")
_MONEY_FIELDS = ("markup_per_kwh", "margin_per_session", "margin_per_kwh")


def _ids(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _scope_problems(tenant_id: int, side: str, scope: str, value: str, path: str) -> list[Problem]:
    """Does the scope value name something of this tenant?"""
    if scope == "ANY":
        return [] if value == "" else [Problem(path, "must be empty for scope ANY")]
    if scope == CpoScope.COUNTRY:
        if _COUNTRY.match(value):
            return []
        return [Problem(path, "an ISO 3166-1 alpha-3 country code, e.g. NLD")]
    pk = _ids(value)
    if pk is None:
        return [Problem(path, f"the id of a {scope.lower().replace('_', ' ')} of this tenant")]
    found: bool
    if scope in (CpoScope.CPO_PARTY, EmspScope.EMSP_PARTY):
        role = PartyRole.CPO if scope == CpoScope.CPO_PARTY else PartyRole.EMSP
        found = any(
            p.id == pk for p in parties_api.parties_of_tenant(tenant_id=tenant_id, role=role)
        )
    elif scope == CpoScope.LOCATION:
        found = pk in locations_api.location_scope_facts(tenant_id=tenant_id, location_ids=[pk])
    elif scope == CpoScope.STATION:
        found = pk in locations_api.station_scope_facts(tenant_id=tenant_id, station_ids=[pk])
    elif scope == CpoScope.TARIFF_CODE:
        found = pk in tariffs_api.tariff_code_ids_of_tenant(tenant_id=tenant_id, ids=[pk])
    else:
        found = pk in customers_api.customer_scope_ids(tenant_id=tenant_id, scope=scope, ids=[pk])
    if found:
        return []
    return [Problem(path, f"no {scope.lower().replace('_', ' ')} {pk} in this tenant")]


def _amount_problems(name: str, value: Decimal | None, *, minimum: Decimal) -> list[Problem]:
    if value is None:
        return []
    path = f"$.{name}"
    if not value.is_finite():
        return [Problem(path, "must be a number")]
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        return [Problem(path, "at most 4 decimals")]
    if value < minimum or abs(value) >= _MAX_AMOUNT:
        return [Problem(path, f"must be at least {minimum} and below {_MAX_AMOUNT:f}")]
    return []


def _pricing_problems(
    tenant_id: int, engine: BillingEngine, terms: BillingRuleTerms
) -> tuple[list[Problem], str]:
    """Problems of the tariff, mark-up and margins for this engine, and the currency of
    the rule's money amounts."""
    problems: list[Problem] = []
    currency = terms.currency
    cost_plus = terms.pricing == RulePricing.COST_PLUS
    if cost_plus and engine != BillingEngine.RETAIL:
        problems.append(Problem("$.pricing", "COST_PLUS is for RETAIL rules only"))
    if cost_plus:
        if terms.tariff_id is not None:
            problems.append(Problem("$.tariff_id", "a COST_PLUS rule prices without a tariff"))
        if terms.markup_percent is None:
            problems.append(Problem("$.markup_percent", "required for COST_PLUS"))
    else:
        if terms.tariff_id is None:
            problems.append(Problem("$.tariff_id", "required"))
        else:
            tariff = tariffs_api.tariff_engine_currency(
                tenant_id=tenant_id, tariff_id=terms.tariff_id
            )
            if tariff is None:
                problems.append(
                    Problem("$.tariff_id", f"no tariff {terms.tariff_id} in this tenant")
                )
            elif tariff[0] != engine:
                problems.append(
                    Problem(
                        "$.tariff_id", f"a {tariff[0].value} tariff; this is a {engine.value} rule"
                    )
                )
            elif currency and currency != tariff[1]:
                problems.append(
                    Problem(
                        "$.currency", f"must be the tariff's currency {tariff[1]}, not {currency}"
                    )
                )
            else:
                currency = tariff[1]
        for name in ("markup_percent", "markup_per_kwh"):
            if getattr(terms, name) is not None:
                problems.append(Problem(f"$.{name}", "only for COST_PLUS rules"))
    if engine != BillingEngine.REIMBURSEMENT:
        for name in ("margin_per_session", "margin_per_kwh"):
            if getattr(terms, name) is not None:
                problems.append(Problem(f"$.{name}", "only for REIMBURSEMENT rules"))
    problems += _amount_problems("markup_percent", terms.markup_percent, minimum=Decimal(-100))
    for name in _MONEY_FIELDS:
        problems += _amount_problems(name, getattr(terms, name), minimum=Decimal(0))
    has_money = any(getattr(terms, name) is not None for name in _MONEY_FIELDS)
    if has_money and not currency and (cost_plus or terms.tariff_id is None):
        problems.append(Problem("$.currency", "required with an amount per kWh or per session"))
    elif currency and not _CURRENCY.match(currency):
        problems.append(Problem("$.currency", "an ISO 4217 currency code, e.g. EUR"))
    return problems, currency


def _terms_problems(
    tenant_id: int, engine: BillingEngine, terms: BillingRuleTerms
) -> tuple[list[Problem], str]:
    problems, currency = _pricing_problems(tenant_id, engine, terms)
    if terms.cpo_scope not in CpoScope.__members__.values():
        problems.append(Problem("$.cpo_scope", "unknown scope"))
    else:
        problems += _scope_problems(
            tenant_id, "cpo", terms.cpo_scope, terms.cpo_scope_value, "$.cpo_scope_value"
        )
    if terms.emsp_scope not in EmspScope.__members__.values():
        problems.append(Problem("$.emsp_scope", "unknown scope"))
    else:
        problems += _scope_problems(
            tenant_id, "emsp", terms.emsp_scope, terms.emsp_scope_value, "$.emsp_scope_value"
        )
    if not 1 <= terms.weekdays <= 127:
        problems.append(
            Problem("$.weekdays", "a bit mask of weekdays from 1 to 127 (Monday 1 ... Sunday 64)")
        )
    if terms.time_from is not None and terms.time_from == terms.time_until:
        problems.append(
            Problem("$.time_until", "must differ from time_from (all day: leave both empty)")
        )
    for t, name in ((terms.time_from, "time_from"), (terms.time_until, "time_until")):
        if t is not None and t.tzinfo is not None:
            problems.append(Problem(f"$.{name}", "a local time of the location, without zone"))
    if (
        terms.valid_from is not None
        and terms.valid_until is not None
        and terms.valid_from >= terms.valid_until
    ):
        problems.append(Problem("$.valid_until", "must be after valid_from"))
    problems += _exception_problems(tenant_id, terms.exceptions)
    return problems, currency


def _exception_problems(tenant_id: int, exceptions: Iterable[RuleException]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for i, e in enumerate(exceptions):
        path = f"$.exceptions[{i}]"
        scopes = {"cpo": CpoScope, "emsp": EmspScope}.get(e.side)
        if scopes is None:
            problems.append(Problem(f"{path}.side", "cpo or emsp"))
            continue
        if e.scope == "ANY" or e.scope not in scopes.__members__.values():
            names = ", ".join(s.value for s in scopes if s.value != "ANY")
            problems.append(Problem(f"{path}.scope", f"one of {names}"))
            continue
        if (e.side, e.scope, e.value) in seen:
            problems.append(Problem(path, "listed twice"))
        seen.add((e.side, e.scope, e.value))
        problems += _scope_problems(tenant_id, e.side, e.scope, e.value, f"{path}.value")
    return problems


def _money(value: Decimal | None, currency: str) -> Money | None:
    return None if value is None else Money(value, currency)


def _write_version(
    *,
    rule: BillingRule,
    version: int,
    effective_from: datetime,
    terms: BillingRuleTerms,
    currency: str,
    active: bool,
    reason: str,
    actor: Actor,
) -> BillingRuleVersion:
    row = BillingRuleVersion(
        tenant_id=rule.tenant_id,
        rule=rule,
        version=version,
        effective_from=effective_from,
        active=active,
        pricing=terms.pricing.value,
        tariff_id=terms.tariff_id,
        markup_percent=terms.markup_percent,
        **{name: _money(getattr(terms, name), currency) for name in _MONEY_FIELDS},
        cpo_scope=terms.cpo_scope.value,
        cpo_scope_value=terms.cpo_scope_value,
        emsp_scope=terms.emsp_scope.value,
        emsp_scope_value=terms.emsp_scope_value,
        valid_from=terms.valid_from,
        valid_until=terms.valid_until,
        weekdays=terms.weekdays,
        time_from=terms.time_from,
        time_until=terms.time_until,
        exceptions=[{"side": e.side, "scope": e.scope, "value": e.value} for e in terms.exceptions],
        reason=reason[:200],
        created_by_id=actor.user_id,
    )
    row.save()
    selectors.rule_index_cache_clear(tenant_id=rule.tenant_id)
    return row


def _refuse_overlaps(overlaps: tuple[RuleOverlap, ...], confirmed: bool) -> None:
    if overlaps and not confirmed:
        raise Conflict(
            f"the draft may cover the same sessions as {len(overlaps)} other rule version(s); "
            "change its scopes or validity, or confirm to save anyway",
            problems=tuple(
                Problem(
                    "$.confirm_overlaps",
                    f"rule {o.rule_id} {o.rule_name!r} version {o.version} (from "
                    f"{o.effective_from.isoformat()}"
                    + (f" until {o.effective_until.isoformat()})" if o.effective_until else ")"),
                )
                for o in overlaps
            ),
        )


def _checked(
    tenant_id: int,
    engine: BillingEngine,
    terms: BillingRuleTerms,
    effective_from: datetime,
    rule_id: int | None,
    confirm_overlaps: bool,
    extra: list[Problem],
) -> tuple[str, tuple[RuleOverlap, ...]]:
    problems, currency = _terms_problems(tenant_id, engine, terms)
    problems = extra + problems
    if problems:
        raise ValidationFailed("invalid billing rule", problems=tuple(problems))
    overlaps = selectors.billing_rule_overlaps(
        tenant_id=tenant_id,
        engine=engine,
        terms=terms,
        effective_from=effective_from,
        rule_id=rule_id,
    )
    _refuse_overlaps(overlaps, confirm_overlaps)
    return currency, overlaps


@transaction.atomic
def billing_rule_create(
    *,
    tenant_id: int,
    engine: BillingEngine,
    name: str,
    terms: BillingRuleTerms,
    effective_from: datetime,
    actor: Actor,
    now: datetime,
    reason: str = "",
    confirm_overlaps: bool = False,
) -> BillingRuleRecord:
    """A new rule of one engine with its first version, covering sessions that start at or
    after `effective_from` (it may lie in the past: a rule written to rate flagged CDRs)."""
    name = name.strip()
    extra: list[Problem] = []
    if not name or len(name) > 200:
        extra.append(Problem("$.name", "required, at most 200 characters"))
    elif BillingRule.objects.for_tenant(tenant_id).filter(engine=engine.value, name=name).exists():
        extra.append(Problem("$.name", f"a {engine.value} rule named {name!r} exists"))
    currency, overlaps = _checked(
        tenant_id, engine, terms, effective_from, None, confirm_overlaps, extra
    )
    rule = BillingRule.objects.create(tenant_id=tenant_id, engine=engine.value, name=name)
    _write_version(
        rule=rule,
        version=1,
        effective_from=effective_from,
        terms=terms,
        currency=currency,
        active=True,
        reason=reason,
        actor=actor,
    )
    record = selectors.billing_rule_get(tenant_id=tenant_id, rule_id=rule.pk, at=now)
    _audit(
        tenant_id,
        actor,
        "billing_rule.create",
        "billing_rule",
        rule.pk,
        after={"rule": record, "confirmed_overlaps": overlaps},
    )
    return record


def _locked_rule(tenant_id: int, rule_id: int) -> BillingRule:
    rule = BillingRule.objects.for_tenant(tenant_id).select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(f"no billing rule {rule_id} in this tenant")
    return rule


def _after_latest(rule: BillingRule, effective_from: datetime) -> tuple[int, list[Problem]]:
    latest = rule.versions.order_by("-effective_from").first()
    if latest is None:
        return 1, []
    number = (rule.versions.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    if effective_from <= latest.effective_from:
        return number, [
            Problem(
                "$.effective_from",
                f"must be after the start of version {latest.version} "
                f"({latest.effective_from.isoformat()}): versions are never rewritten",
            )
        ]
    return number, []


@transaction.atomic
def billing_rule_version_add(
    *,
    tenant_id: int,
    rule_id: int,
    terms: BillingRuleTerms,
    effective_from: datetime,
    actor: Actor,
    now: datetime,
    reason: str = "",
    confirm_overlaps: bool = False,
) -> BillingRuleRecord:
    """New terms for a rule from `effective_from` on (after its latest version's start);
    sessions that start before keep the version they had."""
    rule = _locked_rule(tenant_id, rule_id)
    before = selectors.billing_rule_get(tenant_id=tenant_id, rule_id=rule_id, at=now)
    number, extra = _after_latest(rule, effective_from)
    engine = BillingEngine(rule.engine)
    currency, overlaps = _checked(
        tenant_id, engine, terms, effective_from, rule.pk, confirm_overlaps, extra
    )
    _write_version(
        rule=rule,
        version=number,
        effective_from=effective_from,
        terms=terms,
        currency=currency,
        active=True,
        reason=reason,
        actor=actor,
    )
    record = selectors.billing_rule_get(tenant_id=tenant_id, rule_id=rule_id, at=now)
    _audit(
        tenant_id,
        actor,
        "billing_rule.version_add",
        "billing_rule",
        rule.pk,
        before=before,
        after={"rule": record, "confirmed_overlaps": overlaps},
    )
    return record


@transaction.atomic
def billing_rule_retire(
    *,
    tenant_id: int,
    rule_id: int,
    effective_from: datetime,
    actor: Actor,
    now: datetime,
    reason: str = "",
) -> BillingRuleRecord:
    """The rule covers no session that starts at or after `effective_from` (a version with
    active False and the terms of the one before, for the record)."""
    rule = _locked_rule(tenant_id, rule_id)
    before = selectors.billing_rule_get(tenant_id=tenant_id, rule_id=rule_id, at=now)
    latest = before.versions[-1]
    if not latest.active:
        raise Conflict(
            f"billing rule {rule_id} is retired from {latest.effective_from.isoformat()}"
        )
    number, problems = _after_latest(rule, effective_from)
    if problems:
        raise ValidationFailed("invalid retirement", problems=tuple(problems))
    _write_version(
        rule=rule,
        version=number,
        effective_from=effective_from,
        terms=latest.terms,
        currency=latest.terms.currency,
        active=False,
        reason=reason,
        actor=actor,
    )
    record = selectors.billing_rule_get(tenant_id=tenant_id, rule_id=rule_id, at=now)
    _audit(
        tenant_id,
        actor,
        "billing_rule.retire",
        "billing_rule",
        rule.pk,
        before=before,
        after=record,
    )
    return record


@transaction.atomic
def billing_rule_copy(
    *,
    tenant_id: int,
    rule_id: int,
    name: str,
    effective_from: datetime,
    actor: Actor,
    now: datetime,
    terms: BillingRuleTerms | None = None,
    reason: str = "",
    confirm_overlaps: bool = False,
) -> BillingRuleRecord:
    """A new rule of the same engine from the terms of rule `rule_id`'s version in force at
    `now` (or from `terms`: the copy edited before saving). An unchanged copy overlaps its
    source, so it is saved only with `confirm_overlaps`."""
    source = selectors.billing_rule_get(tenant_id=tenant_id, rule_id=rule_id, at=now)
    return billing_rule_create(
        tenant_id=tenant_id,
        engine=source.engine,
        name=name,
        terms=terms if terms is not None else source.current.terms,
        effective_from=effective_from,
        actor=actor,
        now=now,
        reason=reason
        or f"copy of rule {source.id} {source.name!r} version {source.current.version}",
        confirm_overlaps=confirm_overlaps,
    )
