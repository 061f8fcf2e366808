"""The "which rule would match" tester: the session facts of a station, a token and a
moment as this tenant knows them, matched against its rules of each engine."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from apps.common.errors import Problem, ValidationFailed
from apps.customers import api as customers_api
from apps.locations import api as locations_api
from apps.rating.contracts import RuleTestResult
from apps.rating.selectors.rules import billing_rule_names, rule_index
from apps.tariffs import api as tariffs_api
from apps.tariffs.contracts import BillingEngine
from apps.tokens import api as tokens_api
from billing.rating.match import SessionFacts


def session_facts(*, tenant_id: int, station_id: int, token_id: int, at: datetime) -> SessionFacts:
    """What the rules of this tenant may scope on for a session at this station with this
    token starting at `at`: the station's location, its country (the location's ISO
    3166-1 alpha-3 code) and CPO party, the station's tariff code in force (its default,
    not a connector's override); the token's eMSP party, its contract version in force and
    that version's retail package and user group. ValidationFailed names what is not the
    tenant's."""
    problems = []
    stations = locations_api.station_scope_facts(tenant_id=tenant_id, station_ids=[station_id])
    if station_id not in stations:
        problems.append(Problem("$.station_id", f"no charge station {station_id} in this tenant"))
    parties = tokens_api.token_party_pks(tenant_id=tenant_id, token_ids=[token_id])
    if token_id not in parties:
        problems.append(Problem("$.token_id", f"no token {token_id} in this tenant"))
    if at.tzinfo is None:
        problems.append(Problem("$.at", "a moment with its time zone"))
    if problems:
        raise ValidationFailed("cannot test the rules", problems=tuple(problems))
    location, country, cpo_party, tz = stations[station_id]
    code = tariffs_api.tariff_code_of_station(charge_station_id=station_id, at=at)
    contract = customers_api.contract_scope_of_token(tenant_id=tenant_id, token_id=token_id, at=at)
    contract_id, package, group = contract if contract is not None else (None, None, None)

    def text(value: int | None) -> str | None:
        return None if value is None else str(value)

    return SessionFacts(
        start=at,
        local_start=at.astimezone(ZoneInfo(tz)) if tz else at,
        country=country,
        cpo_party=text(cpo_party),
        location=text(location),
        station=str(station_id),
        tariff_code=text(code),
        emsp_party=str(parties[token_id]),
        contract=text(contract_id),
        retail_package=text(package),
        user_group=text(group),
    )


def billing_rule_test(
    *,
    tenant_id: int,
    station_id: int,
    token_id: int,
    at: datetime,
    engine: BillingEngine | None = None,
) -> tuple[RuleTestResult, ...]:
    """Which rule of each engine (or of `engine`) would rate such a session, or why none
    would: NO_RULE, or AMBIGUOUS_RULES naming the rules."""
    facts = session_facts(tenant_id=tenant_id, station_id=station_id, token_id=token_id, at=at)
    shown = (
        ("start", facts.start.isoformat()),
        ("local start", facts.local_start.isoformat()),
        ("country", facts.country or "-"),
        ("CPO party", facts.cpo_party or "-"),
        ("location", facts.location or "-"),
        ("station", facts.station or "-"),
        ("tariff code", facts.tariff_code or "-"),
        ("eMSP party", facts.emsp_party or "-"),
        ("contract", facts.contract or "-"),
        ("retail package", facts.retail_package or "-"),
        ("user group", facts.user_group or "-"),
    )
    engines = [engine] if engine is not None else list(BillingEngine)
    matches = [(e, rule_index(tenant_id=tenant_id, engine=e).match(facts)) for e in engines]
    ids = {m.rule.rule_id for _, m in matches if m.rule is not None}
    names = billing_rule_names(tenant_id=tenant_id, rule_ids=ids)
    return tuple(
        RuleTestResult(
            engine=e,
            rule_id=m.rule.rule_id if m.rule is not None else None,
            rule_name=names.get(m.rule.rule_id, "") if m.rule is not None else "",
            version_id=m.rule.version_id if m.rule is not None else None,
            reason=m.reason,
            candidates=m.candidates,
            facts=shown,
        )
        for e, m in matches
    )
