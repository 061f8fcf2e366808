"""Remote commands, CSMS → station.

The platform names commands once, protocol-neutrally (`apps.locations.contracts`: RemoteStart,
Reset, SetChargingProfile, ...). Here each OCPP version maps them: `MAPPINGS[version][kind]`
gives the OCPP action, a builder (neutral command → payload) and a parser (the station's
answer → a neutral status, the station's own word, and a typed answer). Adding a version or a
command is adding a row; `execute` does the rest for all of them:

    neutral command ──build──▶ payload ──validate (OCPP schema, strict)──▶ CALL ──▶ station
    RelayReply ◀──parse── CALLRESULT (validated) / CALLERROR / timeout / connection closed

`Outbound` is the outbound side of one station connection: one outstanding CALL at a time
(later commands wait in line, FIFO), answers matched by message id. Inbound CALLs from the
station are handled independently (server.py), so neither direction blocks the other.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.locations.contracts import (
    COMMAND_CLASSES,
    CertificateHashData,
    CertificateUse,
    ChangeConfiguration,
    ChargingProfile,
    ChargingSchedule,
    CommandAnswer,
    CommandKind,
    CommandStatus,
    CompositeSchedule,
    ConfigurationChanged,
    ConfigurationKey,
    ConfigurationReport,
    ConfigurationValue,
    DataTransfer,
    GetChargingProfiles,
    GetConfiguration,
    GetInstalledCertificateIds,
    InstalledCertificates,
    LocalListVersion,
    LogUpload,
    ProfilePurpose,
    RateUnit,
    RelayReply,
    RelayRequest,
    RemoteStart,
    RemoteStarted,
    SchedulePeriod,
    SendLocalList,
    StationCommand,
    TriggerMessage,
    VendorData,
    command_from_json,
    to_json,
)
from csms_gateway import ocppj, schemas
from csms_gateway.authorizations import AuthMemory
from csms_gateway.handlers import ocpp_time


class Invalid(ValueError):
    """The command cannot be expressed in this OCPP version (nothing is sent)."""


# --- answers: the station's word → a neutral status ------------------------------------------

# The same word means the same thing in every version that has it.
STATUS_WORDS: dict[str, CommandStatus] = {
    "Accepted": CommandStatus.ACCEPTED,
    "Scheduled": CommandStatus.ACCEPTED,  # 2.0.1 Reset / ChangeAvailability: done when idle
    "RebootRequired": CommandStatus.ACCEPTED,  # the value is stored, effective after a reboot
    "Unlocked": CommandStatus.ACCEPTED,
    "AcceptedCanceled": CommandStatus.ACCEPTED,  # 2.0.1: accepted, an earlier one cancelled
    "Rejected": CommandStatus.REJECTED,
    "Unknown": CommandStatus.REJECTED,  # ClearChargingProfile: no such profile
    "VersionMismatch": CommandStatus.REJECTED,
    "Occupied": CommandStatus.REJECTED,
    "Faulted": CommandStatus.REJECTED,
    "Unavailable": CommandStatus.REJECTED,
    "OngoingAuthorizedTransaction": CommandStatus.REJECTED,
    "UnknownConnector": CommandStatus.REJECTED,
    "UnknownComponent": CommandStatus.REJECTED,
    "UnknownVariable": CommandStatus.REJECTED,
    "InvalidCertificate": CommandStatus.REJECTED,
    "RevokedCertificate": CommandStatus.REJECTED,
    "NotSupported": CommandStatus.NOT_SUPPORTED,
    "NotImplemented": CommandStatus.NOT_SUPPORTED,
    "NotSupportedAttributeType": CommandStatus.NOT_SUPPORTED,
    "UnknownVendorId": CommandStatus.NOT_SUPPORTED,  # DataTransfer: no such vendor extension
    "UnknownMessageId": CommandStatus.NOT_SUPPORTED,  # DataTransfer: the vendor's, not this one
    "EmptyResultSet": CommandStatus.ACCEPTED,  # 2.0.1 GetBaseReport: accepted, nothing to report
    "NoProfiles": CommandStatus.ACCEPTED,  # 2.0.1 GetChargingProfiles: accepted, none match
    "UnlockFailed": CommandStatus.FAILED,
    "Failed": CommandStatus.FAILED,
}


@dataclass(frozen=True, slots=True)
class Parsed:
    status: CommandStatus
    station_status: str = ""
    data: CommandAnswer | None = None
    message: str = ""


def _status_info(p: dict[str, Any]) -> str:
    info = p.get("statusInfo") or {}
    return " ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if info.get(k))


def by_status(p: dict[str, Any]) -> Parsed:
    word = str(p.get("status", ""))
    return Parsed(STATUS_WORDS.get(word, CommandStatus.REJECTED), word, None, _status_info(p))


def accepted(p: dict[str, Any]) -> Parsed:
    """An answer without a status (1.x UpdateFirmware): the station took the command."""
    return Parsed(CommandStatus.ACCEPTED)


@dataclass(frozen=True, slots=True)
class Mapping:
    action: str
    build: Callable[[Any], dict[str, Any]]
    parse: Callable[[dict[str, Any]], Parsed] = by_status
    # When some commands of the kind go out as another action (1.6 ExtendedTriggerMessage).
    route: Callable[[Any], str] | None = None


# --- helpers ---------------------------------------------------------------------------------


def _t(value: datetime) -> str:
    return ocpp_time(value)


def _num(value: Decimal) -> int | float:
    """A JSON number for a limit: exact for integers and one-decimal values (OCPP 1.6 limits
    are multiples of 0.1); the payload is validated against the schema after this."""
    return int(value) if value == value.to_integral_value() else float(value)


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _opt(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _periods(raw: list[dict[str, Any]]) -> tuple[SchedulePeriod, ...]:
    return tuple(
        SchedulePeriod(
            start_period=int(p["startPeriod"]),
            limit=_dec(p["limit"]),
            number_phases=p.get("numberPhases"),
        )
        for p in raw
    )


def _period_json(p: SchedulePeriod) -> dict[str, Any]:
    return _opt(startPeriod=p.start_period, limit=_num(p.limit), numberPhases=p.number_phases)


def _plain(value: Any) -> Any:
    """JSON-ready copy of a parsed payload (numbers parsed as Decimal become int / float)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return _num(value)
    return value


# --- OCPP 1.6 (and 1.5, a subset) -------------------------------------------------------------

PURPOSE_16 = {
    ProfilePurpose.STATION_MAX: "ChargePointMaxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.TX: "TxProfile",
}


def _schedule_16(s: ChargingSchedule) -> dict[str, Any]:
    return _opt(
        duration=s.duration,
        startSchedule=_t(s.start_schedule) if s.start_schedule else None,
        chargingRateUnit=s.unit.value,
        chargingSchedulePeriod=[_period_json(p) for p in s.periods],
        minChargingRate=_num(s.min_charging_rate) if s.min_charging_rate is not None else None,
    )


def _tx_id_16(value: str) -> int:
    if not value.lstrip("-").isdigit():
        raise Invalid(f"$.transactionId: an OCPP 1.x transaction id is an integer, not {value!r}")
    return int(value)


def _profile_16(p: ChargingProfile) -> dict[str, Any]:
    return _opt(
        chargingProfileId=p.id,
        transactionId=_tx_id_16(p.transaction_id) if p.transaction_id else None,
        stackLevel=p.stack_level,
        chargingProfilePurpose=PURPOSE_16[p.purpose],
        chargingProfileKind=p.kind.value,
        recurrencyKind=p.recurrency,
        validFrom=_t(p.valid_from) if p.valid_from else None,
        validTo=_t(p.valid_to) if p.valid_to else None,
        chargingSchedule=_schedule_16(p.schedule),
    )


def _key_16(k: ConfigurationKey) -> str:
    if k.component or k.instance or k.evse_id is not None:
        raise Invalid(f"$.key: OCPP 1.x keys have no component / instance / EVSE ({k.name})")
    return k.name


def _get_configuration_16(c: GetConfiguration) -> dict[str, Any]:
    return {"key": [_key_16(k) for k in c.keys]} if c.keys else {}


def _parse_configuration_16(p: dict[str, Any]) -> Parsed:
    values = tuple(
        ConfigurationValue(
            key=ConfigurationKey(str(v["key"])), value=v.get("value"), readonly=v.get("readonly")
        )
        for v in p.get("configurationKey") or []
    )
    unknown = tuple(ConfigurationKey(str(k)) for k in p.get("unknownKey") or [])
    return Parsed(CommandStatus.ACCEPTED, "", ConfigurationReport(values, unknown))


def _parse_change_configuration(p: dict[str, Any]) -> Parsed:
    parsed = by_status(p)
    if parsed.status is CommandStatus.ACCEPTED:
        data = ConfigurationChanged(reboot_required=parsed.station_status == "RebootRequired")
        return Parsed(parsed.status, parsed.station_status, data, parsed.message)
    return parsed


_TRIGGER_16 = {
    "LogStatusNotification": "DiagnosticsStatusNotification",
    "SignChargingStationCertificate": "SignChargePointCertificate",
}
# What only the 1.6 security extension's ExtendedTriggerMessage can ask for.
_EXTENDED_TRIGGER_16 = frozenset({"SignChargePointCertificate"})


def _trigger_16(c: TriggerMessage) -> dict[str, Any]:
    return _opt(requestedMessage=_TRIGGER_16.get(c.message, c.message), connectorId=c.evse_id)


def _trigger_action_16(c: TriggerMessage) -> str:
    extended = _TRIGGER_16.get(c.message, c.message) in _EXTENDED_TRIGGER_16
    return "ExtendedTriggerMessage" if extended else "TriggerMessage"


def _composite_16(p: dict[str, Any]) -> Parsed:
    parsed = by_status(p)
    s = p.get("chargingSchedule")
    schedule = None
    if s:
        schedule = ChargingSchedule(
            unit=RateUnit(s["chargingRateUnit"]),
            periods=_periods(s.get("chargingSchedulePeriod") or []),
            duration=s.get("duration"),
            start_schedule=_time(s.get("startSchedule")),
            min_charging_rate=_dec(s["minChargingRate"]) if "minChargingRate" in s else None,
        )
    data = CompositeSchedule(p.get("connectorId"), _time(p.get("scheduleStart")), schedule)
    return Parsed(parsed.status, parsed.station_status, data, parsed.message)


def _local_list_16(c: SendLocalList) -> dict[str, Any]:
    entries = []
    for e in c.entries:
        entry: dict[str, Any] = {"idTag": e.id_tag}
        if e.status is not None:
            entry["idTagInfo"] = _opt(
                status=e.status,
                expiryDate=_t(e.expiry) if e.expiry else None,
                parentIdTag=e.parent_id_tag or None,
            )
        entries.append(entry)
    return {
        "listVersion": c.version,
        "updateType": "Full" if c.full else "Differential",
        "localAuthorizationList": entries,
    }


# --- certificates (1.6 security extension, 2.0.1) --------------------------------------------

_USE_16 = {
    CertificateUse.CSMS_ROOT: "CentralSystemRootCertificate",
    CertificateUse.MANUFACTURER_ROOT: "ManufacturerRootCertificate",
}
_USE_201 = {
    CertificateUse.CSMS_ROOT: "CSMSRootCertificate",
    CertificateUse.MANUFACTURER_ROOT: "ManufacturerRootCertificate",
    CertificateUse.V2G_ROOT: "V2GRootCertificate",
    CertificateUse.MO_ROOT: "MORootCertificate",
    CertificateUse.V2G_CHAIN: "V2GCertificateChain",
}
_USE_FROM_WORD = {word: use for table in (_USE_16, _USE_201) for use, word in table.items()}


def _use(table: dict[CertificateUse, str], use: CertificateUse, version: str) -> str:
    word = table.get(use)
    if word is None:
        raise Invalid(f"$.certificateType: OCPP {version} has no {use} certificates")
    return word


def _hash_json(h: CertificateHashData) -> dict[str, Any]:
    return {
        "hashAlgorithm": h.hash_algorithm,
        "issuerNameHash": h.issuer_name_hash,
        "issuerKeyHash": h.issuer_key_hash,
        "serialNumber": h.serial_number,
    }


def _hash_of(raw: dict[str, Any], use: str | None = None) -> CertificateHashData:
    return CertificateHashData(
        hash_algorithm=str(raw["hashAlgorithm"]),
        issuer_name_hash=str(raw["issuerNameHash"]),
        issuer_key_hash=str(raw["issuerKeyHash"]),
        serial_number=str(raw["serialNumber"]),
        use=_USE_FROM_WORD.get(use) if use else None,
    )


def _installed(p: dict[str, Any], hashes: list[CertificateHashData]) -> Parsed:
    """NotFound (no certificate of the type) is an answer, not a refusal: an empty list."""
    word = str(p.get("status", ""))
    status = CommandStatus.ACCEPTED if word in ("Accepted", "NotFound") else by_status(p).status
    return Parsed(status, word, InstalledCertificates(tuple(hashes)), _status_info(p))


def _parse_installed_16(p: dict[str, Any]) -> Parsed:
    return _installed(p, [_hash_of(h) for h in p.get("certificateHashData") or []])


def _parse_installed_201(p: dict[str, Any]) -> Parsed:
    hashes = []
    for chain in p.get("certificateHashDataChain") or []:
        use = str(chain.get("certificateType", ""))
        hashes.append(_hash_of(chain["certificateHashData"], use))
        hashes.extend(_hash_of(c, use) for c in chain.get("childCertificateHashData") or [])
    return _installed(p, hashes)


def _get_installed_16(c: GetInstalledCertificateIds) -> dict[str, Any]:
    if len(c.uses) != 1:
        raise Invalid("$.certificateType: OCPP 1.6 asks for exactly one certificate type")
    return {"certificateType": _use(_USE_16, c.uses[0], "1.6")}


def _list_version(field: str) -> Callable[[dict[str, Any]], Parsed]:
    """GetLocalListVersion's answer has no status: the version (1.x `listVersion`, 2.0.1
    `versionNumber`; 0 means no list). 1.x reserves -1 for "no local list support"."""

    def parse(p: dict[str, Any]) -> Parsed:
        version = int(p[field])
        if version < 0:
            return Parsed(
                CommandStatus.NOT_SUPPORTED, "", None, "the station has no local authorization list"
            )
        return Parsed(CommandStatus.ACCEPTED, "", LocalListVersion(version))

    return parse


def _data_transfer(c: DataTransfer) -> dict[str, Any]:
    return _opt(vendorId=c.vendor_id, messageId=c.message_id or None, data=c.data)


def _parse_data_transfer(p: dict[str, Any]) -> Parsed:
    """The status, and the data the station sent back (2.0.1 may send any JSON: kept as JSON
    text, numbers as parsed)."""
    parsed = by_status(p)
    data = p.get("data")
    if data is not None and not isinstance(data, str):
        data = json.dumps(_plain(data), separators=(",", ":"), sort_keys=True)
    return Parsed(parsed.status, parsed.station_status, VendorData(data), parsed.message)


def _parse_delete(p: dict[str, Any]) -> Parsed:
    parsed = by_status(p)
    if parsed.station_status == "NotFound":  # no such certificate on the station
        return Parsed(CommandStatus.REJECTED, "NotFound", None, parsed.message)
    return parsed


V16: dict[CommandKind, Mapping] = {
    CommandKind.REMOTE_START: Mapping(
        "RemoteStartTransaction",
        lambda c: _opt(
            connectorId=c.evse_id,
            idTag=c.id_tag,
            chargingProfile=_profile_16(c.charging_profile) if c.charging_profile else None,
        ),
    ),
    CommandKind.REMOTE_STOP: Mapping(
        "RemoteStopTransaction", lambda c: {"transactionId": _tx_id_16(c.transaction_id)}
    ),
    CommandKind.RESET: Mapping("Reset", lambda c: {"type": "Hard" if c.hard else "Soft"}),
    CommandKind.UNLOCK_CONNECTOR: Mapping("UnlockConnector", lambda c: {"connectorId": c.evse_id}),
    CommandKind.CHANGE_AVAILABILITY: Mapping(
        "ChangeAvailability",
        lambda c: {
            "connectorId": c.evse_id or 0,
            "type": "Operative" if c.operative else "Inoperative",
        },
    ),
    CommandKind.GET_CONFIGURATION: Mapping(
        "GetConfiguration", _get_configuration_16, _parse_configuration_16
    ),
    CommandKind.CHANGE_CONFIGURATION: Mapping(
        "ChangeConfiguration",
        lambda c: {"key": _key_16(c.key), "value": c.value},
        _parse_change_configuration,
    ),
    CommandKind.TRIGGER_MESSAGE: Mapping("TriggerMessage", _trigger_16, route=_trigger_action_16),
    CommandKind.CLEAR_CACHE: Mapping("ClearCache", lambda c: {}),
    CommandKind.SEND_LOCAL_LIST: Mapping("SendLocalList", _local_list_16),
    CommandKind.SET_CHARGING_PROFILE: Mapping(
        "SetChargingProfile",
        lambda c: {"connectorId": c.evse_id, "csChargingProfiles": _profile_16(c.profile)},
    ),
    CommandKind.CLEAR_CHARGING_PROFILE: Mapping(
        "ClearChargingProfile",
        lambda c: _opt(
            id=c.profile_id,
            connectorId=c.evse_id,
            chargingProfilePurpose=PURPOSE_16[c.purpose] if c.purpose else None,
            stackLevel=c.stack_level,
        ),
    ),
    CommandKind.GET_COMPOSITE_SCHEDULE: Mapping(
        "GetCompositeSchedule",
        lambda c: _opt(
            connectorId=c.evse_id,
            duration=c.duration,
            chargingRateUnit=c.unit.value if c.unit else None,
        ),
        _composite_16,
    ),
    CommandKind.UPDATE_FIRMWARE: Mapping(
        "UpdateFirmware",
        lambda c: _opt(
            location=c.location,
            retrieveDate=_t(c.retrieve_at),
            retries=c.retries,
            retryInterval=c.retry_interval,
        ),
        accepted,
    ),
    CommandKind.GET_DIAGNOSTICS: Mapping(
        "GetDiagnostics",
        lambda c: _opt(
            location=c.location,
            retries=c.retries,
            retryInterval=c.retry_interval,
            startTime=_t(c.start) if c.start else None,
            stopTime=_t(c.stop) if c.stop else None,
        ),
        lambda p: Parsed(
            CommandStatus.ACCEPTED,
            "",
            LogUpload(str(p.get("fileName") or "")),
            "" if p.get("fileName") else "the station has no diagnostics to upload",
        ),
    ),
    CommandKind.RESERVE_NOW: Mapping(
        "ReserveNow",
        lambda c: _opt(
            connectorId=c.evse_id or 0,
            expiryDate=_t(c.expiry),
            idTag=c.id_tag,
            parentIdTag=c.parent_id_tag or None,
            reservationId=c.reservation_id,
        ),
    ),
    CommandKind.CANCEL_RESERVATION: Mapping(
        "CancelReservation", lambda c: {"reservationId": c.reservation_id}
    ),
    # The security extension's own messages (not DataTransfer-wrapped).
    CommandKind.CERTIFICATE_SIGNED: Mapping(
        "CertificateSigned", lambda c: {"certificateChain": c.certificate_chain}
    ),
    CommandKind.INSTALL_CERTIFICATE: Mapping(
        "InstallCertificate",
        lambda c: {"certificateType": _use(_USE_16, c.use, "1.6"), "certificate": c.certificate},
    ),
    CommandKind.GET_INSTALLED_CERTIFICATE_IDS: Mapping(
        "GetInstalledCertificateIds", _get_installed_16, _parse_installed_16
    ),
    CommandKind.DELETE_CERTIFICATE: Mapping(
        "DeleteCertificate",
        lambda c: {"certificateHashData": _hash_json(c.certificate)},
        _parse_delete,
    ),
    CommandKind.GET_LOCAL_LIST_VERSION: Mapping(
        "GetLocalListVersion", lambda c: {}, _list_version("listVersion")
    ),
    CommandKind.DATA_TRANSFER: Mapping("DataTransfer", _data_transfer, _parse_data_transfer),
}


def _local_list_15(c: SendLocalList) -> dict[str, Any]:
    """1.6's payload with 1.5's spelling of the list (localAuthorisationList); the
    optional hash of the list is not sent."""
    payload = _local_list_16(c)
    payload["localAuthorisationList"] = payload.pop("localAuthorizationList")
    return payload


def _no_profile_15(c: RemoteStart) -> dict[str, Any]:
    if c.charging_profile is not None:
        raise Invalid("$.chargingProfile: OCPP 1.5 has no smart charging")
    return _opt(connectorId=c.evse_id, idTag=c.id_tag)


# OCPP 1.5 has the 1.6 Core / firmware / local list / reservation commands with the same
# payloads, and no smart charging, TriggerMessage or certificates (those stay NOT_SUPPORTED).
# Its payloads are validated against the project's 1.5 schemas (`csms_gateway/schemas_v15`,
# ADR 0012) like any.
V15: dict[CommandKind, Mapping] = {
    **{
        kind: V16[kind]
        for kind in (
            CommandKind.REMOTE_STOP,
            CommandKind.RESET,
            CommandKind.UNLOCK_CONNECTOR,  # 1.5 answers Accepted / Rejected
            CommandKind.CHANGE_AVAILABILITY,
            CommandKind.GET_CONFIGURATION,
            CommandKind.CHANGE_CONFIGURATION,
            CommandKind.CLEAR_CACHE,
            CommandKind.UPDATE_FIRMWARE,
            CommandKind.GET_DIAGNOSTICS,
            CommandKind.RESERVE_NOW,
            CommandKind.CANCEL_RESERVATION,
            CommandKind.GET_LOCAL_LIST_VERSION,
            CommandKind.DATA_TRANSFER,
        )
    },
    CommandKind.REMOTE_START: Mapping("RemoteStartTransaction", _no_profile_15),
    CommandKind.SEND_LOCAL_LIST: Mapping("SendLocalList", _local_list_15),
}


# --- OCPP 2.0.1 -------------------------------------------------------------------------------

PURPOSE_201 = {
    ProfilePurpose.STATION_MAX: "ChargingStationMaxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.TX: "TxProfile",
}
_TRIGGER_201 = {
    "DiagnosticsStatusNotification": "LogStatusNotification",
    "SignChargePointCertificate": "SignChargingStationCertificate",
}


def _id_token(value: str, token_type: str) -> dict[str, Any]:
    return {"idToken": value, "type": token_type}


def _schedule_201(s: ChargingSchedule) -> dict[str, Any]:
    return _opt(
        id=s.id,
        startSchedule=_t(s.start_schedule) if s.start_schedule else None,
        duration=s.duration,
        chargingRateUnit=s.unit.value,
        chargingSchedulePeriod=[_period_json(p) for p in s.periods],
        minChargingRate=_num(s.min_charging_rate) if s.min_charging_rate is not None else None,
    )


def _profile_201(p: ChargingProfile) -> dict[str, Any]:
    return _opt(
        id=p.id,
        stackLevel=p.stack_level,
        chargingProfilePurpose=PURPOSE_201[p.purpose],
        chargingProfileKind=p.kind.value,
        recurrencyKind=p.recurrency,
        validFrom=_t(p.valid_from) if p.valid_from else None,
        validTo=_t(p.valid_to) if p.valid_to else None,
        transactionId=p.transaction_id,
        chargingSchedule=[_schedule_201(p.schedule)],
    )


def _component(k: ConfigurationKey) -> dict[str, Any]:
    if not k.component:
        raise Invalid(f"$.key.component: OCPP 2.0.1 variables belong to a component ({k.name})")
    return _opt(
        name=k.component,
        instance=k.instance or None,
        evse={"id": k.evse_id} if k.evse_id is not None else None,
    )


def _variable(k: ConfigurationKey) -> dict[str, Any]:
    return {"name": k.name}


def _key_of(r: dict[str, Any]) -> ConfigurationKey:
    component, variable = r.get("component") or {}, r.get("variable") or {}
    evse = component.get("evse") or {}
    return ConfigurationKey(
        name=str(variable.get("name", "")),
        component=str(component.get("name", "")),
        instance=str(component.get("instance", "")),
        evse_id=evse.get("id"),
    )


def _get_variables(c: GetConfiguration) -> dict[str, Any]:
    if not c.keys:
        raise Invalid(
            "$.keys: OCPP 2.0.1 GetVariables names at least one variable "
            "(a full report is GetBaseReport)"
        )
    return {
        "getVariableData": [{"component": _component(k), "variable": _variable(k)} for k in c.keys]
    }


def _parse_get_variables(p: dict[str, Any]) -> Parsed:
    values, unknown = [], []
    for r in p.get("getVariableResult") or []:
        key, status = _key_of(r), str(r.get("attributeStatus", ""))
        if status in ("UnknownComponent", "UnknownVariable"):
            unknown.append(key)
        else:
            values.append(ConfigurationValue(key=key, value=r.get("attributeValue"), status=status))
    return Parsed(CommandStatus.ACCEPTED, "", ConfigurationReport(tuple(values), tuple(unknown)))


def _set_variables(c: ChangeConfiguration) -> dict[str, Any]:
    return {
        "setVariableData": [
            {
                "attributeValue": c.value,
                "component": _component(c.key),
                "variable": _variable(c.key),
            }
        ]
    }


def _parse_set_variables(p: dict[str, Any]) -> Parsed:
    (result, *_) = p.get("setVariableResult") or [{}]
    return _parse_change_configuration(
        {
            "status": result.get("attributeStatus", ""),
            "statusInfo": result.get("attributeStatusInfo"),
        }
    )


def _evse(evse_id: int | None, connector_id: int | None) -> dict[str, Any] | None:
    if evse_id is None:
        if connector_id is not None:
            raise Invalid("$.evse: a connector needs its EVSE")
        return None
    return _opt(id=evse_id, connectorId=connector_id)


def _local_list_201(c: SendLocalList) -> dict[str, Any]:
    entries = []
    for e in c.entries:
        entry: dict[str, Any] = {"idToken": _id_token(e.id_tag, e.token_type)}
        if e.status is not None:
            entry["idTokenInfo"] = _opt(
                status=e.status,
                cacheExpiryDateTime=_t(e.expiry) if e.expiry else None,
                groupIdToken=_id_token(e.parent_id_tag, "Central") if e.parent_id_tag else None,
            )
        entries.append(entry)
    return _opt(
        versionNumber=c.version,
        updateType="Full" if c.full else "Differential",
        localAuthorizationList=entries or None,  # minItems 1: left out when empty
    )


def _composite_201(p: dict[str, Any]) -> Parsed:
    parsed = by_status(p)
    s = p.get("schedule")
    data = None
    if s:
        schedule = ChargingSchedule(
            unit=RateUnit(s["chargingRateUnit"]),
            periods=_periods(s.get("chargingSchedulePeriod") or []),
            duration=s.get("duration"),
            start_schedule=_time(s.get("scheduleStart")),
        )
        data = CompositeSchedule(s.get("evseId"), _time(s.get("scheduleStart")), schedule)
    return Parsed(parsed.status, parsed.station_status, data, parsed.message)


def _remote_start_201(c: RemoteStart) -> dict[str, Any]:
    if c.remote_start_id is None:
        raise Invalid("$.remoteStartId: required by OCPP 2.0.1")
    return _opt(
        evseId=c.evse_id,
        remoteStartId=c.remote_start_id,
        idToken=_id_token(c.id_tag, c.token_type),
        chargingProfile=_profile_201(c.charging_profile) if c.charging_profile else None,
    )


def _parse_remote_start_201(p: dict[str, Any]) -> Parsed:
    parsed = by_status(p)
    tx = p.get("transactionId")
    return Parsed(
        parsed.status, parsed.station_status, RemoteStarted(str(tx)) if tx else None, parsed.message
    )


def _request_id(value: int | None, what: str) -> int:
    if value is None:
        raise Invalid(f"$.requestId: required by OCPP 2.0.1 {what}")
    return value


def _get_charging_profiles(c: GetChargingProfiles) -> dict[str, Any]:
    """Every criterion left empty matches all (an empty `chargingProfile` object)."""
    return _opt(
        requestId=_request_id(c.request_id, "GetChargingProfiles"),
        evseId=c.evse_id,
        chargingProfile=_opt(
            chargingProfilePurpose=PURPOSE_201[c.purpose] if c.purpose else None,
            stackLevel=c.stack_level,
            chargingProfileId=list(c.profile_ids) or None,
            chargingLimitSource=list(c.sources) or None,
        ),
    )


V201: dict[CommandKind, Mapping] = {
    CommandKind.REMOTE_START: Mapping(
        "RequestStartTransaction", _remote_start_201, _parse_remote_start_201
    ),
    CommandKind.REMOTE_STOP: Mapping(
        "RequestStopTransaction", lambda c: {"transactionId": c.transaction_id}
    ),
    CommandKind.RESET: Mapping(
        "Reset", lambda c: _opt(type="Immediate" if c.hard else "OnIdle", evseId=c.evse_id)
    ),
    CommandKind.UNLOCK_CONNECTOR: Mapping(
        "UnlockConnector", lambda c: {"evseId": c.evse_id, "connectorId": c.connector_id}
    ),
    CommandKind.CHANGE_AVAILABILITY: Mapping(
        "ChangeAvailability",
        lambda c: _opt(
            operationalStatus="Operative" if c.operative else "Inoperative",
            evse=_evse(c.evse_id, c.connector_id),
        ),
    ),
    CommandKind.GET_CONFIGURATION: Mapping("GetVariables", _get_variables, _parse_get_variables),
    CommandKind.CHANGE_CONFIGURATION: Mapping("SetVariables", _set_variables, _parse_set_variables),
    CommandKind.TRIGGER_MESSAGE: Mapping(
        "TriggerMessage",
        lambda c: _opt(
            requestedMessage=_TRIGGER_201.get(c.message, c.message),
            evse=_evse(c.evse_id, c.connector_id),
        ),
    ),
    CommandKind.CLEAR_CACHE: Mapping("ClearCache", lambda c: {}),
    CommandKind.SEND_LOCAL_LIST: Mapping("SendLocalList", _local_list_201),
    CommandKind.SET_CHARGING_PROFILE: Mapping(
        "SetChargingProfile",
        lambda c: {"evseId": c.evse_id, "chargingProfile": _profile_201(c.profile)},
    ),
    CommandKind.CLEAR_CHARGING_PROFILE: Mapping(
        "ClearChargingProfile",
        lambda c: _opt(
            chargingProfileId=c.profile_id,
            chargingProfileCriteria=_opt(
                evseId=c.evse_id,
                chargingProfilePurpose=PURPOSE_201[c.purpose] if c.purpose else None,
                stackLevel=c.stack_level,
            )
            or None,
        ),
    ),
    CommandKind.GET_COMPOSITE_SCHEDULE: Mapping(
        "GetCompositeSchedule",
        lambda c: _opt(
            duration=c.duration,
            chargingRateUnit=c.unit.value if c.unit else None,
            evseId=c.evse_id,
        ),
        _composite_201,
    ),
    CommandKind.UPDATE_FIRMWARE: Mapping(
        "UpdateFirmware",
        lambda c: _opt(
            retries=c.retries,
            retryInterval=c.retry_interval,
            requestId=_request_id(c.request_id, "UpdateFirmware"),
            firmware=_opt(
                location=c.location,
                retrieveDateTime=_t(c.retrieve_at),
                installDateTime=_t(c.install_at) if c.install_at else None,
                signingCertificate=c.signing_certificate or None,
                signature=c.signature or None,
            ),
        ),
    ),
    CommandKind.GET_DIAGNOSTICS: Mapping(
        "GetLog",
        lambda c: _opt(
            log=_opt(
                remoteLocation=c.location,
                oldestTimestamp=_t(c.start) if c.start else None,
                latestTimestamp=_t(c.stop) if c.stop else None,
            ),
            logType=c.log_type,
            requestId=_request_id(c.request_id, "GetLog"),
            retries=c.retries,
            retryInterval=c.retry_interval,
        ),
        lambda p: Parsed(
            by_status(p).status,
            str(p.get("status", "")),
            LogUpload(str(p.get("filename") or "")),
            _status_info(p),
        ),
    ),
    CommandKind.RESERVE_NOW: Mapping(
        "ReserveNow",
        lambda c: _opt(
            id=c.reservation_id,
            expiryDateTime=_t(c.expiry),
            idToken=_id_token(c.id_tag, c.token_type),
            evseId=c.evse_id,
            groupIdToken=_id_token(c.parent_id_tag, "Central") if c.parent_id_tag else None,
        ),
    ),
    CommandKind.CANCEL_RESERVATION: Mapping(
        "CancelReservation", lambda c: {"reservationId": c.reservation_id}
    ),
    CommandKind.CERTIFICATE_SIGNED: Mapping(
        "CertificateSigned",
        lambda c: _opt(
            certificateChain=c.certificate_chain, certificateType=c.certificate_type or None
        ),
    ),
    CommandKind.INSTALL_CERTIFICATE: Mapping(
        "InstallCertificate",
        lambda c: {
            "certificateType": _use(_USE_201, c.use, "2.0.1"),
            "certificate": c.certificate,
        },
    ),
    CommandKind.GET_INSTALLED_CERTIFICATE_IDS: Mapping(
        "GetInstalledCertificateIds",
        lambda c: _opt(certificateType=[_use(_USE_201, u, "2.0.1") for u in c.uses] or None),
        _parse_installed_201,
    ),
    CommandKind.DELETE_CERTIFICATE: Mapping(
        "DeleteCertificate",
        lambda c: {"certificateHashData": _hash_json(c.certificate)},
        _parse_delete,
    ),
    CommandKind.GET_LOCAL_LIST_VERSION: Mapping(
        "GetLocalListVersion", lambda c: {}, _list_version("versionNumber")
    ),
    CommandKind.DATA_TRANSFER: Mapping("DataTransfer", _data_transfer, _parse_data_transfer),
    CommandKind.GET_BASE_REPORT: Mapping(
        "GetBaseReport",
        lambda c: {
            "requestId": _request_id(c.request_id, "GetBaseReport"),
            "reportBase": c.report_base.value,
        },
    ),
    CommandKind.GET_CHARGING_PROFILES: Mapping("GetChargingProfiles", _get_charging_profiles),
}

# The per-version tables. A version without a row for a command answers NOT_SUPPORTED.
MAPPINGS: dict[str, dict[CommandKind, Mapping]] = {"1.5": V15, "1.6": V16, "2.0.1": V201}

# Commands only OCPP 2.0.1 has: a 1.x station answers NOT_SUPPORTED and nothing is sent.
ONLY_201 = frozenset({CommandKind.GET_BASE_REPORT, CommandKind.GET_CHARGING_PROFILES})

# Every command class is used by some row (a cheap guard against a typo in a table).
assert set(COMMAND_CLASSES) == set(V201) == set(V16) | ONLY_201
assert not ONLY_201 & set(V16) and set(V15) <= set(V16)


def build(version: str, command: StationCommand) -> tuple[str, dict[str, Any]]:
    """The OCPP action and payload of `command` for `version`, validated against the
    version's schema. Raises `Invalid` (not expressible / breaks the schema) or `LookupError`
    (the version has no such command)."""
    mapping = MAPPINGS.get(version, {}).get(command.kind)
    if mapping is None:
        raise LookupError(f"OCPP {version} has no {command.kind} command")
    payload = mapping.build(command)
    action = mapping.route(command) if mapping.route else mapping.action
    try:
        schemas.validate(version, action, payload, response=False)
    except ocppj.OcppError as exc:
        raise Invalid(exc.description) from None
    return action, payload


# --- the outbound side of one connection -------------------------------------------------------


# Connection tokens: unique per process (a random prefix per process, then a counter), cheaper
# than a uuid4 each (os.urandom is a system call: ~0.2 ms on this VM, 10,000 in a storm).
_TOKEN_PREFIX = os.urandom(6).hex()
_TOKENS = itertools.count(1)


class Outbound:
    """CSMS → station CALLs of one connection: one outstanding at a time (OCPP-J), the next
    ones wait in line (FIFO); answers are matched by message id."""

    __slots__ = (
        "send",
        "version",
        "identity",
        "token",
        "auth_memory",
        "_pending",
        "_lock",
        "_closed",
    )

    def __init__(self, send: Callable[[str], Awaitable[None]], version: str, identity: str):
        self.send = send
        self.version = version
        self.identity = identity
        self.token = f"{_TOKEN_PREFIX}{next(_TOKENS):x}"  # names this connection (registry)
        # Remote starts sent on this connection: a start that follows is COMMAND (OCPI).
        self.auth_memory = AuthMemory()
        self._pending: dict[str, asyncio.Future[ocppj.CallResult | ocppj.CallError]] = {}
        self._lock: asyncio.Lock | None = None  # created on first use (10,000 idle links)
        self._closed = False

    def resolve(self, frame: ocppj.CallResult | ocppj.CallError) -> bool:
        """Deliver an answer; False when nothing waits for it (late or unknown id)."""
        future = self._pending.pop(frame.message_id, None)
        if future is None or future.done():
            return False
        future.set_result(frame)
        return True

    def close(self) -> None:
        self._closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self._pending.clear()

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float,
        *,
        encode: Callable[[str, str, dict[str, Any]], str] = ocppj.dump_call,
    ) -> ocppj.CallResult | ocppj.CallError:
        """Send one CALL once the previous one is answered (or timed out) and wait for its
        answer; `timeout` covers the wait in line too. `encode` writes the frame (message
        id, action, payload). Raises TimeoutError or ConnectionError."""
        if self._closed:
            raise ConnectionError("connection closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with asyncio.timeout_at(deadline):
            async with self._lock:
                if self._closed:
                    raise ConnectionError("connection closed")
                message_id = uuid.uuid4().hex
                future: asyncio.Future[ocppj.CallResult | ocppj.CallError] = loop.create_future()
                self._pending[message_id] = future
                try:
                    await self.send(encode(message_id, action, payload))
                    return await future
                finally:
                    self._pending.pop(message_id, None)


# A remote start that ended so is forgotten: no start can follow it.
_REMOTE_START_REFUSED = frozenset(
    {
        CommandStatus.REJECTED,
        CommandStatus.FAILED,
        CommandStatus.NOT_SUPPORTED,
        CommandStatus.OFFLINE,
    }
)


async def execute(link: Outbound, request: RelayRequest, node: str) -> RelayReply:
    """Run one relayed command on `link` and say what became of it (never raises).

    A remote start is remembered on the link before it leaves (the station may start before
    its answer reaches us), so that the start which follows is reported as COMMAND with the
    command's id as its reference (csms_gateway/authorizations.py); forgotten again
    when the station refuses it."""
    base: dict[str, Any] = {"id": request.id, "protocol": link.version, "node": node}
    try:
        command = command_from_json(request.kind, request.command)
    except (TypeError, ValueError, KeyError) as exc:
        return RelayReply(status=CommandStatus.FAILED, invalid=(f"$: {exc}",), **base)
    if not isinstance(command, RemoteStart):
        return await _execute(link, request, command, base)
    # The reference: the command's own id (the platform sets it to the audit row's id, which
    # 2.0.1 sends as remoteStartId), the relay id when there is none.
    reference = request.id if command.remote_start_id is None else str(command.remote_start_id)
    link.auth_memory.remote_start_sent(command.id_tag, reference, time.monotonic())
    reply = await _execute(link, request, command, base)
    if reply.status in _REMOTE_START_REFUSED:
        link.auth_memory.remote_start_refused(command.id_tag, reference)
    return reply


async def _execute(
    link: Outbound, request: RelayRequest, command: Any, base: dict[str, Any]
) -> RelayReply:
    try:
        action, payload = build(link.version, command)
    except LookupError as exc:
        return RelayReply(status=CommandStatus.NOT_SUPPORTED, message=str(exc), **base)
    except Invalid as exc:
        return RelayReply(status=CommandStatus.FAILED, invalid=(str(exc),), **base)
    base.update(ocpp_action=action, ocpp_request=payload)
    remaining = request.deadline - time.time()
    if remaining <= 0:
        return RelayReply(
            status=CommandStatus.TIMEOUT, message="expired before it could be sent", **base
        )
    try:
        frame = await link.call(action, payload, remaining)
    except TimeoutError:
        return RelayReply(
            status=CommandStatus.TIMEOUT,
            message=f"no answer from the station within {remaining:.1f} s "
            "(the wait behind earlier commands to it included)",
            **base,
        )
    except ConnectionError:
        return RelayReply(
            status=CommandStatus.OFFLINE,
            message="the station disconnected before answering (it may have acted on it)",
            **base,
        )
    if isinstance(frame, ocppj.CallError):
        unsupported = frame.code in ("NotImplemented", "NotSupported")
        return RelayReply(
            status=CommandStatus.NOT_SUPPORTED if unsupported else CommandStatus.FAILED,
            station_status=frame.code,
            message=frame.description,
            response=_plain(frame.details) or None,
            **base,
        )
    response = _plain(frame.payload)
    try:
        schemas.validate(link.version, action, response, response=True)
    except ocppj.OcppError as exc:
        return RelayReply(
            status=CommandStatus.FAILED,
            message=f"the station's answer breaks the OCPP schema: {exc.description}",
            response=response,
            **base,
        )
    mapping = MAPPINGS[link.version][command.kind]
    try:
        parsed = mapping.parse(frame.payload)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        return RelayReply(
            status=CommandStatus.FAILED,
            message=f"the station's answer could not be read: {exc!r}",
            response=response,
            **base,
        )
    return RelayReply(
        status=parsed.status,
        station_status=parsed.station_status,
        message=parsed.message,
        data=to_json(parsed.data) if parsed.data is not None else None,
        response=response,
        **base,
    )
