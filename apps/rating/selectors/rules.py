"""Billing rules as the editor, the REST API and the rating engines read them: records with
their versions, the matcher's `RuleSpec`s and a per-process cached `RuleIndex` per tenant
and engine, and the overlap check of a draft version (BILLING.md section 2)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Count, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce

from apps.common.errors import NotFound
from apps.locations import api as locations_api
from apps.rating.contracts import (
    BillingRuleRecord,
    BillingRuleTerms,
    BillingRuleVersionRecord,
    CpoScope,
    EmspScope,
    RuleException,
    RuleOverlap,
    RulePricing,
)
from apps.rating.models import BillingRule, BillingRuleVersion
from apps.tariffs import api as tariffs_api
from apps.tariffs.contracts import BillingEngine
from billing.rating.match import RuleIndex, RuleSpec
from billing.rating.overlap import Related, may_overlap


def terms_of(v: BillingRuleVersion, tariff_currency: str = "") -> BillingRuleTerms:
    money = v.markup_per_kwh or v.margin_per_session or v.margin_per_kwh
    return BillingRuleTerms(
        cpo_scope=CpoScope(v.cpo_scope),
        cpo_scope_value=v.cpo_scope_value,
        emsp_scope=EmspScope(v.emsp_scope),
        emsp_scope_value=v.emsp_scope_value,
        pricing=RulePricing(v.pricing),
        tariff_id=v.tariff_id,
        currency=str(money.currency) if money is not None else tariff_currency,
        markup_percent=v.markup_percent,
        markup_per_kwh=v.markup_per_kwh.amount if v.markup_per_kwh is not None else None,
        margin_per_session=(
            v.margin_per_session.amount if v.margin_per_session is not None else None
        ),
        margin_per_kwh=v.margin_per_kwh.amount if v.margin_per_kwh is not None else None,
        valid_from=v.valid_from,
        valid_until=v.valid_until,
        weekdays=v.weekdays,
        time_from=v.time_from,
        time_until=v.time_until,
        exceptions=tuple(
            RuleException(side=e["side"], scope=e["scope"], value=e["value"]) for e in v.exceptions
        ),
    )


def _versions(
    tenant_id: int, versions: Sequence[BillingRuleVersion], labels: dict[int, tuple[str, str]]
) -> tuple[BillingRuleVersionRecord, ...]:
    out = []
    for i, v in enumerate(versions):
        until = versions[i + 1].effective_from if i + 1 < len(versions) else None
        name, currency = labels.get(v.tariff_id, ("", "")) if v.tariff_id is not None else ("", "")
        out.append(
            BillingRuleVersionRecord(
                id=v.pk,
                version=v.version,
                effective_from=v.effective_from,
                effective_until=until,
                active=v.active,
                terms=terms_of(v, currency),
                tariff_name=name,
                reason=v.reason,
                created_by_id=v.created_by_id,
            )
        )
    return tuple(out)


def _current(
    versions: tuple[BillingRuleVersionRecord, ...], at: datetime
) -> BillingRuleVersionRecord:
    in_force = [v for v in versions if v.effective_from <= at]
    return in_force[-1] if in_force else versions[0]


def _records(tenant_id: int, rules: Iterable[BillingRule], at: datetime) -> list[BillingRuleRecord]:
    rules = list(rules)
    tariff_ids = {v.tariff_id for r in rules for v in r.versions.all() if v.tariff_id}
    labels = tariffs_api.tariff_labels(tenant_id=tenant_id, tariff_ids=tariff_ids)
    out = []
    for rule in rules:
        versions = _versions(
            tenant_id, sorted(rule.versions.all(), key=lambda v: v.effective_from), labels
        )
        current = _current(versions, at)
        out.append(
            BillingRuleRecord(
                id=rule.pk,
                engine=BillingEngine(rule.engine),
                name=rule.name,
                active=current.active,
                current=current,
                versions=versions,
            )
        )
    return out


def billing_rule_get(*, tenant_id: int, rule_id: int, at: datetime) -> BillingRuleRecord:
    """One rule of this tenant with all its versions (NotFound otherwise)."""
    rules = (
        BillingRule.objects.for_tenant(tenant_id).filter(pk=rule_id).prefetch_related("versions")
    )
    found = _records(tenant_id, rules, at)
    if not found:
        raise NotFound(f"no billing rule {rule_id} in this tenant")
    return found[0]


def billing_rule_list(
    *,
    tenant_id: int,
    at: datetime,
    engine: BillingEngine | None = None,
    include_retired: bool = False,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[BillingRuleRecord]:
    """The tenant's rules by id (keyset: `after_id`, `limit`). Active only by default: a
    rule is retired when its version in force at `at` (the first while none is yet) is."""
    in_force = BillingRuleVersion.objects.filter(
        rule=OuterRef("pk"), effective_from__lte=at
    ).order_by("-effective_from")
    first = BillingRuleVersion.objects.filter(rule=OuterRef("pk")).order_by("effective_from")
    qs = BillingRule.objects.for_tenant(tenant_id).annotate(
        current_active=Coalesce(
            Subquery(in_force.values("active")[:1]), Subquery(first.values("active")[:1])
        )
    )
    if engine is not None:
        qs = qs.filter(engine=engine.value)
    if not include_retired:
        qs = qs.filter(current_active=True)
    if after_id is not None:
        qs = qs.filter(pk__gt=after_id)
    qs = qs.order_by("pk").prefetch_related("versions")
    if limit is not None:
        qs = qs[:limit]
    return _records(tenant_id, qs, at)


def billing_rule_names(*, tenant_id: int, rule_ids: Iterable[int]) -> dict[int, str]:
    return dict(
        BillingRule.objects.for_tenant(tenant_id)
        .filter(pk__in=set(rule_ids))
        .values_list("pk", "name")
    )


# --- the matcher's view ----------------------------------------------------------------------


def spec_of(
    rule_id: int,
    version_id: int,
    terms: BillingRuleTerms,
    effective_from: datetime | None,
    effective_until: datetime | None,
) -> RuleSpec:
    return RuleSpec(
        rule_id=rule_id,
        version_id=version_id,
        cpo_scope=terms.cpo_scope.value,
        cpo_value=terms.cpo_scope_value,
        emsp_scope=terms.emsp_scope.value,
        emsp_value=terms.emsp_scope_value,
        effective_from=effective_from,
        effective_until=effective_until,
        valid_from=terms.valid_from,
        valid_until=terms.valid_until,
        weekdays=terms.weekdays,
        time_from=terms.time_from,
        time_until=terms.time_until,
        exceptions=tuple((e.side, e.scope, e.value) for e in terms.exceptions),
    )


_SPEC_FIELDS = (
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


def rule_specs(
    *, tenant_id: int, engine: BillingEngine, exclude_rule_id: int | None = None
) -> list[RuleSpec]:
    """Every active version of the tenant's rules of this engine as a `RuleSpec`; a
    version applies until the rule's next version (retired versions end the one before
    them and are left out)."""
    qs = BillingRuleVersion.objects.filter(tenant_id=tenant_id, rule__engine=engine.value)
    if exclude_rule_id is not None:
        qs = qs.exclude(rule_id=exclude_rule_id)
    rows = list(qs.order_by("rule_id", "effective_from").values_list(*_SPEC_FIELDS))
    specs: list[RuleSpec] = []
    for i, row in enumerate(rows):
        (pk, rule_id, eff_from, active, cpo, cpo_v, emsp, emsp_v) = row[:8]
        (valid_from, valid_until, weekdays, time_from, time_until, exceptions) = row[8:]
        if not active:
            continue
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        until = nxt[2] if nxt is not None and nxt[1] == rule_id else None
        specs.append(
            RuleSpec(
                rule_id=rule_id,
                version_id=pk,
                cpo_scope=cpo,
                cpo_value=cpo_v,
                emsp_scope=emsp,
                emsp_value=emsp_v,
                effective_from=eff_from,
                effective_until=until,
                valid_from=valid_from,
                valid_until=valid_until,
                weekdays=weekdays,
                time_from=time_from,
                time_until=time_until,
                exceptions=tuple((e["side"], e["scope"], e["value"]) for e in exceptions),
            )
        )
    return specs


_index_lock = threading.Lock()
_index_cache: dict[tuple[int, str], tuple[tuple[int | None, int], RuleIndex]] = {}


def _stamps(tenant_ids: Iterable[int]) -> dict[int, tuple[int | None, int]]:
    """Per tenant, the highest version id and the number of versions of all its rules (one
    query for the tenants, no join: ADR 0034). Versions are append-only, so any change of
    any rule of the tenant moves them; every engine's index of the tenant is then rebuilt."""
    ids = set(tenant_ids)
    found = {
        tenant_id: (last, n)
        for tenant_id, last, n in BillingRuleVersion.objects.filter(tenant_id__in=ids)
        .order_by()
        .values("tenant_id")
        .annotate(last=Max("pk"), n=Count("pk"))
        .values_list("tenant_id", "last", "n")
    }
    return {t: found.get(t, (None, 0)) for t in ids}


def _index(tenant_id: int, engine: BillingEngine, stamp: tuple[int | None, int]) -> RuleIndex:
    key = (tenant_id, engine.value)
    cached = _index_cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    index = RuleIndex(rule_specs(tenant_id=tenant_id, engine=engine))
    with _index_lock:
        _index_cache[key] = (stamp, index)
    return index


def rule_index(*, tenant_id: int, engine: BillingEngine) -> RuleIndex:
    """The tenant's rules of this engine, indexed for matching. Cached per process; one
    cheap query (the highest version id and the number of versions of the tenant's rules:
    versions are append-only, so any change moves them) tells whether the cached index is
    still the rules' in any process."""
    return _index(tenant_id, engine, _stamps([tenant_id])[tenant_id])


def rule_indexes(
    *, keys: Iterable[tuple[int, BillingEngine]]
) -> dict[tuple[int, BillingEngine], RuleIndex]:
    """`rule_index` of several (tenant, engine) pairs with one validity query for them all
    (the rating engines' batch)."""
    keys = set(keys)
    stamps = _stamps(t for t, _ in keys)
    return {(t, e): _index(t, e, stamps[t]) for t, e in keys}


def rule_index_cache_clear(*, tenant_id: int | None = None) -> None:
    """Forget cached indexes (of one tenant, or all): services call it when they change a
    rule; tests call it between tests (SQLite may reuse the ids of rolled-back rows)."""
    with _index_lock:
        for key in [k for k in _index_cache if tenant_id is None or k[0] == tenant_id]:
            del _index_cache[key]


# --- overlaps --------------------------------------------------------------------------------


def _related_cpo(tenant_id: int, specs: Iterable[RuleSpec]) -> Related:
    """The `related` answer of `billing.rating.overlap` from the tenant's locations and
    stations as they are now (unknown ids: related, conservatively)."""
    specs = list(specs)
    keys = {(s.cpo_scope, s.cpo_value) for s in specs}
    keys |= {(scope, value) for s in specs for side, scope, value in s.exceptions if side == "cpo"}
    location_ids = {int(v) for k, v in keys if k == CpoScope.LOCATION and v.isdigit()}
    station_ids = {int(v) for k, v in keys if k == CpoScope.STATION and v.isdigit()}
    locations = locations_api.location_scope_facts(tenant_id=tenant_id, location_ids=location_ids)
    stations = locations_api.station_scope_facts(tenant_id=tenant_id, station_ids=station_ids)

    def place(key: tuple[str, str]) -> tuple[str | None, str | None, str | None] | None:
        """(location, country, CPO party) of a LOCATION or STATION key, None if unknown."""
        if key[0] == CpoScope.LOCATION and key[1].isdigit() and int(key[1]) in locations:
            country, party = locations[int(key[1])]
            return (key[1], country, str(party))
        if key[0] == CpoScope.STATION and key[1].isdigit() and int(key[1]) in stations:
            loc, country, party_id, _tz = stations[int(key[1])]
            return (
                str(loc) if loc is not None else None,
                country or None,
                str(party_id) if party_id is not None else None,
            )
        return None

    field = {CpoScope.LOCATION: 0, CpoScope.COUNTRY: 1, CpoScope.CPO_PARTY: 2}

    def related(side: str, a: tuple[str, str], b: tuple[str, str]) -> bool:
        if side != "cpo":
            return True
        for x, y in ((a, b), (b, a)):
            if x[0] in (CpoScope.LOCATION, CpoScope.STATION) and y[0] in field:
                facts = place(x)
                if facts is not None:
                    return facts[field[CpoScope(y[0])]] == y[1]
        return True

    return related


def billing_rule_overlaps(
    *,
    tenant_id: int,
    engine: BillingEngine,
    terms: BillingRuleTerms,
    effective_from: datetime,
    rule_id: int | None = None,
) -> tuple[RuleOverlap, ...]:
    """The active versions of the tenant's other rules of this engine that may cover a
    session the draft covers (`billing.rating.overlap`: conservative). The draft is a new
    version of rule `rule_id` from `effective_from` on (a new rule: None), so that rule's
    own versions are not compared with it."""
    others = rule_specs(tenant_id=tenant_id, engine=engine, exclude_rule_id=rule_id)
    draft = spec_of(rule_id or 0, 0, terms, effective_from, None)
    related = _related_cpo(tenant_id, [draft, *others])
    hits = [s for s in others if may_overlap(draft, s, related)]
    if not hits:
        return ()
    names = billing_rule_names(tenant_id=tenant_id, rule_ids={s.rule_id for s in hits})
    numbers = dict(
        BillingRuleVersion.objects.filter(pk__in=[s.version_id for s in hits]).values_list(
            "pk", "version"
        )
    )
    return tuple(
        RuleOverlap(
            rule_id=s.rule_id,
            rule_name=names.get(s.rule_id, ""),
            version_id=s.version_id,
            version=numbers.get(s.version_id, 0),
            effective_from=s.effective_from or effective_from,
            effective_until=s.effective_until,
        )
        for s in hits
    )
