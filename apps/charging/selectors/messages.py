"""A station's OCPP message log: its newest transaction messages and status notifications."""

from __future__ import annotations

from apps.charging.contracts import OcppMessage
from apps.charging.models import OcppEvent, StatusEvent


def station_messages(
    *, tenant_id: int, charge_station_id: int, limit: int = 50
) -> list[OcppMessage]:
    """The newest transaction messages (verbatim frames) and status notifications."""
    events = list(
        OcppEvent.objects.filter(tenant_id=tenant_id, charge_station_id=charge_station_id)
        .order_by("-received_at", "-id")
        .values("received_at", "action", "ocpp_transaction_id", "kind", "frame")[:limit]
    )
    statuses = list(
        StatusEvent.objects.filter(tenant_id=tenant_id, charge_station_id=charge_station_id)
        .order_by("-received_at", "-id")
        .values("received_at", "evse_ocpp_id", "connector_ocpp_id", "status")[:limit]
    )
    out = [
        OcppMessage(
            at=e["received_at"],
            direction="station → CSMS",
            action=e["action"],
            summary=f"{e['kind'].lower()} transaction {e['ocpp_transaction_id']}",
            frame=e["frame"],
        )
        for e in events
    ] + [
        OcppMessage(
            at=s["received_at"],
            direction="station → CSMS",
            action="StatusNotification",
            summary=f"EVSE {s['evse_ocpp_id']}"
            + (f" connector {s['connector_ocpp_id']}" if s["connector_ocpp_id"] else "")
            + f": {s['status']}",
            frame="",
        )
        for s in statuses
    ]
    out.sort(key=lambda m: m.at, reverse=True)
    return out[:limit]
