"""Last month's charging at the demo stations, so that `make run` has a closed period to bill
(docs/billing.md "Billing runs and drafts"): a dozen sessions per CPO tenant, fed through the
same intake the OCPP gateway uses, as a station replays its offline queue. The worker then
turns them into CDRs and rates them, like any session.

Two of each CPO's cards are its own (own-charge: retail for its own customers, wholesale
never invoiced); two belong to the marketplace eMSP tenants' drivers (wholesale to PlugPay
and DriveOn, retail by those eMSPs to their drivers). Idempotent: the messages' keys are
fixed, so loading again stores nothing new.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from apps.charging import api as charging
from apps.charging.contracts import EventKind, TransactionEventIn

# (card, day of the month, start hour UTC, minutes, kWh)
_PLAN = (
    ("PPY00000001", 2, 7, 95, "18.400"),
    ("PPY00000002", 3, 17, 40, "6.250"),
    ("PPY00000004", 5, 9, 180, "31.700"),
    ("DRV00000004", 6, 12, 55, "9.900"),
    ("PPY00000001", 9, 8, 120, "22.050"),
    ("PPY00000002", 12, 18, 65, "11.300"),
    ("PPY00000004", 14, 10, 30, "4.800"),
    ("DRV00000004", 17, 6, 240, "40.125"),
    ("PPY00000001", 20, 16, 75, "13.600"),
    ("PPY00000002", 23, 21, 50, "8.000"),
    ("PPY00000004", 26, 11, 110, "19.450"),
    ("DRV00000004", 28, 13, 85, "15.275"),
)


def previous_month_start(now: datetime) -> datetime:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=1)


def _event(
    kind: EventKind,
    *,
    tenant_id: int,
    station_id: int,
    key: str,
    at: datetime,
    now: datetime,
    **kw: Any,
) -> TransactionEventIn:
    return TransactionEventIn(
        tenant_id=tenant_id,
        station_id=station_id,
        kind=kind,
        idempotency_key=f"{key}-{kind.value}",
        protocol="1.6",
        action="StartTransaction" if kind is EventKind.STARTED else "StopTransaction",
        station_timestamp=at,
        received_at=now,
        offline=True,
        **kw,
    )


def sessions_load(*, tenant_id: int, station_ids: list[int], now: datetime) -> int:
    """Feed last month's sessions at these stations; returns how many were new."""
    month = previous_month_start(now)
    new = 0
    for n, (uid, day, hour, minutes, kwh) in enumerate(_PLAN):
        common: dict[str, Any] = {
            "tenant_id": tenant_id,
            "station_id": station_ids[n % len(station_ids)],
            "key": f"demo-history-{month:%Y%m}-{tenant_id}-{n}",
            "now": now,
        }
        start = month.replace(day=day, hour=hour)
        (started,) = charging.transaction_events_record(
            events=[
                _event(
                    EventKind.STARTED,
                    at=start,
                    evse_ocpp_id=1 + n % 2,  # 1.6: the connectorId
                    id_tag=uid,
                    meter_wh=Decimal(0),
                    **common,
                )
            ]
        )
        new += 0 if started.duplicate else 1
        charging.transaction_events_record(
            events=[
                _event(
                    EventKind.ENDED,
                    at=start + timedelta(minutes=minutes),
                    ocpp_transaction_id=started.ocpp_transaction_id,
                    meter_wh=Decimal(kwh) * 1000,
                    reason="EVDisconnected",
                    **common,
                )
            ]
        )
    return new
