"""Billing periods (ADR 0036): a MONTHLY, WEEKLY (ISO week, Monday to Monday) or DAILY period
is a run of whole days in the tenant's timezone, half open `[start, end)`, and is stored as
the UTC instants of those local midnights. Across a DST change a day is 23 or 25 hours long;
the bounds stay on local midnight.

A rated line belongs to the period in which its CDR's `end_date_time` falls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apps.invoicing.contracts import Frequency


@dataclass(frozen=True, slots=True)
class Period:
    frequency: Frequency
    first_day: date  # the local date of `start`
    start: datetime  # UTC
    end: datetime  # UTC, exclusive

    @property
    def last_day(self) -> date:
        """The last local day inside the period (for people: "1 to 31 March")."""
        return _next_start(self.frequency, self.first_day) - timedelta(days=1)


def timezone_problem(name: str) -> str | None:
    """None when `name` is an IANA timezone this machine knows; else why not."""
    if not name or name not in available_timezones():
        return f"{name!r} is not a known IANA timezone (e.g. Europe/Amsterdam)"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a known IANA timezone (e.g. Europe/Amsterdam)"
    return None


def period_first_day(frequency: Frequency | str, day: date) -> date:
    """The first local day of the period of `frequency` that contains `day`."""
    f = Frequency(frequency)
    if f is Frequency.MONTHLY:
        return day.replace(day=1)
    if f is Frequency.WEEKLY:
        return day - timedelta(days=day.weekday())  # ISO: Monday
    return day


def _next_start(frequency: Frequency, first_day: date) -> date:
    if frequency is Frequency.MONTHLY:
        if first_day.month == 12:
            return date(first_day.year + 1, 1, 1)
        return date(first_day.year, first_day.month + 1, 1)
    if frequency is Frequency.WEEKLY:
        return first_day + timedelta(days=7)
    return first_day + timedelta(days=1)


def _midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def period_of_day(frequency: Frequency | str, day: date, tz_name: str) -> Period:
    """The period of `frequency` containing the local date `day` in timezone `tz_name`."""
    f = Frequency(frequency)
    tz = ZoneInfo(tz_name)
    first = period_first_day(f, day)
    return Period(
        frequency=f,
        first_day=first,
        start=_midnight_utc(first, tz),
        end=_midnight_utc(_next_start(f, first), tz),
    )


def period_containing(frequency: Frequency | str, instant: datetime, tz_name: str) -> Period:
    """The period of `frequency` containing the (aware) instant, in the tenant's time."""
    local_day = instant.astimezone(ZoneInfo(tz_name)).date()
    return period_of_day(frequency, local_day, tz_name)


def previous_period(frequency: Frequency | str, now: datetime, tz_name: str) -> Period:
    """The last period that has ended at `now` (the one before the period containing it)."""
    current = period_containing(frequency, now, tz_name)
    return period_of_day(frequency, current.first_day - timedelta(days=1), tz_name)
