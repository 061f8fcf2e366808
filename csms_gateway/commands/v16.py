"""OCPP 1.6 (with the security extension's messages): the neutral commands as 1.6 CALLs and
the station's answers read back."""

from __future__ import annotations

from typing import Any

from apps.locations.contracts import (
    CertificateUse,
    ChargingProfile,
    ChargingSchedule,
    CommandKind,
    CommandStatus,
    CompositeSchedule,
    ConfigurationKey,
    ConfigurationReport,
    ConfigurationValue,
    GetConfiguration,
    GetInstalledCertificateIds,
    LogUpload,
    ProfilePurpose,
    RateUnit,
    SendLocalList,
    TriggerMessage,
)
from csms_gateway.commands.common import (
    Invalid,
    Mapping,
    Parsed,
    accepted,
    by_status,
    certificate_word,
    data_transfer,
    decimal_of,
    hash_json,
    hash_of,
    installed,
    list_version,
    number,
    opt,
    parse_change_configuration,
    parse_data_transfer,
    parse_delete,
    parse_time,
    period_json,
    periods_of,
)
from csms_gateway.handlers import ocpp_time

PURPOSE_16 = {
    ProfilePurpose.STATION_MAX: "ChargePointMaxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.TX: "TxProfile",
}


def _schedule_16(s: ChargingSchedule) -> dict[str, Any]:
    return opt(
        duration=s.duration,
        startSchedule=ocpp_time(s.start_schedule) if s.start_schedule else None,
        chargingRateUnit=s.unit.value,
        chargingSchedulePeriod=[period_json(p) for p in s.periods],
        minChargingRate=number(s.min_charging_rate) if s.min_charging_rate is not None else None,
    )


def _tx_id_16(value: str) -> int:
    if not value.lstrip("-").isdigit():
        raise Invalid(f"$.transactionId: an OCPP 1.x transaction id is an integer, not {value!r}")
    return int(value)


def _profile_16(p: ChargingProfile) -> dict[str, Any]:
    return opt(
        chargingProfileId=p.id,
        transactionId=_tx_id_16(p.transaction_id) if p.transaction_id else None,
        stackLevel=p.stack_level,
        chargingProfilePurpose=PURPOSE_16[p.purpose],
        chargingProfileKind=p.kind.value,
        recurrencyKind=p.recurrency,
        validFrom=ocpp_time(p.valid_from) if p.valid_from else None,
        validTo=ocpp_time(p.valid_to) if p.valid_to else None,
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


_TRIGGER_16 = {
    "LogStatusNotification": "DiagnosticsStatusNotification",
    "SignChargingStationCertificate": "SignChargePointCertificate",
}
# What only the 1.6 security extension's ExtendedTriggerMessage can ask for.
_EXTENDED_TRIGGER_16 = frozenset({"SignChargePointCertificate"})


def _trigger_16(c: TriggerMessage) -> dict[str, Any]:
    return opt(requestedMessage=_TRIGGER_16.get(c.message, c.message), connectorId=c.evse_id)


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
            periods=periods_of(s.get("chargingSchedulePeriod") or []),
            duration=s.get("duration"),
            start_schedule=parse_time(s.get("startSchedule")),
            min_charging_rate=decimal_of(s["minChargingRate"]) if "minChargingRate" in s else None,
        )
    data = CompositeSchedule(p.get("connectorId"), parse_time(p.get("scheduleStart")), schedule)
    return Parsed(parsed.status, parsed.station_status, data, parsed.message)


def local_list_16(c: SendLocalList) -> dict[str, Any]:
    entries = []
    for e in c.entries:
        entry: dict[str, Any] = {"idTag": e.id_tag}
        if e.status is not None:
            entry["idTagInfo"] = opt(
                status=e.status,
                expiryDate=ocpp_time(e.expiry) if e.expiry else None,
                parentIdTag=e.parent_id_tag or None,
            )
        entries.append(entry)
    return {
        "listVersion": c.version,
        "updateType": "Full" if c.full else "Differential",
        "localAuthorizationList": entries,
    }


_USE_16 = {
    CertificateUse.CSMS_ROOT: "CentralSystemRootCertificate",
    CertificateUse.MANUFACTURER_ROOT: "ManufacturerRootCertificate",
}


def _parse_installed_16(p: dict[str, Any]) -> Parsed:
    return installed(p, [hash_of(h) for h in p.get("certificateHashData") or []])


def _get_installed_16(c: GetInstalledCertificateIds) -> dict[str, Any]:
    if len(c.uses) != 1:
        raise Invalid("$.certificateType: OCPP 1.6 asks for exactly one certificate type")
    return {"certificateType": certificate_word(_USE_16, c.uses[0], "1.6")}


V16: dict[CommandKind, Mapping] = {
    CommandKind.REMOTE_START: Mapping(
        "RemoteStartTransaction",
        lambda c: opt(
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
        parse_change_configuration,
    ),
    CommandKind.TRIGGER_MESSAGE: Mapping("TriggerMessage", _trigger_16, route=_trigger_action_16),
    CommandKind.CLEAR_CACHE: Mapping("ClearCache", lambda c: {}),
    CommandKind.SEND_LOCAL_LIST: Mapping("SendLocalList", local_list_16),
    CommandKind.SET_CHARGING_PROFILE: Mapping(
        "SetChargingProfile",
        lambda c: {"connectorId": c.evse_id, "csChargingProfiles": _profile_16(c.profile)},
    ),
    CommandKind.CLEAR_CHARGING_PROFILE: Mapping(
        "ClearChargingProfile",
        lambda c: opt(
            id=c.profile_id,
            connectorId=c.evse_id,
            chargingProfilePurpose=PURPOSE_16[c.purpose] if c.purpose else None,
            stackLevel=c.stack_level,
        ),
    ),
    CommandKind.GET_COMPOSITE_SCHEDULE: Mapping(
        "GetCompositeSchedule",
        lambda c: opt(
            connectorId=c.evse_id,
            duration=c.duration,
            chargingRateUnit=c.unit.value if c.unit else None,
        ),
        _composite_16,
    ),
    CommandKind.UPDATE_FIRMWARE: Mapping(
        "UpdateFirmware",
        lambda c: opt(
            location=c.location,
            retrieveDate=ocpp_time(c.retrieve_at),
            retries=c.retries,
            retryInterval=c.retry_interval,
        ),
        accepted,
    ),
    CommandKind.GET_DIAGNOSTICS: Mapping(
        "GetDiagnostics",
        lambda c: opt(
            location=c.location,
            retries=c.retries,
            retryInterval=c.retry_interval,
            startTime=ocpp_time(c.start) if c.start else None,
            stopTime=ocpp_time(c.stop) if c.stop else None,
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
        lambda c: opt(
            connectorId=c.evse_id or 0,
            expiryDate=ocpp_time(c.expiry),
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
        lambda c: {
            "certificateType": certificate_word(_USE_16, c.use, "1.6"),
            "certificate": c.certificate,
        },
    ),
    CommandKind.GET_INSTALLED_CERTIFICATE_IDS: Mapping(
        "GetInstalledCertificateIds", _get_installed_16, _parse_installed_16
    ),
    CommandKind.DELETE_CERTIFICATE: Mapping(
        "DeleteCertificate",
        lambda c: {"certificateHashData": hash_json(c.certificate)},
        parse_delete,
    ),
    CommandKind.GET_LOCAL_LIST_VERSION: Mapping(
        "GetLocalListVersion", lambda c: {}, list_version("listVersion")
    ),
    CommandKind.DATA_TRANSFER: Mapping("DataTransfer", data_transfer, parse_data_transfer),
}
