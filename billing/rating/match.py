"""Exactly one billing rule per session and engine (BILLING.md section 2).

A rule covers a session when its CPO scope and its eMSP scope both name the session (or are
ANY), the session start lies in the rule version's window and the rule's validity (dates,
weekdays, local times), and no exception of the rule names the session. For one engine a
session must be covered by exactly one rule: none is `NO_RULE`, more than one is
`AMBIGUOUS_RULES` naming them. Specificity never breaks a tie: an ambiguity is a defect of
the rules, which the operator fixes (the editor shows overlaps before saving).

`RuleIndex` holds one engine's rule versions keyed by their CPO scope and eMSP scope, so a
match looks only at the rules that name one of the session's (at most six) CPO keys and one
of its (at most five) eMSP keys, not at every rule of a CPO key (a country's hundreds of
retail-package rules, say).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Final

# Scope names: the values of apps.rating.contracts.CpoScope and EmspScope (kept as strings
# here: this module imports no app).
ANY: Final = "ANY"
CPO_SCOPES: Final = ("ANY", "COUNTRY", "CPO_PARTY", "LOCATION", "STATION", "TARIFF_CODE")
EMSP_SCOPES: Final = ("ANY", "EMSP_PARTY", "CONTRACT", "RETAIL_PACKAGE", "USER_GROUP")
ALL_WEEKDAYS: Final = 127  # Monday = 1, Tuesday = 2, ..., Sunday = 64

NO_RULE: Final = "NO_RULE"
AMBIGUOUS_RULES: Final = "AMBIGUOUS_RULES"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One version of one billing rule, as the matcher needs it.

    The version applies to sessions starting in [effective_from, effective_until) (until the
    rule's next version); `valid_from` / `valid_until` are the rule's own validity; the
    weekday mask and the [time_from, time_until) window are in the location's local time (a
    window whose end is not after its start runs over midnight). `exceptions` are
    (side, scope, value) triples with side "cpo" or "emsp"."""

    rule_id: int
    version_id: int
    cpo_scope: str = ANY
    cpo_value: str = ""
    emsp_scope: str = ANY
    emsp_value: str = ""
    effective_from: datetime | None = None
    effective_until: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    weekdays: int = ALL_WEEKDAYS
    time_from: time | None = None
    time_until: time | None = None
    exceptions: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a rule may scope on, for one session. Ids are given as strings (a scope value
    is a country code or an id); None where the session has none. `local_start` is the start
    in the location's time zone (aware or naive: only its weekday and time are read)."""

    start: datetime
    local_start: datetime
    country: str = ""
    cpo_party: str | None = None
    location: str | None = None
    station: str | None = None
    tariff_code: str | None = None
    emsp_party: str | None = None
    contract: str | None = None
    retail_package: str | None = None
    user_group: str | None = None

    def cpo_keys(self) -> list[tuple[str, str]]:
        keys = [(ANY, "")]
        for scope, value in (
            ("COUNTRY", self.country or None),
            ("CPO_PARTY", self.cpo_party),
            ("LOCATION", self.location),
            ("STATION", self.station),
            ("TARIFF_CODE", self.tariff_code),
        ):
            if value is not None:
                keys.append((scope, value))
        return keys

    def emsp_keys(self) -> set[tuple[str, str]]:
        keys = {(ANY, "")}
        for scope, value in (
            ("EMSP_PARTY", self.emsp_party),
            ("CONTRACT", self.contract),
            ("RETAIL_PACKAGE", self.retail_package),
            ("USER_GROUP", self.user_group),
        ):
            if value is not None:
                keys.add((scope, value))
        return keys


@dataclass(frozen=True, slots=True)
class Match:
    """The rule that applies (`rule`), or why none does (`reason`: NO_RULE, or
    AMBIGUOUS_RULES with the candidates' rule ids in `candidates`, ascending)."""

    rule: RuleSpec | None
    reason: str | None = None
    candidates: tuple[int, ...] = field(default=())


def _in_time_window(rule: RuleSpec, local: datetime) -> bool:
    if not rule.weekdays & (1 << local.weekday()):
        return False
    start, end = rule.time_from, rule.time_until
    if start is None and end is None:
        return True
    t = local.time().replace(tzinfo=None)
    lo = start or time.min
    if end is None or end > lo:
        return lo <= t and (end is None or t < end)
    return t >= lo or t < end  # over midnight (or a full day when end == start)


def covers(rule: RuleSpec, facts: SessionFacts, emsp_keys: set[tuple[str, str]]) -> bool:
    """Does `rule` cover the session, its CPO scope aside (the index has chosen it)?"""
    if (rule.emsp_scope, rule.emsp_value) not in emsp_keys:
        return False
    start = facts.start
    if rule.effective_from is not None and start < rule.effective_from:
        return False
    if rule.effective_until is not None and start >= rule.effective_until:
        return False
    if rule.valid_from is not None and start < rule.valid_from:
        return False
    if rule.valid_until is not None and start >= rule.valid_until:
        return False
    if (rule.weekdays != ALL_WEEKDAYS or rule.time_from or rule.time_until) and not (
        _in_time_window(rule, facts.local_start)
    ):
        return False
    if rule.exceptions:
        cpo = set(facts.cpo_keys())
        for side, scope, value in rule.exceptions:
            if (scope, value) in (cpo if side == "cpo" else emsp_keys):
                return False
    return True


class RuleIndex:
    """One engine's rule versions, keyed by CPO scope and then eMSP scope. Built once per
    batch (or cached until the rules change) and matched against many sessions."""

    __slots__ = ("_by_cpo", "size")

    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        # (cpo scope, value) -> (emsp scope, value) -> the versions naming both
        self._by_cpo: dict[tuple[str, str], dict[tuple[str, str], list[RuleSpec]]] = {}
        self.size = 0
        for rule in rules:
            by_emsp = self._by_cpo.setdefault((rule.cpo_scope, rule.cpo_value), {})
            by_emsp.setdefault((rule.emsp_scope, rule.emsp_value), []).append(rule)
            self.size += 1

    def candidates(self, facts: SessionFacts) -> list[RuleSpec]:
        """Every rule version that covers the session (ordered by rule id)."""
        emsp_keys = facts.emsp_keys()
        found = []
        for key in facts.cpo_keys():
            by_emsp = self._by_cpo.get(key)
            if by_emsp is None:
                continue
            for emsp_key in emsp_keys:
                for rule in by_emsp.get(emsp_key, ()):
                    if covers(rule, facts, emsp_keys):
                        found.append(rule)
        found.sort(key=lambda r: r.rule_id)
        return found

    def match(self, facts: SessionFacts) -> Match:
        found = self.candidates(facts)
        if len(found) == 1:
            return Match(rule=found[0])
        if not found:
            return Match(rule=None, reason=NO_RULE)
        return Match(
            rule=None,
            reason=AMBIGUOUS_RULES,
            candidates=tuple(sorted({r.rule_id for r in found})),
        )
