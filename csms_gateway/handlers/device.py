"""Device-management messages a station sends, for every OCPP version: firmware, diagnostics
and log status, security events, certificate signing requests, DataTransfer, and the OCPP
2.0.1 notifications (device model reports, events, charging limits and profiles, EV charging
needs, monitoring, customer information, reservations, display messages).

None of them is a transaction message: each is stored in the station's event log
(`apps.devices`) before it is answered, and answered with what the version prescribes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from decimal import Decimal
from typing import Any

from apps.devices import api as devices_api
from apps.devices.contracts import DeviceVariableIn, StationEventIn, StationEventKind
from apps.locations.contracts import CommandKind
from csms_gateway.handlers import Handler, StationContext, now_utc
from csms_gateway.metering import parse_timestamp

log = logging.getLogger(__name__)


def plain(value: Any) -> Any:
    """`value` as plain JSON for storage: numbers parsed as Decimal become exact strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _event(
    ctx: StationContext,
    kind: StationEventKind,
    action: str,
    *,
    status: Any = "",
    request_id: Any = None,
    evse: Any = None,
    timestamp: Any = None,
    details: dict[str, Any] | None = None,
) -> StationEventIn:
    return StationEventIn(
        tenant_id=ctx.tenant_id,
        station_id=ctx.station_id,
        kind=kind,
        action=action,
        protocol=ctx.version,
        received_at=now_utc(),
        status=str(status or ""),
        request_id=_int(request_id),
        evse_ocpp_id=_int(evse) if _int(evse) is not None and evse >= 0 else None,
        station_timestamp=parse_timestamp(timestamp),
        details=plain(details or {}),
        frame=ctx.frame,
    )


async def _record(ctx: StationContext, event: StationEventIn) -> None:
    await ctx.backend.call_api(devices_api.station_event_record, event=event)


async def _progress(
    ctx: StationContext, kind: CommandKind, event: StationEventIn, status: str | None = None
) -> None:
    """A status notification that follows a remote command (UpdateFirmware, GetDiagnostics /
    GetLog) is also appended to that command's progress in the command log (2.0.1: matched
    by requestId; 1.x: the station's newest accepted command of the kind). A report part
    (NotifyReport, ReportChargingProfiles) only to the command with its requestId: another
    request (GetReport sent elsewhere) is not ours."""
    await ctx.backend.command_progress(
        station_id=ctx.station_id,
        kind=kind,
        status=event.status if status is None else status,
        at=event.received_at,
        request_id=event.request_id,
        by_request_id_only=status is not None,
    )


async def _record_progress(ctx: StationContext, kind: CommandKind, event: StationEventIn) -> None:
    await _record(ctx, event)
    await _progress(ctx, kind, event)


# --- all versions ------------------------------------------------------------------------


async def firmware_status_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    """1.5 / 1.6 / 2.0.1 (2.0.1 and the signed 1.6 variant carry the UpdateFirmware's
    requestId). The station's firmware status with its history."""
    await _record_progress(
        ctx,
        CommandKind.UPDATE_FIRMWARE,
        _event(
            ctx,
            StationEventKind.FIRMWARE,
            "FirmwareStatusNotification",
            status=p.get("status"),
            request_id=p.get("requestId"),
        ),
    )
    return {}


async def diagnostics_status_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    await _record_progress(
        ctx,
        CommandKind.GET_DIAGNOSTICS,
        _event(
            ctx, StationEventKind.DIAGNOSTICS, "DiagnosticsStatusNotification", status=p["status"]
        ),
    )
    return {}


def _data_transfer_status(ctx: StationContext, vendor: str, message: str) -> str:
    accepted = ctx.settings.data_transfer_accept.get(vendor)
    if accepted is None:
        return "UnknownVendorId"
    if not accepted or "*" in accepted or message in accepted:
        return "Accepted"
    return "UnknownMessageId"


async def data_transfer(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    """Stored whatever it carries (`data` is a string in 1.x, any JSON in 2.0.1; a string
    holding JSON is also kept parsed). Answered Accepted for the vendors (and message ids)
    of `GATEWAY_DATA_TRANSFER_ACCEPT`, else UnknownVendorId / UnknownMessageId: no vendor
    extension is interpreted, the data is kept for whoever needs it."""
    vendor = str(p.get("vendorId", ""))
    message = str(p.get("messageId", "") or "")
    data = p.get("data")
    details: dict[str, Any] = {"vendor_id": vendor, "message_id": message, "data": data}
    if isinstance(data, str) and data[:1] in ("{", "["):
        try:
            details["data_json"] = json.loads(data, parse_float=Decimal)
        except ValueError:
            pass
    status = _data_transfer_status(ctx, vendor, message)
    details["answered"] = status
    await _record(
        ctx,
        _event(ctx, StationEventKind.DATA_TRANSFER, "DataTransfer", status=vendor, details=details),
    )
    return {"status": status}


# --- 1.6 security extensions and 2.0.1 ------------------------------------------------------


async def signed_firmware_status_notification(
    ctx: StationContext, p: dict[str, Any]
) -> dict[str, Any]:
    await _record_progress(
        ctx,
        CommandKind.UPDATE_FIRMWARE,
        _event(
            ctx,
            StationEventKind.FIRMWARE,
            "SignedFirmwareStatusNotification",
            status=p.get("status"),
            request_id=p.get("requestId"),
        ),
    )
    return {}


async def log_status_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    await _record_progress(
        ctx,
        CommandKind.GET_DIAGNOSTICS,
        _event(
            ctx,
            StationEventKind.LOG,
            "LogStatusNotification",
            status=p.get("status"),
            request_id=p.get("requestId"),
        ),
    )
    return {}


async def security_event_notification(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    await _record(
        ctx,
        _event(
            ctx,
            StationEventKind.SECURITY,
            "SecurityEventNotification",
            status=p.get("type"),
            timestamp=p.get("timestamp"),
            details={"tech_info": p.get("techInfo", "")},
        ),
    )
    return {}


_CSMS_CERTIFICATE_16 = "ChargePointCertificate"
_CSMS_CERTIFICATE_201 = "ChargingStationCertificate"


# One CSR at a time is signed and its CertificateSigned awaited per node: the wait holds one of
# the backend's threads (ADR 0014), a renewal wave must not hold them all.
_SIGNING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _signing() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _SIGNING:
        _SIGNING[loop] = asyncio.Semaphore(1)
    return _SIGNING[loop]


async def sign_certificate(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    """The CSR is kept (`apps.devices` CertificateRequest) and answered Accepted: received,
    to be signed, as the specification intends. Once the answer is sent, the configured CA
    (if any) checks and signs it and CertificateSigned goes to the station through the
    command relay (`devices_api.certificate_request_sign`); without a CA it stays PENDING
    for an operator."""
    # 1.6 signs one kind (the charge point's); 2.0.1 names it, ChargingStationCertificate
    # when omitted.
    default = _CSMS_CERTIFICATE_201 if ctx.version.startswith("2.") else _CSMS_CERTIFICATE_16
    certificate_type = str(p.get("certificateType") or default)
    event = _event(
        ctx,
        StationEventKind.CERTIFICATE,
        "SignCertificate",
        status=certificate_type,
        details={"certificate_type": certificate_type, "csr_length": len(str(p.get("csr", "")))},
    )
    request_id = await ctx.backend.call_api(
        devices_api.certificate_request_record,
        tenant_id=ctx.tenant_id,
        station_id=ctx.station_id,
        protocol=ctx.version,
        certificate_type=certificate_type,
        csr=str(p.get("csr", "")),
        event=event,
    )
    identity = ctx.auth.identity

    async def sign() -> None:
        try:
            async with _signing():
                await ctx.backend.call_api(
                    devices_api.certificate_request_sign,
                    request_id=request_id,
                    requested_by="certificate authority",
                )
        except Exception:  # noqa: BLE001 - left PENDING (or SIGNED, unsent) for an operator
            log.exception("%s: certificate request %s not signed", identity, request_id)

    ctx.after_answer.append(sign)
    return {"status": "Accepted"}


# --- 2.0.1 ---------------------------------------------------------------------------------


def _component_key(component: dict[str, Any]) -> dict[str, Any]:
    evse = component.get("evse") or {}
    return {
        "component": str(component.get("name", "")),
        "component_instance": str(component.get("instance", "") or ""),
        "evse_id": _int(evse.get("id")) or 0,
        "connector_id": _int(evse.get("connectorId")) or 0,
    }


def _variable_key(variable: dict[str, Any]) -> dict[str, Any]:
    return {
        "variable": str(variable.get("name", "")),
        "variable_instance": str(variable.get("instance", "") or ""),
    }


async def notify_report(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    """One part of a device-model report (GetBaseReport / GetReport): every attribute of
    every variable is upserted per station; the part is logged."""
    variables: list[DeviceVariableIn] = []
    for item in p.get("reportData") or []:
        characteristics = item.get("variableCharacteristics")
        for attribute in item.get("variableAttribute") or []:
            value = attribute.get("value")
            variables.append(
                DeviceVariableIn(
                    **_component_key(item.get("component") or {}),
                    **_variable_key(item.get("variable") or {}),
                    attribute_type=str(attribute.get("type", "Actual")),
                    value=None if value is None else str(value),
                    # The 2.0.1 defaults, written out so the stored model is complete.
                    mutability=str(attribute.get("mutability", "ReadWrite")),
                    persistent=bool(attribute.get("persistent", False)),
                    constant=bool(attribute.get("constant", False)),
                    characteristics=plain(characteristics) if characteristics else None,
                )
            )
    generated = parse_timestamp(p.get("generatedAt")) or now_utc()
    event = _event(
        ctx,
        StationEventKind.REPORT,
        "NotifyReport",
        status="more to come" if p.get("tbc") else "last part",
        request_id=p.get("requestId"),
        timestamp=p.get("generatedAt"),
        details={
            "seq_no": p.get("seqNo"),
            "tbc": bool(p.get("tbc", False)),
            "attributes": len(variables),
        },
    )
    await ctx.backend.call_api(
        devices_api.device_variables_report,
        tenant_id=ctx.tenant_id,
        station_id=ctx.station_id,
        variables=variables,
        reported_at=generated,
        request_id=_int(p.get("requestId")),
        events=[event],
    )
    await _progress(
        ctx, CommandKind.GET_BASE_REPORT, event, _part(p, f"{len(variables)} attributes")
    )
    return {}


def _part(p: dict[str, Any], what: str) -> str:
    """A report part as a command's progress: "part 0: 12 attributes, more to come",
    "EVSE 1 profiles 2, 5, last part" (ReportChargingProfiles has no sequence number)."""
    last = "more to come" if p.get("tbc") else "last part"
    seq = f"part {p['seqNo']}: " if "seqNo" in p else ""
    return f"{seq}{what}, {last}"


async def report_charging_profiles(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    """One part of the answer to GetChargingProfiles (the profiles of one EVSE from one
    source): logged whole, and appended to that command's progress."""
    profiles = p.get("chargingProfile") or []
    event = _event(
        ctx,
        StationEventKind.CHARGING_PROFILES,
        "ReportChargingProfiles",
        status=p.get("chargingLimitSource"),
        request_id=p.get("requestId"),
        evse=p.get("evseId"),
        details=p,
    )
    await _record(ctx, event)
    ids = ", ".join(str(x.get("id")) for x in profiles if isinstance(x, dict))
    what = f"EVSE {p.get('evseId')} profiles {ids or 'none'}"
    await _progress(ctx, CommandKind.GET_CHARGING_PROFILES, event, _part(p, what))
    return {}


async def notify_event(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
    """One log row per event; a reported `actualValue` becomes the variable's Actual value
    in the stored device model (its mutability and characteristics stay as last reported)."""
    events: list[StationEventIn] = []
    values: list[DeviceVariableIn] = []
    for item in p.get("eventData") or []:
        component = item.get("component") or {}
        variable = item.get("variable") or {}
        events.append(
            _event(
                ctx,
                StationEventKind.EVENT,
                "NotifyEvent",
                status=item.get("trigger"),
                evse=(component.get("evse") or {}).get("id"),
                timestamp=item.get("timestamp"),
                details={
                    "event_id": item.get("eventId"),
                    "component": component,
                    "variable": variable,
                    "actual_value": item.get("actualValue"),
                    "event_notification_type": item.get("eventNotificationType"),
                    "cause": item.get("cause"),
                    "tech_code": item.get("techCode"),
                    "tech_info": item.get("techInfo"),
                    "cleared": item.get("cleared"),
                    "transaction_id": item.get("transactionId"),
                    "variable_monitoring_id": item.get("variableMonitoringId"),
                    "seq_no": p.get("seqNo"),
                    "tbc": bool(p.get("tbc", False)),
                },
            )
        )
        if item.get("actualValue") is not None and component.get("name") and variable.get("name"):
            values.append(
                DeviceVariableIn(
                    **_component_key(component),
                    **_variable_key(variable),
                    value=str(item["actualValue"]),
                )
            )
    await ctx.backend.call_api(
        devices_api.device_variables_report,
        tenant_id=ctx.tenant_id,
        station_id=ctx.station_id,
        variables=values,
        reported_at=parse_timestamp(p.get("generatedAt")) or now_utc(),
        values_only=True,
        events=events,
    )
    return {}


def _logged(
    kind: StationEventKind,
    action: str,
    *,
    status_of: Any = None,
    evse_of: str | None = "evseId",
    request_of: str | None = "requestId",
    timestamp_of: str | None = None,
    response: dict[str, Any] | None = None,
) -> Handler:
    """A handler that logs the whole payload (plain JSON) and gives a fixed answer."""
    answer = response or {}

    async def handle(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
        await _record(
            ctx,
            _event(
                ctx,
                kind,
                action,
                status=status_of(p) if status_of else "",
                request_id=p.get(request_of) if request_of else None,
                evse=p.get(evse_of) if evse_of else None,
                timestamp=p.get(timestamp_of) if timestamp_of else None,
                details=p,
            ),
        )
        return dict(answer)

    handle.__name__ = action
    return handle


V201_HANDLERS: dict[str, Handler] = {
    "FirmwareStatusNotification": firmware_status_notification,
    "LogStatusNotification": log_status_notification,
    "SecurityEventNotification": security_event_notification,
    "SignCertificate": sign_certificate,
    "DataTransfer": data_transfer,
    "NotifyReport": notify_report,
    "NotifyEvent": notify_event,
    "NotifyChargingLimit": _logged(
        StationEventKind.CHARGING_LIMIT,
        "NotifyChargingLimit",
        status_of=lambda p: (p.get("chargingLimit") or {}).get("chargingLimitSource"),
    ),
    "ClearedChargingLimit": _logged(
        StationEventKind.CHARGING_LIMIT,
        "ClearedChargingLimit",
        status_of=lambda p: p.get("chargingLimitSource"),
    ),
    "ReportChargingProfiles": report_charging_profiles,
    # We compute no ISO 15118 schedules: the needs are stored and the station is told no
    # schedule will come ("Rejected": it goes on with its own limits), not a false Accepted.
    "NotifyEVChargingNeeds": _logged(
        StationEventKind.EV_CHARGING,
        "NotifyEVChargingNeeds",
        status_of=lambda p: (p.get("chargingNeeds") or {}).get("requestedEnergyTransfer"),
        request_of=None,
        response={
            "status": "Rejected",
            "statusInfo": {
                "reasonCode": "NoSchedule",
                "additionalInfo": "this CSMS does not calculate EV charging schedules",
            },
        },
    ),
    # The EV's own schedule within the limits the station has: accepted and stored.
    "NotifyEVChargingSchedule": _logged(
        StationEventKind.EV_CHARGING,
        "NotifyEVChargingSchedule",
        status_of=lambda p: "schedule",
        request_of=None,
        timestamp_of="timeBase",
        response={"status": "Accepted"},
    ),
    "NotifyMonitoringReport": _logged(
        StationEventKind.MONITORING,
        "NotifyMonitoringReport",
        status_of=lambda p: "more to come" if p.get("tbc") else "last part",
        evse_of=None,
        timestamp_of="generatedAt",
    ),
    "NotifyCustomerInformation": _logged(
        StationEventKind.CUSTOMER_INFORMATION,
        "NotifyCustomerInformation",
        status_of=lambda p: "more to come" if p.get("tbc") else "last part",
        evse_of=None,
        timestamp_of="generatedAt",
    ),
    "ReservationStatusUpdate": _logged(
        StationEventKind.RESERVATION,
        "ReservationStatusUpdate",
        status_of=lambda p: p.get("reservationUpdateStatus"),
        evse_of=None,
        request_of=None,
    ),
    "NotifyDisplayMessages": _logged(
        StationEventKind.DISPLAY_MESSAGES,
        "NotifyDisplayMessages",
        status_of=lambda p: "more to come" if p.get("tbc") else "last part",
        evse_of=None,
    ),
    # A local controller publishing firmware to other stations: logged, not this station's
    # firmware state.
    "PublishFirmwareStatusNotification": _logged(
        StationEventKind.FIRMWARE,
        "PublishFirmwareStatusNotification",
        status_of=lambda p: p.get("status"),
        evse_of=None,
    ),
}

V16_HANDLERS: dict[str, Handler] = {
    "DataTransfer": data_transfer,
    "DiagnosticsStatusNotification": diagnostics_status_notification,
    "FirmwareStatusNotification": firmware_status_notification,
    "SecurityEventNotification": security_event_notification,
    "SignCertificate": sign_certificate,
    "LogStatusNotification": log_status_notification,
    "SignedFirmwareStatusNotification": signed_firmware_status_notification,
}

V15_HANDLERS: dict[str, Handler] = {
    "DataTransfer": data_transfer,
    "DiagnosticsStatusNotification": diagnostics_status_notification,
    "FirmwareStatusNotification": firmware_status_notification,
}
