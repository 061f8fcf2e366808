"""OCPP 2.0.1: the messages of the transaction path here; the other blocks a station reports
through (device model, events, firmware, logs, security, smart charging) in `device`."""

from __future__ import annotations

import logging
import time
from typing import Any

from apps.charging.contracts import (
    AuthMethod,
    ChargingState,
    EventKind,
    StatusEventIn,
    TransactionEventIn,
    state_for_status,
)
from csms_gateway.handlers import (
    Handler,
    StationContext,
    device,
    message_key,
    now_utc,
    ocpp_time,
)
from csms_gateway.metering import normalise, parse_timestamp

log = logging.getLogger(__name__)
VERSION = "2.0.1"
_KINDS = {"Started": EventKind.STARTED, "Updated": EventKind.UPDATED, "Ended": EventKind.ENDED}


async def boot_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    station = p.get("chargingStation") or {}
    ctx.vendor = str(station.get("vendorName", ""))
    await ctx.backend.boot(
        ctx.station_id,
        vendor=ctx.vendor,
        model=str(station.get("model", "")),
        serial_number=str(station.get("serialNumber", "")),
        firmware_version=str(station.get("firmwareVersion", "")),
        ocpp_version=VERSION,
    )
    return {
        "currentTime": ocpp_time(now_utc()),
        "interval": ctx.settings.heartbeat_interval,
        "status": "Accepted",
    }


async def heartbeat(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"currentTime": ocpp_time(now_utc())}


async def status_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    evse = p.get("evseId")
    status = str(p.get("connectorStatus", ""))
    if isinstance(evse, int) and evse > 0:
        received = now_utc()
        await ctx.backend.statuses.submit(
            StatusEventIn(
                tenant_id=ctx.tenant_id,
                station_id=ctx.station_id,
                evse_ocpp_id=evse,
                connector_ocpp_id=p.get("connectorId"),
                status=status,
                charging_state=state_for_status(status),
                station_timestamp=parse_timestamp(p.get("timestamp")) or received,
                received_at=received,
            )
        )
    return {}


async def authorize(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    token = str((p.get("idToken") or {}).get("idToken", ""))
    status = await ctx.authorize(token)
    ctx.authorized(token, status)
    return {"idTokenInfo": {"status": status}}


async def transaction_event(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    received = now_utc()
    info = p.get("transactionInfo") or {}
    evse = p.get("evse") or {}
    id_token = str((p.get("idToken") or {}).get("idToken", "") or "")
    normalised = normalise(p.get("meterValue") or [], version=VERSION)
    ctx.warnings.extend(normalised.warnings)
    kind = _KINDS.get(str(p.get("eventType")), EventKind.UPDATED)
    energy = [s.energy_wh for s in normalised.samples if s.energy_wh is not None]
    meter_wh = None
    if energy:
        meter_wh = energy[0] if kind is EventKind.STARTED else energy[-1]
    # How the transaction was authorised: said by the first event that names a token or a
    # remote start (a transaction may start on the cable, its idToken following later).
    method, reference = "", ""
    remote_start_id = info.get("remoteStartId")
    if isinstance(remote_start_id, int) and not isinstance(remote_start_id, bool):
        ctx.auth_memory.start(id_token, time.monotonic())  # used up
        method, reference = AuthMethod.COMMAND.value, str(remote_start_id)
    elif id_token:
        found, reference = ctx.auth_memory.start(id_token, time.monotonic())
        method = found.value
    state_word = info.get("chargingState")
    try:
        state = ChargingState(state_word) if state_word else None
    except ValueError:
        state = None
    await ctx.backend.transactions.submit(
        TransactionEventIn(
            tenant_id=ctx.tenant_id,
            station_id=ctx.station_id,
            kind=kind,
            idempotency_key=message_key("TransactionEvent", p),
            protocol=VERSION,
            action="TransactionEvent",
            station_timestamp=parse_timestamp(p.get("timestamp")) or received,
            received_at=received,
            ocpp_transaction_id=str(info.get("transactionId", "")),
            evse_ocpp_id=evse.get("id") if isinstance(evse.get("id"), int) else None,
            connector_ocpp_id=evse.get("connectorId")
            if isinstance(evse.get("connectorId"), int)
            else None,
            id_tag=id_token,
            meter_wh=meter_wh,
            reason=str(info.get("stoppedReason", "") or ""),
            charging_state=state,
            seq_no=p.get("seqNo") if isinstance(p.get("seqNo"), int) else None,
            offline=bool(p.get("offline", False)),
            samples=tuple(normalised.samples),
            frame=ctx.frame,
            auth_method=method,
            authorization_reference=reference,
        )
    )
    if id_token:
        # Stored whatever the answer (a fact); the answer is Authorize's at this station.
        return {"idTokenInfo": {"status": await ctx.authorize(id_token)}}
    return {}


async def meter_values(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    return {}  # 2.0.1 MeterValues are outside transactions (those come in TransactionEvent)


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "TransactionEvent": transaction_event,
    "MeterValues": meter_values,
    # Device model, events, firmware, logs, security, smart-charging notifications: stored
    # in the station's event log (csms_gateway.handlers.device).
    **device.V201_HANDLERS,
}
TRANSACTION_ACTIONS = frozenset({"TransactionEvent"})
