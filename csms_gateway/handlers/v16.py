"""OCPP 1.6: the Core messages of the transaction path here; firmware, diagnostics, the
security extensions and DataTransfer in `device`."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

from apps.charging.contracts import (
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
VERSION = "1.6"


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None and not isinstance(value, bool) else None
    except ArithmeticError:
        return None


async def boot_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    ctx.vendor = str(p.get("chargePointVendor", ""))
    await ctx.backend.boot(
        ctx.station_id,
        vendor=ctx.vendor,
        model=str(p.get("chargePointModel", "")),
        serial_number=str(p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber") or ""),
        firmware_version=str(p.get("firmwareVersion", "")),
        ocpp_version=ctx.version,
    )
    return {
        "status": "Accepted",
        "currentTime": ocpp_time(now_utc()),
        "interval": ctx.settings.heartbeat_interval,
    }


async def heartbeat(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"currentTime": ocpp_time(now_utc())}


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
                charging_state=state_for_status(status),
                station_timestamp=parse_timestamp(p.get("timestamp")) or received,
                received_at=received,
            )
        )
    return {}


async def authorize(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    uid = str(p.get("idTag", ""))
    status = await ctx.authorize(uid)
    ctx.authorized(uid, status)
    return {"idTagInfo": {"status": status}}


async def start_transaction(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    received = now_utc()
    id_tag = str(p.get("idTag", ""))
    method, reference = ctx.auth_memory.start(id_tag, time.monotonic())
    result = await ctx.backend.transactions.submit(
        TransactionEventIn(
            tenant_id=ctx.tenant_id,
            station_id=ctx.station_id,
            kind=EventKind.STARTED,
            idempotency_key=message_key("StartTransaction", p),
            protocol=ctx.version,
            action="StartTransaction",
            station_timestamp=parse_timestamp(p.get("timestamp")) or received,
            received_at=received,
            evse_ocpp_id=p.get("connectorId") if isinstance(p.get("connectorId"), int) else None,
            id_tag=id_tag,
            meter_wh=_number(p.get("meterStart")),
            frame=ctx.frame,
            auth_method=method.value,
            authorization_reference=reference,
        )
    )
    # The transaction is stored whatever the answer (a fact); the answer is Authorize's.
    status = await ctx.authorize(id_tag)
    return {"transactionId": int(result.ocpp_transaction_id), "idTagInfo": {"status": status}}


async def meter_values(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    txid = p.get("transactionId")
    if txid is None:
        return {}  # clock-aligned readings outside a transaction: not billing data
    received = now_utc()
    normalised = normalise(p.get("meterValue") or [], version=VERSION)
    ctx.warnings.extend(normalised.warnings)
    first = normalised.samples[0].timestamp if normalised.samples else received
    await ctx.backend.transactions.submit(
        TransactionEventIn(
            tenant_id=ctx.tenant_id,
            station_id=ctx.station_id,
            kind=EventKind.UPDATED,
            idempotency_key=message_key("MeterValues", p),
            protocol=ctx.version,
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
    normalised = normalise(p.get("transactionData") or [], version=VERSION)
    ctx.warnings.extend(normalised.warnings)
    id_tag = str(p.get("idTag", "") or "")
    await ctx.backend.transactions.submit(
        TransactionEventIn(
            tenant_id=ctx.tenant_id,
            station_id=ctx.station_id,
            kind=EventKind.ENDED,
            idempotency_key=message_key("StopTransaction", p),
            protocol=ctx.version,
            action="StopTransaction",
            station_timestamp=parse_timestamp(p.get("timestamp")) or received,
            received_at=received,
            # -1 / 0 / an id we never issued: stored as sent, matched or flagged later.
            ocpp_transaction_id=str(p.get("transactionId")),
            id_tag=id_tag,
            meter_wh=_number(p.get("meterStop")),
            reason=str(p.get("reason", "") or ""),
            samples=tuple(normalised.samples),
            frame=ctx.frame,
        )
    )
    if id_tag:
        return {"idTagInfo": {"status": await ctx.authorize(id_tag)}}
    return {}


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "StartTransaction": start_transaction,
    "MeterValues": meter_values,
    "StopTransaction": stop_transaction,
    # Firmware, diagnostics, security extensions, DataTransfer: stored in the station's
    # event log (csms_gateway.handlers.device).
    **device.V16_HANDLERS,
}
TRANSACTION_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
