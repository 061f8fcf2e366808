"""Billing periods in the tenant's timezone (ADR 0036): local midnights as UTC instants, DST
days of 23 and 25 hours, ISO weeks, month and year ends, the previous closed period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from apps.invoicing.periods import (
    period_containing,
    period_of_day,
    previous_period,
    timezone_problem,
)

AMS = "Europe/Amsterdam"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_month_spans_local_midnights_across_the_spring_dst_change() -> None:
    p = period_of_day("MONTHLY", date(2026, 3, 17), AMS)
    assert (p.first_day, p.last_day) == (date(2026, 3, 1), date(2026, 3, 31))
    assert p.start == utc(2026, 2, 28, 23)  # CET, UTC+1
    assert p.end == utc(2026, 3, 31, 22)  # CEST, UTC+2 since 29 March
    assert p.end - p.start == timedelta(days=31, hours=-1)


def test_dst_days_are_23_and_25_hours() -> None:
    spring = period_of_day("DAILY", date(2026, 3, 29), AMS)
    autumn = period_of_day("DAILY", date(2026, 10, 25), AMS)
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)
    assert autumn.start == utc(2026, 10, 24, 22) and autumn.end == utc(2026, 10, 25, 23)


def test_weeks_are_iso_weeks_monday_to_monday() -> None:
    p = period_of_day("WEEKLY", date(2026, 3, 29), AMS)  # a Sunday
    assert (p.first_day, p.last_day) == (date(2026, 3, 23), date(2026, 3, 29))
    assert p.start == utc(2026, 3, 22, 23) and p.end == utc(2026, 3, 29, 22)
    # The ISO week of 1 January 2027 (a Friday) starts in 2026.
    newyear = period_of_day("WEEKLY", date(2027, 1, 1), AMS)
    assert newyear.first_day == date(2026, 12, 28)


def test_december_ends_at_the_new_year() -> None:
    p = period_of_day("MONTHLY", date(2026, 12, 31), AMS)
    assert p.end == utc(2026, 12, 31, 23) and p.last_day == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("instant", "first_day"),
    [
        (utc(2026, 3, 31, 21, 59, 59), date(2026, 3, 1)),  # 23:59:59 local on 31 March
        (utc(2026, 3, 31, 22, 0, 0), date(2026, 4, 1)),  # local midnight: April
        (utc(2026, 2, 28, 22, 59, 59), date(2026, 2, 1)),
        (utc(2026, 2, 28, 23, 0, 0), date(2026, 3, 1)),
    ],
)
def test_an_instant_belongs_to_the_period_of_its_local_day(
    instant: datetime, first_day: date
) -> None:
    assert period_containing("MONTHLY", instant, AMS).first_day == first_day


def test_other_timezones() -> None:
    p = period_of_day("MONTHLY", date(2026, 3, 1), "America/New_York")
    assert p.start == utc(2026, 3, 1, 5) and p.end == utc(2026, 4, 1, 4)  # DST on 8 March
    assert period_of_day("DAILY", date(2026, 3, 1), "UTC").start == utc(2026, 3, 1)


def test_previous_period_is_the_last_one_that_ended() -> None:
    now = utc(2026, 4, 1, 0, 30)  # 02:30 local on 1 April
    assert previous_period("MONTHLY", now, AMS).first_day == date(2026, 3, 1)
    assert previous_period("WEEKLY", now, AMS).first_day == date(2026, 3, 23)
    assert previous_period("DAILY", now, AMS).first_day == date(2026, 3, 31)
    assert previous_period("MONTHLY", utc(2026, 1, 15), AMS).first_day == date(2025, 12, 1)


def test_timezone_names_are_checked() -> None:
    assert timezone_problem("Europe/Amsterdam") is None
    assert timezone_problem("Mars/Olympus")
    assert timezone_problem("")
