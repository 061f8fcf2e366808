"""What the OCPP versions' command tables share: the neutral status of a station's word, the
`Mapping` row (action, builder, parser), JSON helpers, and the builders and parsers that are
the same in 1.6 and 2.0.1 (configuration answers, certificate hashes, local list version,
DataTransfer)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.locations.contracts import (
    CertificateHashData,
    CertificateUse,
    CommandAnswer,
    CommandStatus,
    ConfigurationChanged,
    DataTransfer,
    InstalledCertificates,
    LocalListVersion,
    SchedulePeriod,
    VendorData,
)


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


def status_info(p: dict[str, Any]) -> str:
    info = p.get("statusInfo") or {}
    return " ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if info.get(k))


def by_status(p: dict[str, Any]) -> Parsed:
    word = str(p.get("status", ""))
    return Parsed(STATUS_WORDS.get(word, CommandStatus.REJECTED), word, None, status_info(p))


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


def number(value: Decimal) -> int | float:
    """A JSON number for a limit: exact for integers and one-decimal values (OCPP 1.6 limits
    are multiples of 0.1); the payload is validated against the schema after this."""
    return int(value) if value == value.to_integral_value() else float(value)


def decimal_of(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def opt(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def periods_of(raw: list[dict[str, Any]]) -> tuple[SchedulePeriod, ...]:
    return tuple(
        SchedulePeriod(
            start_period=int(p["startPeriod"]),
            limit=decimal_of(p["limit"]),
            number_phases=p.get("numberPhases"),
        )
        for p in raw
    )


def period_json(p: SchedulePeriod) -> dict[str, Any]:
    return opt(startPeriod=p.start_period, limit=number(p.limit), numberPhases=p.number_phases)


def plain(value: Any) -> Any:
    """JSON-ready copy of a parsed payload (numbers parsed as Decimal become int / float)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return number(value)
    return value


def parse_change_configuration(p: dict[str, Any]) -> Parsed:
    parsed = by_status(p)
    if parsed.status is CommandStatus.ACCEPTED:
        data = ConfigurationChanged(reboot_required=parsed.station_status == "RebootRequired")
        return Parsed(parsed.status, parsed.station_status, data, parsed.message)
    return parsed


# --- certificates (1.6 security extension, 2.0.1) --------------------------------------------


def certificate_word(table: dict[CertificateUse, str], use: CertificateUse, version: str) -> str:
    word = table.get(use)
    if word is None:
        raise Invalid(f"$.certificateType: OCPP {version} has no {use} certificates")
    return word


def hash_json(h: CertificateHashData) -> dict[str, Any]:
    return {
        "hashAlgorithm": h.hash_algorithm,
        "issuerNameHash": h.issuer_name_hash,
        "issuerKeyHash": h.issuer_key_hash,
        "serialNumber": h.serial_number,
    }


def hash_of(raw: dict[str, Any], use: CertificateUse | None = None) -> CertificateHashData:
    return CertificateHashData(
        hash_algorithm=str(raw["hashAlgorithm"]),
        issuer_name_hash=str(raw["issuerNameHash"]),
        issuer_key_hash=str(raw["issuerKeyHash"]),
        serial_number=str(raw["serialNumber"]),
        use=use,
    )


def installed(p: dict[str, Any], hashes: list[CertificateHashData]) -> Parsed:
    """NotFound (no certificate of the type) is an answer, not a refusal: an empty list."""
    word = str(p.get("status", ""))
    status = CommandStatus.ACCEPTED if word in ("Accepted", "NotFound") else by_status(p).status
    return Parsed(status, word, InstalledCertificates(tuple(hashes)), status_info(p))


def list_version(field: str) -> Callable[[dict[str, Any]], Parsed]:
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


def data_transfer(c: DataTransfer) -> dict[str, Any]:
    return opt(vendorId=c.vendor_id, messageId=c.message_id or None, data=c.data)


def parse_data_transfer(p: dict[str, Any]) -> Parsed:
    """The status, and the data the station sent back (2.0.1 may send any JSON: kept as JSON
    text, numbers as parsed)."""
    parsed = by_status(p)
    data = p.get("data")
    if data is not None and not isinstance(data, str):
        data = json.dumps(plain(data), separators=(",", ":"), sort_keys=True)
    return Parsed(parsed.status, parsed.station_status, VendorData(data), parsed.message)


def parse_delete(p: dict[str, Any]) -> Parsed:
    parsed = by_status(p)
    if parsed.station_status == "NotFound":  # no such certificate on the station
        return Parsed(CommandStatus.REJECTED, "NotFound", None, parsed.message)
    return parsed
