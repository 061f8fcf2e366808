"""Could two billing rule versions cover the same session? (BILLING.md section 2: "the
editor shows overlaps before saving".)

The check is conservative: it answers True whenever it cannot prove that no session is
covered by both, so an overlap it reports may be impossible in practice, but two versions it
clears never both match a session (a property test binds it to `billing.rating.match`).
Two versions overlap when all of these hold:

- their periods intersect: [max(effective_from, valid_from), min(effective_until,
  valid_until)) of each;
- their weekday masks share a day and their local time windows share a moment (the matcher
  reads the weekday and the time of the session start independently);
- their CPO scopes are compatible: one is ANY, or both name the same thing, or they are of
  different kinds and `related` (the caller's knowledge of the tenant's data: is this
  station at that location, is that location in this country...) does not rule it out;
- their eMSP scopes are compatible in the same way;
- neither has an exception naming the other's (non-ANY) scope exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from billing.rating.match import ANY, RuleSpec

_DAY_END = 24 * 3600 * 1_000_000  # microseconds

# Given two (scope, value) keys of different kinds on one side ("cpo" or "emsp"), may one
# session carry both? The caller answers from the tenant's data; unknown means yes.
Related = Callable[[str, tuple[str, str], tuple[str, str]], bool]


def _always(side: str, a: tuple[str, str], b: tuple[str, str]) -> bool:
    return True


def _micros(t: time) -> int:
    return (t.hour * 3600 + t.minute * 60 + t.second) * 1_000_000 + t.microsecond


def time_intervals(start: time | None, end: time | None) -> list[tuple[int, int]]:
    """The window [start, end) of local times as intervals of microseconds of the day, the
    way `billing.rating.match` reads it (an end not after the start runs over midnight)."""
    if start is None and end is None:
        return [(0, _DAY_END)]
    lo = _micros(start) if start is not None else 0
    if end is None:
        return [(lo, _DAY_END)]
    hi = _micros(end)
    if hi > lo:
        return [(lo, hi)]
    return [(lo, _DAY_END), (0, hi)] if hi > 0 else [(lo, _DAY_END)]


def _period(rule: RuleSpec) -> tuple[datetime | None, datetime | None]:
    starts = [d for d in (rule.effective_from, rule.valid_from) if d is not None]
    ends = [d for d in (rule.effective_until, rule.valid_until) if d is not None]
    return (max(starts) if starts else None, min(ends) if ends else None)


def periods_intersect(a: RuleSpec, b: RuleSpec) -> bool:
    a_from, a_until = _period(a)
    b_from, b_until = _period(b)
    if a_from is not None and a_until is not None and a_from >= a_until:
        return False
    if b_from is not None and b_until is not None and b_from >= b_until:
        return False
    if a_from is not None and b_until is not None and a_from >= b_until:
        return False
    return not (b_from is not None and a_until is not None and b_from >= a_until)


def windows_intersect(a: RuleSpec, b: RuleSpec) -> bool:
    if not a.weekdays & b.weekdays:
        return False
    return any(
        lo1 < hi2 and lo2 < hi1
        for lo1, hi1 in time_intervals(a.time_from, a.time_until)
        for lo2, hi2 in time_intervals(b.time_from, b.time_until)
    )


def _scopes_compatible(side: str, a: tuple[str, str], b: tuple[str, str], related: Related) -> bool:
    if a[0] == ANY or b[0] == ANY:
        return True
    if a[0] == b[0]:
        return a[1] == b[1]
    return related(side, a, b)


def _excludes(rule: RuleSpec, side: str, key: tuple[str, str]) -> bool:
    """Does an exception of `rule` exclude every session of scope `key`?"""
    if key[0] == ANY:
        return False
    return any(s == side and (scope, value) == key for s, scope, value in rule.exceptions)


def may_overlap(a: RuleSpec, b: RuleSpec, related: Related = _always) -> bool:
    """May one session be covered by both `a` and `b`? (True when unsure.)"""
    a_cpo, b_cpo = (a.cpo_scope, a.cpo_value), (b.cpo_scope, b.cpo_value)
    a_emsp, b_emsp = (a.emsp_scope, a.emsp_value), (b.emsp_scope, b.emsp_value)
    return (
        periods_intersect(a, b)
        and windows_intersect(a, b)
        and _scopes_compatible("cpo", a_cpo, b_cpo, related)
        and _scopes_compatible("emsp", a_emsp, b_emsp, related)
        and not _excludes(a, "cpo", b_cpo)
        and not _excludes(b, "cpo", a_cpo)
        and not _excludes(a, "emsp", b_emsp)
        and not _excludes(b, "emsp", a_emsp)
    )
