"""The dashboard's figures: sessions today, this month and active; energy and revenue per
day of the month, in the operator's time zone; open review flags."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from apps.charging.contracts import (
    CdrKind,
    DashboardFigures,
    DayFigures,
    FlagStatus,
    SessionStatus,
)
from apps.charging.models import Cdr, ChargingSession, ReviewFlag

ZERO = Decimal(0)


def _local_midnight(now: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def dashboard_figures(*, tenant_id: int, now: datetime, time_zone: str) -> DashboardFigures:
    tz = zoneinfo.ZoneInfo(time_zone)
    today = _local_midnight(now, tz)
    month = today.replace(day=1)
    sessions = ChargingSession.objects.filter(tenant_id=tenant_id, started_at__gte=month)
    s = sessions.aggregate(
        month=Count("id"),
        today=Count("id", filter=Q(started_at__gte=today)),
    )
    active = ChargingSession.objects.filter(
        tenant_id=tenant_id, status=SessionStatus.ACTIVE.value
    ).count()
    rows = list(
        Cdr.objects.filter(tenant_id=tenant_id, end_date_time__gte=month, end_date_time__lt=now)
        .annotate(day=TruncDate("end_date_time", tzinfo=tz))
        .values("day", "currency")
        .annotate(
            n=Count("id", filter=Q(kind=CdrKind.ORIGINAL.value)),
            kwh=Sum("total_energy_kwh"),
            revenue=Sum("total_cost_excl_vat"),
        )
        .order_by("day")
    )
    by_currency: Counter[str] = Counter()
    for r in rows:
        by_currency[r["currency"]] += r["n"]
    currency = by_currency.most_common(1)[0][0] if by_currency else "EUR"
    days: dict[str, list[Any]] = {}
    d = month.date()
    while d <= today.date():
        days[d.isoformat()] = [0, ZERO, ZERO]
        d += timedelta(days=1)
    revenue_today: dict[str, Decimal] = {}
    revenue_month: dict[str, Decimal] = {}
    energy_today = energy_month = ZERO
    for r in rows:
        key = r["day"].isoformat() if hasattr(r["day"], "isoformat") else str(r["day"])
        kwh = r["kwh"] or ZERO
        revenue = r["revenue"] or ZERO
        energy_month += kwh
        revenue_month[r["currency"]] = revenue_month.get(r["currency"], ZERO) + revenue
        if key == today.date().isoformat():
            energy_today += kwh
            revenue_today[r["currency"]] = revenue_today.get(r["currency"], ZERO) + revenue
        slot = days.setdefault(key, [0, ZERO, ZERO])
        slot[0] += r["n"]
        slot[1] += kwh
        if r["currency"] == currency:
            slot[2] += revenue
    return DashboardFigures(
        sessions_today=s["today"],
        sessions_month=s["month"],
        sessions_active=active,
        energy_today_kwh=energy_today,
        energy_month_kwh=energy_month,
        revenue_today=revenue_today,
        revenue_month=revenue_month,
        currency=currency,
        days=tuple(
            DayFigures(day=k, cdrs=v[0], energy_kwh=v[1], revenue_excl_vat=v[2])
            for k, v in sorted(days.items())
        ),
        flags_open=ReviewFlag.objects.filter(
            tenant_id=tenant_id, status=FlagStatus.OPEN.value
        ).count(),
    )
