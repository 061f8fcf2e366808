"""OCPP 2.0.1: the neutral commands as 2.0.1 CALLs and the station's answers read back."""

from __future__ import annotations

from typing import Any

from apps.locations.contracts import (
    CertificateUse,
    ChangeConfiguration,
    ChargingProfile,
    ChargingSchedule,
    CommandKind,
    CommandStatus,
    CompositeSchedule,
    ConfigurationKey,
    ConfigurationReport,
    ConfigurationValue,
    GetChargingProfiles,
    GetConfiguration,
    LogUpload,
    ProfilePurpose,
    RateUnit,
    RemoteStart,
    RemoteStarted,
    SendLocalList,
)
from csms_gateway.commands.common import (
    Invalid,
    Mapping,
    Parsed,
    by_status,
    certificate_word,
    data_transfer,
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
    status_info,
)
from csms_gateway.handlers import ocpp_time

PURPOSE_201 = {
    ProfilePurpose.STATION_MAX: "ChargingStationMaxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.TX: "TxProfile",
}
_TRIGGER_201 = {
    "DiagnosticsStatusNotification": "LogStatusNotification",
    "SignChargePointCertificate": "SignChargingStationCertificate",
}


_USE_201 = {
    CertificateUse.CSMS_ROOT: "CSMSRootCertificate",
    CertificateUse.MANUFACTURER_ROOT: "ManufacturerRootCertificate",
    CertificateUse.V2G_ROOT: "V2GRootCertificate",
    CertificateUse.MO_ROOT: "MORootCertificate",
    CertificateUse.V2G_CHAIN: "V2GCertificateChain",
}
_USE_FROM_WORD = {word: use for use, word in _USE_201.items()}


def _parse_installed_201(p: dict[str, Any]) -> Parsed:
    hashes = []
    for chain in p.get("certificateHashDataChain") or []:
        use = str(chain.get("certificateType", ""))
        hashes.append(hash_of(chain["certificateHashData"], _USE_FROM_WORD.get(use)))
        hashes.extend(
            hash_of(c, _USE_FROM_WORD.get(use)) for c in chain.get("childCertificateHashData") or []
        )
    return installed(p, hashes)


def _id_token(value: str, token_type: str) -> dict[str, Any]:
    return {"idToken": value, "type": token_type}


def _schedule_201(s: ChargingSchedule) -> dict[str, Any]:
    return opt(
        id=s.id,
        startSchedule=ocpp_time(s.start_schedule) if s.start_schedule else None,
        duration=s.duration,
        chargingRateUnit=s.unit.value,
        chargingSchedulePeriod=[period_json(p) for p in s.periods],
        minChargingRate=number(s.min_charging_rate) if s.min_charging_rate is not None else None,
    )


def _profile_201(p: ChargingProfile) -> dict[str, Any]:
    return opt(
        id=p.id,
        stackLevel=p.stack_level,
        chargingProfilePurpose=PURPOSE_201[p.purpose],
        chargingProfileKind=p.kind.value,
        recurrencyKind=p.recurrency,
        validFrom=ocpp_time(p.valid_from) if p.valid_from else None,
        validTo=ocpp_time(p.valid_to) if p.valid_to else None,
        transactionId=p.transaction_id,
        chargingSchedule=[_schedule_201(p.schedule)],
    )


def _component(k: ConfigurationKey) -> dict[str, Any]:
    if not k.component:
        raise Invalid(f"$.key.component: OCPP 2.0.1 variables belong to a component ({k.name})")
    return opt(
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
    return parse_change_configuration(
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
    return opt(id=evse_id, connectorId=connector_id)


def _local_list_201(c: SendLocalList) -> dict[str, Any]:
    entries = []
    for e in c.entries:
        entry: dict[str, Any] = {"idToken": _id_token(e.id_tag, e.token_type)}
        if e.status is not None:
            entry["idTokenInfo"] = opt(
                status=e.status,
                cacheExpiryDateTime=ocpp_time(e.expiry) if e.expiry else None,
                groupIdToken=_id_token(e.parent_id_tag, "Central") if e.parent_id_tag else None,
            )
        entries.append(entry)
    return opt(
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
            periods=periods_of(s.get("chargingSchedulePeriod") or []),
            duration=s.get("duration"),
            start_schedule=parse_time(s.get("scheduleStart")),
        )
        data = CompositeSchedule(s.get("evseId"), parse_time(s.get("scheduleStart")), schedule)
    return Parsed(parsed.status, parsed.station_status, data, parsed.message)


def _remote_start_201(c: RemoteStart) -> dict[str, Any]:
    if c.remote_start_id is None:
        raise Invalid("$.remoteStartId: required by OCPP 2.0.1")
    return opt(
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
    return opt(
        requestId=_request_id(c.request_id, "GetChargingProfiles"),
        evseId=c.evse_id,
        chargingProfile=opt(
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
        "Reset", lambda c: opt(type="Immediate" if c.hard else "OnIdle", evseId=c.evse_id)
    ),
    CommandKind.UNLOCK_CONNECTOR: Mapping(
        "UnlockConnector", lambda c: {"evseId": c.evse_id, "connectorId": c.connector_id}
    ),
    CommandKind.CHANGE_AVAILABILITY: Mapping(
        "ChangeAvailability",
        lambda c: opt(
            operationalStatus="Operative" if c.operative else "Inoperative",
            evse=_evse(c.evse_id, c.connector_id),
        ),
    ),
    CommandKind.GET_CONFIGURATION: Mapping("GetVariables", _get_variables, _parse_get_variables),
    CommandKind.CHANGE_CONFIGURATION: Mapping("SetVariables", _set_variables, _parse_set_variables),
    CommandKind.TRIGGER_MESSAGE: Mapping(
        "TriggerMessage",
        lambda c: opt(
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
        lambda c: opt(
            chargingProfileId=c.profile_id,
            chargingProfileCriteria=opt(
                evseId=c.evse_id,
                chargingProfilePurpose=PURPOSE_201[c.purpose] if c.purpose else None,
                stackLevel=c.stack_level,
            )
            or None,
        ),
    ),
    CommandKind.GET_COMPOSITE_SCHEDULE: Mapping(
        "GetCompositeSchedule",
        lambda c: opt(
            duration=c.duration,
            chargingRateUnit=c.unit.value if c.unit else None,
            evseId=c.evse_id,
        ),
        _composite_201,
    ),
    CommandKind.UPDATE_FIRMWARE: Mapping(
        "UpdateFirmware",
        lambda c: opt(
            retries=c.retries,
            retryInterval=c.retry_interval,
            requestId=_request_id(c.request_id, "UpdateFirmware"),
            firmware=opt(
                location=c.location,
                retrieveDateTime=ocpp_time(c.retrieve_at),
                installDateTime=ocpp_time(c.install_at) if c.install_at else None,
                signingCertificate=c.signing_certificate or None,
                signature=c.signature or None,
            ),
        ),
    ),
    CommandKind.GET_DIAGNOSTICS: Mapping(
        "GetLog",
        lambda c: opt(
            log=opt(
                remoteLocation=c.location,
                oldestTimestamp=ocpp_time(c.start) if c.start else None,
                latestTimestamp=ocpp_time(c.stop) if c.stop else None,
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
            status_info(p),
        ),
    ),
    CommandKind.RESERVE_NOW: Mapping(
        "ReserveNow",
        lambda c: opt(
            id=c.reservation_id,
            expiryDateTime=ocpp_time(c.expiry),
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
        lambda c: opt(
            certificateChain=c.certificate_chain, certificateType=c.certificate_type or None
        ),
    ),
    CommandKind.INSTALL_CERTIFICATE: Mapping(
        "InstallCertificate",
        lambda c: {
            "certificateType": certificate_word(_USE_201, c.use, "2.0.1"),
            "certificate": c.certificate,
        },
    ),
    CommandKind.GET_INSTALLED_CERTIFICATE_IDS: Mapping(
        "GetInstalledCertificateIds",
        lambda c: opt(
            certificateType=[certificate_word(_USE_201, u, "2.0.1") for u in c.uses] or None
        ),
        _parse_installed_201,
    ),
    CommandKind.DELETE_CERTIFICATE: Mapping(
        "DeleteCertificate",
        lambda c: {"certificateHashData": hash_json(c.certificate)},
        parse_delete,
    ),
    CommandKind.GET_LOCAL_LIST_VERSION: Mapping(
        "GetLocalListVersion", lambda c: {}, list_version("versionNumber")
    ),
    CommandKind.DATA_TRANSFER: Mapping("DataTransfer", data_transfer, parse_data_transfer),
    CommandKind.GET_BASE_REPORT: Mapping(
        "GetBaseReport",
        lambda c: {
            "requestId": _request_id(c.request_id, "GetBaseReport"),
            "reportBase": c.report_base.value,
        },
    ),
    CommandKind.GET_CHARGING_PROFILES: Mapping("GetChargingProfiles", _get_charging_profiles),
}
