"""OCPP 1.5 over JSON (subprotocol `ocpp1.5`), mapped onto the same domain calls as 1.6.

What differs from 1.6 (schemas: `csms_gateway/schemas_v15/`, from the 1.5 WSDL):

- BootNotification is answered with `heartbeatInterval` (1.6: `interval`).
- StatusNotification has five statuses: Available, Occupied, Faulted, Unavailable, Reserved.
  1.5 cannot say whether an occupied connector delivers energy (1.6 Charging /
  SuspendedEV / SuspendedEVSE): Occupied counts as charging, so a 1.5 session has no
  parking time (idle fees cannot be billed from 1.5 data).
- MeterValues carries `values` (1.6: `meterValue`); each meter value lists its readings in
  `value` (the WSDL) or `values` (many stations), each reading an object
  `{"value": "...", "unit": ..., ...}` or the bare text.
- StopTransaction has no `reason`; `transactionData` is a list of `{"values": [MeterValue]}`.
- No security extensions, no smart charging, no TriggerMessage.
"""

from __future__ import annotations

import logging
from typing import Any

from apps.charging.contracts import (
    ChargingState,
    EventKind,
    StatusEventIn,
    TransactionEventIn,
)
from csms_gateway.handlers import (
    Handler,
    StationContext,
    device,
    message_key,
    now_utc,
    v16,
)
from csms_gateway.metering import normalise, parse_timestamp

log = logging.getLogger(__name__)
VERSION = "1.5"

# 1.5 connector statuses as charging states: Occupied is the whole time an EV is plugged in.
_STATES = {
    "Available": ChargingState.IDLE,
    "Occupied": ChargingState.CHARGING,
}


async def boot_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    answer = await v16.boot_notification(ctx, p)
    return {
        "status": answer["status"],
        "currentTime": answer["currentTime"],
        "heartbeatInterval": answer["interval"],
    }


async def status_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    connector = p.get("connectorId")
    status = str(p.get("status", ""))
    if isinstance(connector, int) and connector > 0:
        received = now_utc()
        await ctx.backend.statuses.submit(
            StatusEventIn(
                tenant_id=ctx.tenant_id,
                station_id=ctx.station_id,
                evse_ocpp_id=connector,
                connector_ocpp_id=None,
                status=status,
                charging_state=_STATES.get(status),
                station_timestamp=parse_timestamp(p.get("timestamp")) or received,
                received_at=received,
            )
        )
    return {}


def meter_values_16(meter_values: Any) -> list[dict[str, Any]]:
    """1.5 meter values (`value` or `values` readings, objects or bare text, a list or one
    item) in the 1.6 shape the normaliser reads: `{"timestamp", "sampledValue": [{...}]}`."""
    if isinstance(meter_values, dict):
        meter_values = [meter_values]
    out: list[dict[str, Any]] = []
    for mv in meter_values if isinstance(meter_values, list) else []:
        if not isinstance(mv, dict):
            continue
        readings = mv.get("value")
        if readings is None:
            readings = mv.get("values")
        if not isinstance(readings, list):
            readings = [] if readings is None else [readings]
        sampled = [r if isinstance(r, dict) else {"value": r} for r in readings]
        out.append({"timestamp": mv.get("timestamp"), "sampledValue": sampled})
    return out


def _transaction_data(items: Any) -> list[dict[str, Any]]:
    """`transactionData`: `[{"values": [MeterValue]}]` (1.5); a bare MeterValue list (the 1.6
    shape, sent by some 1.5 firmware) is read as well."""
    meter_values: list[Any] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and "timestamp" in item:
            meter_values.append(item)
        elif isinstance(item, dict):
            values = item.get("values")
            meter_values.extend(values if isinstance(values, list) else [values] if values else [])
    return meter_values_16(meter_values)


async def meter_values(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    txid = p.get("transactionId")
    if txid is None:
        return {}  # clock-aligned readings outside a transaction: not billing data
    received = now_utc()
    normalised = normalise(meter_values_16(p.get("values") or []), version=VERSION)
    ctx.warnings.extend(normalised.warnings)
    first = normalised.samples[0].timestamp if normalised.samples else received
    await ctx.backend.transactions.submit(
        TransactionEventIn(
            tenant_id=ctx.tenant_id,
            station_id=ctx.station_id,
            kind=EventKind.UPDATED,
            idempotency_key=message_key("MeterValues", p),
            protocol=VERSION,
            action="MeterValues",
            station_timestamp=first,
            received_at=received,
            ocpp_transaction_id=str(txid),
            evse_ocpp_id=p.get("connectorId") if isinstance(p.get("connectorId"), int) else None,
            samples=tuple(normalised.samples),
            frame=ctx.frame,
        )
    )
    return {}


async def stop_transaction(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    received = now_utc()
    normalised = normalise(_transaction_data(p.get("transactionData")), version=VERSION)
    ctx.warnings.extend(normalised.warnings)
    id_tag = str(p.get("idTag", "") or "")
    await ctx.backend.transactions.submit(
        TransactionEventIn(
            tenant_id=ctx.tenant_id,
            station_id=ctx.station_id,
            kind=EventKind.ENDED,
            idempotency_key=message_key("StopTransaction", p),
            protocol=VERSION,
            action="StopTransaction",
            station_timestamp=parse_timestamp(p.get("timestamp")) or received,
            received_at=received,
            ocpp_transaction_id=str(p.get("transactionId")),
            id_tag=id_tag,
            meter_wh=v16._number(p.get("meterStop")),
            samples=tuple(normalised.samples),
            frame=ctx.frame,
        )
    )
    if id_tag:
        return {"idTagInfo": {"status": await ctx.authorize(id_tag)}}
    return {}


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": v16.heartbeat,
    "StatusNotification": status_notification,
    "Authorize": v16.authorize,
    "StartTransaction": v16.start_transaction,  # the same message in 1.5 and 1.6
    "MeterValues": meter_values,
    "StopTransaction": stop_transaction,
    **device.V15_HANDLERS,
}
TRANSACTION_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
