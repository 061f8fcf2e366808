"""What a simulated station keeps to answer the CSMS's commands (`StationState`, the
`CallLog`), and `StationBase`: the attributes and methods the station's parts (the link, the
command answers, `Station`) share, declared once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from csms_gateway import ocppj
from csms_gateway.simulator.config import SimConfig, Stats


@dataclass
class CallLog:
    """What the station received from the CSMS and when (tests read it)."""

    action: str
    message_id: str
    payload: dict[str, Any]
    received: float  # time.monotonic()
    answered: float | None = None
    answer: dict[str, Any] | None = None


@dataclass
class StationState:
    config: dict[str, tuple[str, bool]] = field(default_factory=dict)  # key -> (value, readonly)
    variables: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)
    profiles: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # id -> evse
    reservations: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> evse, tag
    local_list_version: int = 0
    local_list: dict[str, str] = field(default_factory=dict)
    operative: dict[int, bool] = field(default_factory=dict)
    firmware_version: str = "sim-1.0"
    boot_reason: str = "PowerUp"
    # Installed root certificates: (OCPP certificate type word, PEM), in installation order.
    certificates: list[tuple[str, str]] = field(default_factory=list)
    # The station's own certificate: the key of its newest CSR, the chain it was sent back.
    csr_key: Any = None
    certificate_chain: str = ""
    organization: str = "Simulated CSO"  # the O of a CSR made on a trigger


def default_config() -> dict[str, tuple[str, bool]]:
    return {
        "HeartbeatInterval": ("300", False),
        "MeterValueSampleInterval": ("900", False),
        "ConnectionTimeOut": ("60", False),
        "LocalAuthListEnabled": ("true", False),
        "NumberOfConnectors": ("1", True),
        "SupportedFeatureProfiles": (
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,"
            "RemoteTrigger",
            True,
        ),
        "ChargeProfileMaxStackLevel": ("8", True),
    }


def default_variables() -> dict[tuple[str, str], tuple[str, bool]]:
    return {
        ("OCPPCommCtrlr", "HeartbeatInterval"): ("300", False),
        ("SampledDataCtrlr", "TxUpdatedInterval"): ("900", False),
        ("LocalAuthListCtrlr", "Enabled"): ("true", False),
        ("SmartChargingCtrlr", "Enabled"): ("true", True),
        ("ChargingStation", "Model"): ("SimAC22", True),
        ("SecurityCtrlr", "SecurityProfile"): ("1", True),
    }


def number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def plain(value: Any) -> Any:
    """A payload as received (numbers parsed as Decimal) made ready to send again."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return number(value) if isinstance(value, Decimal) else value


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class StationBase:
    """Declared here, provided by `Station` (attributes) and its parts (methods)."""

    identity: str
    version: str
    cfg: SimConfig
    stats: Stats
    register_wh: int
    heartbeat_interval: float
    active_txid: str | None
    state: StationState
    call_log: list[CallLog]
    _followups: set[asyncio.Task[None]]

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def status(self, connector: int, status: str) -> None:
        raise NotImplementedError

    def sample(self, energy_wh: int, power_w: int, context: str) -> dict[str, Any]:
        raise NotImplementedError

    def boot_payload(self) -> dict[str, Any]:
        raise NotImplementedError

    async def reboot(self, reason: str) -> None:
        raise NotImplementedError

    async def start_remote_session(self, id_tag: str, remote_start_id: int | None) -> None:
        raise NotImplementedError

    def request_remote_stop(self, txid: str) -> None:
        raise NotImplementedError

    async def on_csms_call(self, ws: Any, frame: ocppj.Call) -> None:
        raise NotImplementedError

    def _v16(self) -> bool:
        return self.version != "2.0.1"
