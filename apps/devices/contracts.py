"""What charge stations report about themselves (OCPP device management), as the gateway
hands it over and as the portal and API read it. Free of Django."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class StationEventKind(enum.StrEnum):
    """What a station event is about; one per family of OCPP messages."""

    FIRMWARE = "FIRMWARE"  # (Signed|Publish)FirmwareStatusNotification
    DIAGNOSTICS = "DIAGNOSTICS"  # 1.5 / 1.6 DiagnosticsStatusNotification
    LOG = "LOG"  # LogStatusNotification (1.6 security extension, 2.0.1)
    SECURITY = "SECURITY"  # SecurityEventNotification
    CERTIFICATE = "CERTIFICATE"  # SignCertificate (the CSR itself: CertificateRequest)
    DATA_TRANSFER = "DATA_TRANSFER"  # DataTransfer from the station
    EVENT = "EVENT"  # 2.0.1 NotifyEvent, one row per eventData
    REPORT = "REPORT"  # 2.0.1 NotifyReport part (the variables: DeviceVariable)
    MONITORING = "MONITORING"  # 2.0.1 NotifyMonitoringReport
    CHARGING_LIMIT = "CHARGING_LIMIT"  # 2.0.1 NotifyChargingLimit, ClearedChargingLimit
    CHARGING_PROFILES = "CHARGING_PROFILES"  # 2.0.1 ReportChargingProfiles
    EV_CHARGING = "EV_CHARGING"  # 2.0.1 NotifyEVChargingNeeds, NotifyEVChargingSchedule
    CUSTOMER_INFORMATION = "CUSTOMER_INFORMATION"  # 2.0.1 NotifyCustomerInformation
    RESERVATION = "RESERVATION"  # 2.0.1 ReservationStatusUpdate
    DISPLAY_MESSAGES = "DISPLAY_MESSAGES"  # 2.0.1 NotifyDisplayMessages


class CertificateRequestStatus(enum.StrEnum):
    PENDING = "PENDING"  # stored; waits for a CA (none configured) or an operator
    SIGNED = "SIGNED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class StationEventIn:
    """One message (or one item of a message) a station sent, normalised.

    `status` is the word an operator filters on (a firmware status, a security event type,
    a trigger); `details` the message's fields in plain JSON (numbers as strings);
    `frame` the OCPP-J frame verbatim."""

    tenant_id: int
    station_id: int
    kind: StationEventKind
    action: str
    protocol: str
    received_at: datetime
    status: str = ""
    request_id: int | None = None
    evse_ocpp_id: int | None = None
    station_timestamp: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    frame: str = ""


@dataclass(frozen=True, slots=True)
class DeviceVariableIn:
    """One attribute of one variable of one component of a station's device model (2.0.1
    NotifyReport reportData / NotifyEvent). 0 for `evse_id` / `connector_id`: not given."""

    component: str
    variable: str
    component_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    variable_instance: str = ""
    attribute_type: str = "Actual"
    value: str | None = None
    mutability: str = ""
    persistent: bool | None = None
    constant: bool | None = None
    characteristics: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StationEventRecord:
    id: int
    station_id: int
    kind: StationEventKind
    action: str
    protocol: str
    status: str
    request_id: int | None
    evse_ocpp_id: int | None
    station_timestamp: datetime | None
    received_at: datetime
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceStateRecord:
    """The latest of what a station reported about firmware, diagnostics, logs, security."""

    station_id: int
    firmware_status: str
    firmware_request_id: int | None
    firmware_status_at: datetime | None
    diagnostics_status: str
    diagnostics_status_at: datetime | None
    log_status: str
    log_request_id: int | None
    log_status_at: datetime | None
    security_event: str
    security_event_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceVariableRecord:
    component: str
    component_instance: str
    evse_id: int
    connector_id: int
    variable: str
    variable_instance: str
    attribute_type: str
    value: str | None
    mutability: str
    persistent: bool | None
    constant: bool | None
    characteristics: dict[str, Any] | None
    reported_at: datetime


@dataclass(frozen=True, slots=True)
class CertificateRequestRecord:
    id: int
    station_id: int
    protocol: str
    certificate_type: str
    csr: str
    status: CertificateRequestStatus
    received_at: datetime
    certificate: str = ""  # SIGNED: the chain sent to the station (PEM)
    reason: str = ""  # REJECTED: why
    decided_at: datetime | None = None
    command_id: int | None = None  # the CertificateSigned command (command log)
    delivery_status: str = ""  # its outcome (CommandStatus), empty until sent
