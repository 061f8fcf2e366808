"""Billing rules (BILLING.md section 2): validation with field paths, versions from a moment
on, retire, copy, the overlap check before saving, the cached rule index, the tester, the
audit, and tenants kept apart."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, ValidationFailed
from apps.customers.models import RetailPackage, UserGroup
from apps.parties.models import AuditEntry, Operator, Party
from apps.rating import api as rating_api
from apps.rating.contracts import (
    BillingRuleTerms,
    CpoScope,
    EmspScope,
    RuleException,
    RulePricing,
)
from apps.rating.models import BillingRule, BillingRuleVersion
from apps.tariffs.contracts import BillingEngine
from apps.tariffs.models import Tariff
from billing.rating.match import AMBIGUOUS_RULES, NO_RULE, SessionFacts
from tests.factories import (
    ChargeStationFactory,
    ContractFactory,
    EmspFactory,
    LocationFactory,
    OperatorFactory,
    PartyFactory,
    TariffAssignmentFactory,
    TariffCodeFactory,
    TariffFactory,
    TokenFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
W = BillingEngine.WHOLESALE


@dataclass
class World:
    tenant: Operator
    cpo: Party
    emsp: Party
    station_a: int  # at location_a (NLD)
    station_b: int  # at location_b (BEL)
    location_a: int
    location_b: int
    token: int
    wholesale: Tariff
    retail: Tariff
    reimbursement: Tariff
    actor: Actor


@pytest.fixture
def world() -> World:
    tenant = OperatorFactory()
    cpo = PartyFactory(tenant=tenant)
    emsp = EmspFactory(tenant=tenant)
    station_a = ChargeStationFactory(location__party=cpo)
    station_b = ChargeStationFactory(
        location__party=cpo, location__country="BEL", location__time_zone="Europe/Brussels"
    )
    token = TokenFactory(party=emsp)
    user = UserFactory()
    return World(
        tenant=tenant,
        cpo=cpo,
        emsp=emsp,
        station_a=station_a.pk,
        station_b=station_b.pk,
        location_a=station_a.location_id,
        location_b=station_b.location_id,
        token=token.pk,
        wholesale=TariffFactory(party=cpo, engine="WHOLESALE", name="Station price"),
        retail=TariffFactory(party=emsp, engine="RETAIL", name="Driver price"),
        reimbursement=TariffFactory(party=cpo, engine="REIMBURSEMENT", name="Home energy"),
        actor=Actor.user(user.pk),
    )


def terms(w: World, **kw: object) -> BillingRuleTerms:
    base = BillingRuleTerms(tariff_id=w.wholesale.pk)
    return replace(base, **kw)  # type: ignore[arg-type]


def create(w: World, name: str = "All sessions", engine: BillingEngine = W, **kw: object):  # type: ignore[no-untyped-def]
    confirm = bool(kw.pop("confirm", False))
    start = kw.pop("effective_from", NOW - timedelta(days=30))
    return rating_api.billing_rule_create(
        tenant_id=w.tenant.pk,
        engine=engine,
        name=name,
        terms=terms(w, **kw),
        effective_from=start,  # type: ignore[arg-type]
        actor=w.actor,
        now=NOW,
        confirm_overlaps=confirm,
    )


def problems(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {p.path: p.message for p in exc.value.problems}


# --- create and validation -------------------------------------------------------------------


def test_create_stores_the_rule_and_its_first_version_and_audits_it(world: World) -> None:
    record = create(world, cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_a))

    assert record.engine == W and record.name == "All sessions" and record.active
    (v1,) = record.versions
    assert (v1.version, v1.effective_from, v1.effective_until) == (1, NOW - timedelta(30), None)
    assert v1.terms.cpo_scope == CpoScope.STATION
    assert v1.terms.cpo_scope_value == str(world.station_a)
    assert v1.terms.currency == "EUR" and v1.tariff_name == "Station price"
    (entry,) = AuditEntry.objects.filter(object_type="billing_rule")
    assert entry.action == "billing_rule.create"
    assert entry.actor_id == world.actor.user_id
    assert entry.object_id == str(record.id)
    assert entry.after["rule"]["versions"][0]["terms"]["tariff_id"] == world.wholesale.pk


def test_problems_name_their_fields_and_nothing_is_stored(world: World) -> None:
    other = OperatorFactory()
    foreign_station = ChargeStationFactory(location__party=PartyFactory(tenant=other))
    with pytest.raises(ValidationFailed) as exc:
        create(
            world,
            name="",
            tariff_id=world.retail.pk,  # a RETAIL tariff on a WHOLESALE rule
            cpo_scope=CpoScope.STATION,
            cpo_scope_value=str(foreign_station.pk),
            emsp_scope=EmspScope.EMSP_PARTY,
            emsp_scope_value="abc",
            weekdays=0,
            time_from=time(8),
            time_until=time(8),
            valid_from=NOW,
            valid_until=NOW,
            margin_per_kwh=Decimal("0.01"),
            exceptions=(
                RuleException(side="x", scope="STATION", value="1"),
                RuleException(side="cpo", scope="ANY", value=""),
                RuleException(side="emsp", scope="USER_GROUP", value="999999"),
            ),
        )
    assert problems(exc) == {
        "$.name": "required, at most 200 characters",
        "$.tariff_id": "a RETAIL tariff; this is a WHOLESALE rule",
        "$.margin_per_kwh": "only for REIMBURSEMENT rules",
        "$.cpo_scope_value": f"no station {foreign_station.pk} in this tenant",
        "$.emsp_scope_value": "the id of a emsp party of this tenant",
        "$.weekdays": "a bit mask of weekdays from 1 to 127 (Monday 1 ... Sunday 64)",
        "$.time_until": "must differ from time_from (all day: leave both empty)",
        "$.valid_until": "must be after valid_from",
        "$.exceptions[0].side": "cpo or emsp",
        "$.exceptions[1].scope": "one of COUNTRY, CPO_PARTY, LOCATION, STATION, TARIFF_CODE",
        "$.exceptions[2].value": "no user group 999999 in this tenant",
    }
    assert not BillingRule.objects.exists() and not BillingRuleVersion.objects.exists()
    assert not AuditEntry.objects.filter(object_type="billing_rule").exists()


def test_a_tariff_of_another_tenant_and_a_bad_country_are_refused(world: World) -> None:
    theirs = TariffFactory(engine="WHOLESALE")
    with pytest.raises(ValidationFailed) as exc:
        create(world, tariff_id=theirs.pk, cpo_scope=CpoScope.COUNTRY, cpo_scope_value="NL")
    assert problems(exc) == {
        "$.tariff_id": f"no tariff {theirs.pk} in this tenant",
        "$.cpo_scope_value": "an ISO 3166-1 alpha-3 country code, e.g. NLD",
    }


def test_pricing_per_engine(world: World) -> None:
    # RETAIL cost-plus: no tariff, a mark-up; its amount per kWh needs a currency.
    with pytest.raises(ValidationFailed) as exc:
        create(
            world,
            engine=BillingEngine.RETAIL,
            pricing=RulePricing.COST_PLUS,
            markup_per_kwh=Decimal("0.05"),
        )
    assert problems(exc) == {
        "$.tariff_id": "a COST_PLUS rule prices without a tariff",
        "$.markup_percent": "required for COST_PLUS",
        "$.currency": "required with an amount per kWh or per session",
    }
    cost_plus = create(
        world,
        engine=BillingEngine.RETAIL,
        tariff_id=None,
        pricing=RulePricing.COST_PLUS,
        markup_percent=Decimal("5"),
        markup_per_kwh=Decimal("0.0500"),
        currency="EUR",
    )
    assert cost_plus.current.terms.markup_percent == Decimal("5")
    assert cost_plus.current.terms.markup_per_kwh == Decimal("0.0500")
    assert cost_plus.current.terms.currency == "EUR"
    # COST_PLUS is retail's only.
    with pytest.raises(ValidationFailed) as exc:
        create(
            world,
            name="W",
            pricing=RulePricing.COST_PLUS,
            tariff_id=None,
            markup_percent=Decimal(1),
        )
    assert problems(exc) == {"$.pricing": "COST_PLUS is for RETAIL rules only"}
    # REIMBURSEMENT: the owner's tariff minus margins in the tariff's currency.
    with pytest.raises(ValidationFailed) as exc:
        create(
            world,
            engine=BillingEngine.REIMBURSEMENT,
            tariff_id=world.reimbursement.pk,
            margin_per_session=Decimal("0.12345"),
            margin_per_kwh=Decimal("0.02"),
            currency="USD",
        )
    assert problems(exc) == {
        "$.currency": "must be the tariff's currency EUR, not USD",
        "$.margin_per_session": "at most 4 decimals",
    }
    owner = create(
        world,
        engine=BillingEngine.REIMBURSEMENT,
        tariff_id=world.reimbursement.pk,
        margin_per_kwh=Decimal("0.02"),
    )
    row = BillingRuleVersion.objects.get(rule_id=owner.id)
    assert (row.margin_per_kwh.amount, str(row.margin_per_kwh.currency)) == (Decimal("0.02"), "EUR")
    assert row.margin_per_session is None


def test_name_unique_per_engine(world: World) -> None:
    create(world, name="Same", cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_a))
    with pytest.raises(ValidationFailed) as exc:
        create(world, name="Same", cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_b))
    assert problems(exc) == {"$.name": "a WHOLESALE rule named 'Same' exists"}
    create(world, name="Same", engine=BillingEngine.RETAIL, tariff_id=world.retail.pk)


# --- overlaps --------------------------------------------------------------------------------


def test_an_overlapping_draft_is_refused_naming_the_rule_unless_confirmed(world: World) -> None:
    first = create(world, name="Everything")
    with pytest.raises(Conflict) as exc:
        create(
            world,
            name="Station A",
            cpo_scope=CpoScope.STATION,
            cpo_scope_value=str(world.station_a),
        )
    (p,) = exc.value.problems
    assert p.path == "$.confirm_overlaps"
    assert p.message.startswith(f"rule {first.id} 'Everything' version 1 (from ")
    assert BillingRule.objects.count() == 1

    second = create(
        world,
        name="Station A",
        cpo_scope=CpoScope.STATION,
        cpo_scope_value=str(world.station_a),
        confirm=True,
    )
    entry = AuditEntry.objects.get(action="billing_rule.create", object_id=str(second.id))
    assert [o["rule_id"] for o in entry.after["confirmed_overlaps"]] == [first.id]


def overlaps(w: World, engine: BillingEngine = W, **kw: object) -> list[int]:
    found = rating_api.billing_rule_overlaps(
        tenant_id=w.tenant.pk, engine=engine, terms=terms(w, **kw), effective_from=NOW
    )
    return [o.rule_id for o in found]


def test_overlap_by_cpo_scope(world: World) -> None:
    a = create(world, name="A", cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_a))
    nl = create(world, name="NL", cpo_scope=CpoScope.COUNTRY, cpo_scope_value="NLD", confirm=True)
    station_b = str(world.station_b)
    loc_a, loc_b = str(world.location_a), str(world.location_b)

    assert overlaps(world) == [a.id, nl.id]  # ANY meets everything
    assert overlaps(world, cpo_scope=CpoScope.STATION, cpo_scope_value=station_b) == []
    assert overlaps(world, cpo_scope=CpoScope.LOCATION, cpo_scope_value=loc_a) == [a.id, nl.id]
    assert overlaps(world, cpo_scope=CpoScope.LOCATION, cpo_scope_value=loc_b) == []
    assert overlaps(world, cpo_scope=CpoScope.COUNTRY, cpo_scope_value="BEL") == []
    assert overlaps(world, cpo_scope=CpoScope.CPO_PARTY, cpo_scope_value=str(world.cpo.pk)) == [
        a.id,
        nl.id,
    ]
    other_cpo = PartyFactory(tenant=world.tenant)
    assert overlaps(world, cpo_scope=CpoScope.CPO_PARTY, cpo_scope_value=str(other_cpo.pk)) == [
        nl.id  # a party's locations may lie in any country: not ruled out
    ]
    # Other engines are other rules.
    assert overlaps(world, engine=BillingEngine.RETAIL, tariff_id=world.retail.pk) == []


def test_overlap_by_time_and_exceptions(world: World) -> None:
    weekdays = create(world, name="Weekdays", weekdays=0b0011111)
    night = create(
        world, name="Weekend nights", weekdays=0b1100000, time_from=time(22), time_until=time(6)
    )
    assert overlaps(world, weekdays=0b1000000, time_from=time(6), time_until=time(22)) == []
    assert overlaps(world, weekdays=0b1000000, time_from=time(5), time_until=time(7)) == [night.id]
    assert overlaps(world, weekdays=0b0000001) == [weekdays.id]
    # Validity: the draft's window ends before theirs starts.
    assert overlaps(world, valid_until=NOW - timedelta(days=31)) == []
    # An exception naming the other rule's scope rules it out, either way round.
    station = create(
        world,
        name="A only",
        cpo_scope=CpoScope.STATION,
        cpo_scope_value=str(world.station_a),
        confirm=True,
    )
    excepted = RuleException(side="cpo", scope="STATION", value=str(world.station_a))
    assert station.id not in overlaps(world, exceptions=(excepted,))


def test_a_new_version_is_not_compared_with_its_own_rule(world: World) -> None:
    rule = create(world)
    record = rating_api.billing_rule_version_add(
        tenant_id=world.tenant.pk,
        rule_id=rule.id,
        terms=terms(world, weekdays=0b0000001),
        effective_from=NOW + timedelta(days=7),
        actor=world.actor,
        now=NOW,
        reason="Mondays only from next week",
    )
    assert [v.version for v in record.versions] == [1, 2]
    assert record.versions[0].effective_until == NOW + timedelta(days=7)
    assert (
        record.current.version == 1 and record.versions[1].reason == "Mondays only from next week"
    )


# --- versions, retire, copy, the index -------------------------------------------------------


def facts(w: World, start: datetime, **kw: str | None) -> SessionFacts:
    values: dict[str, str | None] = {
        "cpo_party": str(w.cpo.pk),
        "station": str(w.station_a),
        "location": str(w.location_a),
        "country": "NLD",
        "emsp_party": str(w.emsp.pk),
    }
    values.update(kw)
    return SessionFacts(start=start, local_start=start, **values)  # type: ignore[arg-type]


def test_a_version_applies_to_sessions_starting_at_or_after_it(world: World) -> None:
    rule = create(world, cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_a))
    change = NOW + timedelta(days=7)
    index = rating_api.rule_index(tenant_id=world.tenant.pk, engine=W)
    assert index.match(facts(world, change)).rule.version_id == rule.versions[0].id  # type: ignore[union-attr]

    with pytest.raises(ValidationFailed) as exc:
        rating_api.billing_rule_version_add(
            tenant_id=world.tenant.pk,
            rule_id=rule.id,
            terms=terms(world),
            effective_from=rule.versions[0].effective_from,
            actor=world.actor,
            now=NOW,
        )
    assert list(problems(exc)) == ["$.effective_from"]

    record = rating_api.billing_rule_version_add(
        tenant_id=world.tenant.pk,
        rule_id=rule.id,
        terms=terms(world, cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_b)),
        effective_from=change,
        actor=world.actor,
        now=NOW,
    )
    v1, v2 = record.versions
    index = rating_api.rule_index(tenant_id=world.tenant.pk, engine=W)
    before = index.match(facts(world, change - timedelta(microseconds=1)))
    assert before.rule is not None and before.rule.version_id == v1.id
    assert index.match(facts(world, change)).reason == NO_RULE  # station A no longer
    at_b = facts(world, change, station=str(world.station_b))
    assert index.match(at_b).rule.version_id == v2.id  # type: ignore[union-attr]


def test_the_cached_index_follows_a_change_made_elsewhere(world: World) -> None:
    create(world)
    first = rating_api.rule_index(tenant_id=world.tenant.pk, engine=W)
    assert rating_api.rule_index(tenant_id=world.tenant.pk, engine=W) is first  # cached
    # Another process adds a version (no cache of ours is told): the stamp moves.
    rule = BillingRule.objects.get()
    BillingRuleVersion.objects.create(
        tenant=world.tenant,
        rule=rule,
        version=2,
        effective_from=NOW,
        active=False,
        tariff=world.wholesale,
        cpo_scope="ANY",
        emsp_scope="ANY",
    )
    again = rating_api.rule_index(tenant_id=world.tenant.pk, engine=W)
    assert again is not first
    assert again.match(facts(world, NOW)).reason == NO_RULE
    assert again.match(facts(world, NOW - timedelta(seconds=1))).rule is not None


def test_retire_hides_the_rule_from_the_active_list_from_then_on(world: World) -> None:
    keep = create(
        world, name="Keep", cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_b)
    )
    gone = create(
        world, name="Gone", cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_a)
    )
    later = create(
        world,
        name="Later",
        cpo_scope=CpoScope.LOCATION,
        cpo_scope_value=str(world.location_a),
        effective_from=NOW + timedelta(days=1),
        valid_from=NOW + timedelta(days=1),
        confirm=True,
    )
    rating_api.billing_rule_retire(
        tenant_id=world.tenant.pk, rule_id=gone.id, effective_from=NOW, actor=world.actor, now=NOW
    )
    listed = rating_api.billing_rule_list(tenant_id=world.tenant.pk, at=NOW)
    assert [r.id for r in listed] == [keep.id, later.id]  # a scheduled rule is listed
    everything = rating_api.billing_rule_list(
        tenant_id=world.tenant.pk, at=NOW, include_retired=True
    )
    assert [(r.id, r.active) for r in everything] == [
        (keep.id, True),
        (gone.id, False),
        (later.id, True),
    ]
    # Before the retirement the rule is listed as active.
    earlier = rating_api.billing_rule_list(tenant_id=world.tenant.pk, at=NOW - timedelta(1))
    assert [r.id for r in earlier] == [keep.id, gone.id, later.id]
    assert [
        r.id
        for r in rating_api.billing_rule_list(
            tenant_id=world.tenant.pk, at=NOW, limit=1, after_id=keep.id
        )
    ] == [later.id]
    index = rating_api.rule_index(tenant_id=world.tenant.pk, engine=W)
    assert index.match(facts(world, NOW)).reason == NO_RULE
    assert index.match(facts(world, NOW - timedelta(seconds=1))).rule.rule_id == gone.id  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        rating_api.billing_rule_retire(
            tenant_id=world.tenant.pk,
            rule_id=gone.id,
            effective_from=NOW + timedelta(1),
            actor=world.actor,
            now=NOW,
        )
    assert (
        AuditEntry.objects.filter(action="billing_rule.retire", object_id=str(gone.id)).count() == 1
    )
    assert (
        rating_api.billing_rule_list(tenant_id=world.tenant.pk, at=NOW, engine=BillingEngine.RETAIL)
        == []
    )


def test_copy_takes_the_version_in_force_and_is_checked_like_a_new_rule(world: World) -> None:
    source = create(
        world, name="A", cpo_scope=CpoScope.STATION, cpo_scope_value=str(world.station_a)
    )
    with pytest.raises(Conflict):
        rating_api.billing_rule_copy(
            tenant_id=world.tenant.pk,
            rule_id=source.id,
            name="Copy",
            effective_from=NOW,
            actor=world.actor,
            now=NOW,
        )
    edited = rating_api.billing_rule_copy(
        tenant_id=world.tenant.pk,
        rule_id=source.id,
        name="B",
        effective_from=NOW,
        actor=world.actor,
        now=NOW,
        terms=replace(source.current.terms, cpo_scope_value=str(world.station_b)),
    )
    assert edited.engine == W and edited.current.terms.cpo_scope_value == str(world.station_b)
    assert edited.current.reason == f"copy of rule {source.id} 'A' version 1"
    same = rating_api.billing_rule_copy(
        tenant_id=world.tenant.pk,
        rule_id=source.id,
        name="Copy",
        effective_from=NOW,
        actor=world.actor,
        now=NOW,
        confirm_overlaps=True,
    )
    assert same.current.terms == source.current.terms
    match = rating_api.rule_index(tenant_id=world.tenant.pk, engine=W).match(facts(world, NOW))
    assert (match.reason, match.candidates) == (AMBIGUOUS_RULES, (source.id, same.id))


# --- tenants ---------------------------------------------------------------------------------


def test_tenants_never_see_each_others_rules(world: World) -> None:
    mine = create(world)
    other = OperatorFactory()
    with pytest.raises(NotFound):
        rating_api.billing_rule_get(tenant_id=other.pk, rule_id=mine.id, at=NOW)
    assert rating_api.billing_rule_list(tenant_id=other.pk, at=NOW, include_retired=True) == []
    with pytest.raises(NotFound):
        rating_api.billing_rule_retire(
            tenant_id=other.pk, rule_id=mine.id, effective_from=NOW, actor=world.actor, now=NOW
        )
    theirs_tariff = TariffFactory(party=PartyFactory(tenant=other), engine="WHOLESALE")
    theirs = rating_api.billing_rule_create(
        tenant_id=other.pk,
        engine=W,
        name="All sessions",
        terms=BillingRuleTerms(tariff_id=theirs_tariff.pk),
        effective_from=NOW,
        actor=world.actor,
        now=NOW,
    )  # no overlap with the first tenant's rule
    assert (
        rating_api.rule_index(tenant_id=other.pk, engine=W).match(facts(world, NOW)).rule.rule_id
        == theirs.id
    )  # type: ignore[union-attr]
    assert BillingRuleVersion.objects.get(rule_id=theirs.id).tenant_id == other.pk


# --- the tester ------------------------------------------------------------------------------


def test_the_tester_builds_the_facts_and_names_the_rule(world: World) -> None:
    code = TariffCodeFactory(tariff=world.wholesale, tenant=world.tenant)
    TariffAssignmentFactory(
        charge_station_id=world.station_a,
        tenant=world.tenant,
        tariff_code=code,
        effective_from=NOW - timedelta(days=60),
    )
    package = RetailPackage.objects.create(tenant=world.tenant, name="Flex")
    group = UserGroup.objects.create(tenant=world.tenant, name="Staff")
    contract = ContractFactory(
        customer__party=world.emsp,
        token_id=world.token,
        retail_package=package,
        user_group=group,
        valid_from=NOW - timedelta(days=90),
    )
    by_code = create(
        world, name="By code", cpo_scope=CpoScope.TARIFF_CODE, cpo_scope_value=str(code.pk)
    )
    # Evenings 18:00-23:00 Amsterdam time: 17:30 UTC in summer is 19:30 local.
    evening = create(
        world,
        name="Flex evenings",
        engine=BillingEngine.RETAIL,
        tariff_id=world.retail.pk,
        emsp_scope=EmspScope.RETAIL_PACKAGE,
        emsp_scope_value=str(package.pk),
        time_from=time(18),
        time_until=time(23),
    )
    create(
        world,
        name="Staff",
        engine=BillingEngine.RETAIL,
        tariff_id=world.retail.pk,
        emsp_scope=EmspScope.USER_GROUP,
        emsp_scope_value=str(group.pk),
        weekdays=0b0011111,
        confirm=True,
    )
    at = datetime(2026, 6, 6, 17, 30, tzinfo=UTC)  # a Saturday
    results = rating_api.billing_rule_test(
        tenant_id=world.tenant.pk, station_id=world.station_a, token_id=world.token, at=at
    )
    wholesale, retail, reimbursement = results
    assert (wholesale.engine, wholesale.rule_id, wholesale.rule_name) == (W, by_code.id, "By code")
    assert wholesale.version_id == by_code.versions[0].id and wholesale.reason is None
    assert (retail.rule_id, retail.reason) == (evening.id, None)
    assert (reimbursement.rule_id, reimbursement.reason) == (None, NO_RULE)
    shown = dict(wholesale.facts)
    assert shown["local start"] == "2026-06-06T19:30:00+02:00"
    assert (shown["contract"], shown["retail package"], shown["user group"]) == (
        str(contract.pk),
        str(package.pk),
        str(group.pk),
    )
    assert shown["tariff code"] == str(code.pk) and shown["country"] == "NLD"
    # On Monday at the same hour both retail rules match: ambiguous, naming them.
    (monday,) = rating_api.billing_rule_test(
        tenant_id=world.tenant.pk,
        station_id=world.station_a,
        token_id=world.token,
        at=at + timedelta(days=2),
        engine=BillingEngine.RETAIL,
    )
    assert monday.reason == AMBIGUOUS_RULES and monday.rule_id is None
    assert len(monday.candidates) == 2 and evening.id in monday.candidates


def test_the_tester_refuses_another_tenants_station_and_token(world: World) -> None:
    other = OperatorFactory()
    station = ChargeStationFactory(location__party=PartyFactory(tenant=other))
    token = TokenFactory(party=EmspFactory(tenant=other))
    with pytest.raises(ValidationFailed) as exc:
        rating_api.billing_rule_test(
            tenant_id=world.tenant.pk, station_id=station.pk, token_id=token.pk, at=NOW
        )
    assert problems(exc) == {
        "$.station_id": f"no charge station {station.pk} in this tenant",
        "$.token_id": f"no token {token.pk} in this tenant",
    }


def test_location_factory_is_used(world: World) -> None:
    # A location of this tenant without stations is a valid LOCATION scope.
    loc = LocationFactory(party=world.cpo)
    rule = create(world, cpo_scope=CpoScope.LOCATION, cpo_scope_value=str(loc.pk))
    assert rule.current.terms.cpo_scope_value == str(loc.pk)
