"""How a simulated station answers the CSMS's commands (the calls CSMS → station), OCPP 1.5, 1.6
and 2.0.1, with station state behind the answers: configuration keys / variables (and the
2.0.1 base report in NotifyReport parts), charging profiles, the composite schedule they give
and the 2.0.1 profile report, reservations, the local list and its version, a DataTransfer
vendor extension, availability, remote start / stop of a session, firmware updates and log
uploads with their status notifications, and a reboot after Reset or a firmware install.

A mixin of `simulator.Station` (it uses the station's connection, clock and session); like
the simulator it speaks only OCPP over the network (import-linter `simulator-network-only`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from csms_gateway import ocppj

VOLTAGE = 230
SIM_VENDOR = "org.example.sim"  # the vendor id of the simulator's DataTransfer extension
REPORT_PART = 4  # variables per NotifyReport part (a full report comes in several parts)


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


def _num(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _plain(value: Any) -> Any:
    """A payload as received (numbers parsed as Decimal) made ready to send again."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return _num(value) if isinstance(value, Decimal) else value


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _steps(schedule: dict[str, Any], offset: int, duration: int) -> list[tuple[int, Decimal]]:
    """A schedule as (start, limit) steps over [0, duration), `offset` seconds into it."""
    periods = sorted(schedule.get("chargingSchedulePeriod") or [], key=lambda p: p["startPeriod"])
    end = schedule.get("duration")
    steps: list[tuple[int, Decimal]] = []
    for i, p in enumerate(periods):
        start = int(p["startPeriod"]) - offset
        nxt = int(periods[i + 1]["startPeriod"]) - offset if i + 1 < len(periods) else None
        if nxt is not None and nxt <= 0:
            continue
        steps.append((max(0, start), Decimal(str(p["limit"]))))
    if end is not None:
        steps = [(s, v) for s, v in steps if s < end - offset]
    return [(s, v) for s, v in steps if s < duration]


def _limit_at(steps: list[tuple[int, Decimal]], t: int) -> Decimal | None:
    value = None
    for start, limit in steps:
        if start <= t:
            value = limit
    return value


def composite(layers: list[list[tuple[int, Decimal]]], duration: int) -> list[tuple[int, Decimal]]:
    """The lowest limit of all layers at each moment, as steps (equal neighbours merged)."""
    points = sorted({0, *(s for layer in layers for s, _ in layer if s < duration)})
    out: list[tuple[int, Decimal]] = []
    for t in points:
        values = [v for layer in layers if (v := _limit_at(layer, t)) is not None]
        if not values:
            continue
        value = min(values)
        if not out or out[-1][1] != value:
            out.append((t, value))
    return out


class CommandResponder:
    """Station behaviour for CSMS → station CALLs; `simulator.Station` provides what is
    declared (not defined) here."""

    identity: str
    version: str
    cfg: Any  # SimConfig: answer_delay, silent, firmware_step
    stats: Any
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

    def init_responder(self) -> None:
        self.state = StationState(config=default_config(), variables=default_variables())
        self.state.operative = {0: True, 1: True}
        self.call_log = []
        self._followups = set()

    # --- dispatch ----------------------------------------------------------------------------

    async def on_csms_call(self, ws: Any, frame: ocppj.Call) -> None:
        cfg = self.cfg
        entry = CallLog(frame.action, frame.message_id, frame.payload, time.monotonic())
        self.call_log.append(entry)
        self.stats.calls_answered_by_station += 1
        if frame.action in cfg.silent:
            return  # a station that never answers this (the CSMS times out)
        if cfg.answer_delay:
            await asyncio.sleep(cfg.answer_delay)
        handler = getattr(self, "_on_" + frame.action, None)
        followup = None
        if handler is None:
            error = ocppj.OcppError(
                ocppj.ErrorCode.NOT_IMPLEMENTED, f"{frame.action} is not implemented"
            )
            text = ocppj.dump_error(frame.message_id, error, self.version)
        else:
            answer = handler(frame.payload)
            if isinstance(answer, tuple):
                answer, followup = answer
            entry.answer = answer
            text = ocppj.dump_result(frame.message_id, answer)
        entry.answered = time.monotonic()
        try:
            await ws.send(text)
        except Exception:  # noqa: BLE001 - the connection dropped: the CSMS sees no answer
            return
        if followup is not None:
            task = asyncio.get_running_loop().create_task(followup)
            self._followups.add(task)
            task.add_done_callback(self._followups.discard)

    def _v16(self) -> bool:
        return self.version != "2.0.1"

    # --- Core / provisioning -----------------------------------------------------------------

    def _on_Reset(self, p: dict[str, Any]) -> Any:
        reason = "RemoteReset"
        return {"status": "Accepted"}, self.reboot(reason)

    def _on_ChangeAvailability(self, p: dict[str, Any]) -> Any:
        if self._v16():
            evse, operative = int(p["connectorId"]), p["type"] == "Operative"
        else:
            evse, operative = (
                (p.get("evse") or {}).get("id", 0),
                p["operationalStatus"] == ("Operative"),
            )
        if evse not in self.state.operative:
            return {"status": "Rejected"}
        busy = self.active_txid is not None and evse in (0, 1) and not operative
        for e in self.state.operative if evse == 0 else [evse]:  # 0: the whole station
            self.state.operative[e] = operative
        if busy:
            return {"status": "Scheduled"}
        status = "Available" if operative else "Unavailable"
        targets = [1] if evse in (0, 1) else []

        async def report() -> None:
            for e in targets:
                await self.status(e, status)

        return {"status": "Accepted"}, report()

    def _on_UnlockConnector(self, p: dict[str, Any]) -> Any:
        evse = int(p["connectorId"] if self._v16() else p["evseId"])
        if self.version == "1.5":  # 1.5 answers Accepted / Rejected
            return {"status": "Accepted" if evse == 1 else "Rejected"}
        if evse != 1:
            return {"status": "NotSupported" if self._v16() else "UnknownConnector"}
        if self.active_txid is not None and not self._v16():
            return {"status": "OngoingAuthorizedTransaction"}
        return {"status": "Unlocked"}

    def _on_GetConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:
        keys = p.get("key") or sorted(self.state.config)
        known = [
            {"key": k, "readonly": self.state.config[k][1], "value": self.state.config[k][0]}
            for k in keys
            if k in self.state.config
        ]
        unknown = [k for k in keys if k not in self.state.config]
        return {"configurationKey": known, **({"unknownKey": unknown} if unknown else {})}

    def _on_ChangeConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:
        key, value = p["key"], p["value"]
        if key not in self.state.config:
            return {"status": "NotSupported"}
        if self.state.config[key][1]:
            return {"status": "Rejected"}
        self.state.config[key] = (value, False)
        if key == "HeartbeatInterval" and value.isdigit():
            self.heartbeat_interval = float(max(int(value), 1))
        return {"status": "Accepted"}

    def _on_GetVariables(self, p: dict[str, Any]) -> dict[str, Any]:
        results = []
        components = {c for c, _ in self.state.variables}
        for item in p["getVariableData"]:
            component, variable = item["component"], item["variable"]
            key = (component["name"], variable["name"])
            result: dict[str, Any] = {"component": component, "variable": variable}
            if key in self.state.variables:
                result.update(
                    attributeStatus="Accepted", attributeValue=self.state.variables[key][0]
                )
            elif key[0] in components:
                result["attributeStatus"] = "UnknownVariable"
            else:
                result["attributeStatus"] = "UnknownComponent"
            results.append(result)
        return {"getVariableResult": results}

    def _on_SetVariables(self, p: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in p["setVariableData"]:
            component, variable = item["component"], item["variable"]
            key = (component["name"], variable["name"])
            result: dict[str, Any] = {"component": component, "variable": variable}
            if key not in self.state.variables:
                components = {c for c, _ in self.state.variables}
                result["attributeStatus"] = (
                    "UnknownVariable" if key[0] in components else "UnknownComponent"
                )
            elif self.state.variables[key][1]:
                result["attributeStatus"] = "Rejected"
            else:
                self.state.variables[key] = (item["attributeValue"], False)
                result["attributeStatus"] = "Accepted"
            results.append(result)
        return {"setVariableResult": results}

    def _on_TriggerMessage(self, p: dict[str, Any]) -> Any:
        message = p["requestedMessage"]
        idle = self.active_txid is None
        connector_status = "Available" if idle else ("Charging" if self._v16() else "Occupied")
        sends: dict[str, Any] = {
            "BootNotification": lambda: self.call("BootNotification", self.boot_payload()),
            "Heartbeat": lambda: self.call("Heartbeat", {}),
            "StatusNotification": lambda: self.status(1, connector_status),
            "MeterValues": lambda: self.call("MeterValues", self.meter_values_payload()),
            "FirmwareStatusNotification": lambda: self.call(
                "FirmwareStatusNotification", {"status": "Idle"}
            ),
            "DiagnosticsStatusNotification": lambda: self.call(
                "DiagnosticsStatusNotification", {"status": "Idle"}
            ),
            "LogStatusNotification": lambda: self.call("LogStatusNotification", {"status": "Idle"}),
            # A certificate renewal: a new key and CSR (1.6 ExtendedTriggerMessage's name, 2.0.1's).
            "SignChargePointCertificate": lambda: self.call(
                "SignCertificate", self.certificate_request(self.state.organization)
            ),
            "SignChargingStationCertificate": lambda: self.call(
                "SignCertificate", self.certificate_request(self.state.organization)
            ),
        }
        if message not in sends:
            return {"status": "NotImplemented"}

        async def send() -> None:
            await asyncio.sleep(0)
            try:
                await sends[message]()
            except Exception as exc:  # noqa: BLE001
                self.stats.error(f"{self.identity}: triggered {message}: {exc!r}")

        return {"status": "Accepted"}, send()

    def _on_ExtendedTriggerMessage(self, p: dict[str, Any]) -> Any:
        """1.6 security extension: TriggerMessage plus LogStatusNotification and
        SignChargePointCertificate."""
        return self._on_TriggerMessage(p)

    def meter_values_payload(self) -> dict[str, Any]:
        wh = self.register_wh
        sample = self.sample(wh, 0, "Trigger")
        if self._v16():
            return {"connectorId": 1, "meterValue": [sample]}
        return {"evseId": 1, "meterValue": [sample]}

    def _on_ClearCache(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Accepted"}

    # --- local list ------------------------------------------------------------------------

    def _on_SendLocalList(self, p: dict[str, Any]) -> dict[str, Any]:
        version = int(p["listVersion"] if self._v16() else p["versionNumber"])
        full = p["updateType"] == "Full"
        if not full and version <= self.state.local_list_version:
            return {"status": "VersionMismatch"}
        entries = {}
        # 1.5 spells it localAuthorisationList.
        listed = p.get(
            "localAuthorisationList" if self.version == "1.5" else "localAuthorizationList"
        )
        for e in listed or []:
            tag = e["idTag"] if self._v16() else e["idToken"]["idToken"]
            info = e.get("idTagInfo") if self._v16() else e.get("idTokenInfo")
            entries[tag] = info["status"] if info else None
        if full:
            self.state.local_list = {k: v for k, v in entries.items() if v is not None}
        else:
            for tag, status in entries.items():
                if status is None:
                    self.state.local_list.pop(tag, None)
                else:
                    self.state.local_list[tag] = status
        self.state.local_list_version = version
        return {"status": "Accepted"}

    def _on_GetLocalListVersion(self, p: dict[str, Any]) -> dict[str, Any]:
        field = "listVersion" if self._v16() else "versionNumber"
        return {field: self.state.local_list_version}

    # --- vendor extension: DataTransfer from the CSMS ----------------------------------------

    def _on_DataTransfer(self, p: dict[str, Any]) -> dict[str, Any]:
        """Vendor `org.example.sim`: `Echo` sends the data back (a 2.0.1 station as a JSON
        object, which 2.0.1 allows), `Register` the meter register in Wh; any other message
        id UnknownMessageId; any other vendor UnknownVendorId."""
        if p["vendorId"] != SIM_VENDOR:
            return {"status": "UnknownVendorId"}
        message, data = p.get("messageId"), p.get("data")
        if message == "Echo":
            return {"status": "Accepted", "data": data if self._v16() else {"echo": data}}
        if message == "Register":
            return {"status": "Accepted", "data": str(self.register_wh)}
        return {"status": "UnknownMessageId"}

    # --- device model report (2.0.1) -----------------------------------------------------------

    def _on_GetBaseReport(self, p: dict[str, Any]) -> Any:
        """FullInventory: every variable; ConfigurationInventory: the writable ones; both in
        NotifyReport parts of at most REPORT_PART variables. SummaryInventory is not
        implemented by this station (NotSupported)."""
        base = p["reportBase"]
        if base == "SummaryInventory":
            return {"status": "NotSupported"}
        items = sorted(self.state.variables.items())
        if base == "ConfigurationInventory":
            items = [(k, v) for k, v in items if not v[1]]
        if not items:
            return {"status": "EmptyResultSet"}
        return {"status": "Accepted"}, self._report_flow(p["requestId"], items)

    async def _report_flow(
        self, request_id: int, items: list[tuple[tuple[str, str], tuple[str, bool]]]
    ) -> None:
        parts = [items[i : i + REPORT_PART] for i in range(0, len(items), REPORT_PART)]
        generated = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        for seq, part in enumerate(parts):
            data = [
                {
                    "component": {"name": component},
                    "variable": {"name": variable},
                    "variableAttribute": [
                        {
                            "type": "Actual",
                            "value": value,
                            "mutability": "ReadOnly" if readonly else "ReadWrite",
                        }
                    ],
                    "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
                }
                for (component, variable), (value, readonly) in part
            ]
            payload = {
                "requestId": request_id,
                "generatedAt": generated,
                "seqNo": seq,
                "tbc": seq < len(parts) - 1,
                "reportData": data,
            }
            try:
                await self.call("NotifyReport", payload)
            except Exception as exc:  # noqa: BLE001
                self.stats.error(f"{self.identity}: NotifyReport: {exc!r}")
                return

    # --- smart charging --------------------------------------------------------------------

    def _profile_fields(self, profile: dict[str, Any]) -> tuple[int, str, int, dict[str, Any]]:
        if self._v16():
            return (
                profile["chargingProfileId"],
                profile["chargingProfilePurpose"],
                profile["stackLevel"],
                profile["chargingSchedule"],
            )
        return (
            profile["id"],
            profile["chargingProfilePurpose"],
            profile["stackLevel"],
            profile["chargingSchedule"][0],
        )

    def _on_SetChargingProfile(self, p: dict[str, Any]) -> dict[str, Any]:
        evse = int(p["connectorId"] if self._v16() else p["evseId"])
        profile = p["csChargingProfiles"] if self._v16() else p["chargingProfile"]
        pid, purpose, level, _ = self._profile_fields(profile)
        if evse not in (0, 1):
            return {"status": "Rejected"}
        if purpose == "TxProfile" and (evse == 0 or self.active_txid is None):
            return {"status": "Rejected"}
        if purpose in ("ChargePointMaxProfile", "ChargingStationMaxProfile") and evse != 0:
            return {"status": "Rejected"}
        # A profile with the same purpose and stack level on the same EVSE is replaced.
        for other, (other_evse, other_profile) in list(self.state.profiles.items()):
            _, other_purpose, other_level, _ = self._profile_fields(other_profile)
            if (other_evse, other_purpose, other_level) == (evse, purpose, level):
                del self.state.profiles[other]
        self.state.profiles[pid] = (evse, profile)
        return {"status": "Accepted"}

    def _on_ClearChargingProfile(self, p: dict[str, Any]) -> dict[str, Any]:
        if self._v16():
            pid, evse = p.get("id"), p.get("connectorId")
            purpose, level = p.get("chargingProfilePurpose"), p.get("stackLevel")
        else:
            criteria = p.get("chargingProfileCriteria") or {}
            pid, evse = p.get("chargingProfileId"), criteria.get("evseId")
            purpose, level = criteria.get("chargingProfilePurpose"), criteria.get("stackLevel")
        removed = 0
        for other, (other_evse, profile) in list(self.state.profiles.items()):
            other_id, other_purpose, other_level, _ = self._profile_fields(profile)
            if pid is not None and other_id != pid:
                continue
            if evse is not None and other_evse != evse:
                continue
            if purpose is not None and other_purpose != purpose:
                continue
            if level is not None and other_level != level:
                continue
            del self.state.profiles[other]
            removed += 1
        return {"status": "Accepted" if removed else "Unknown"}

    def _on_GetChargingProfiles(self, p: dict[str, Any]) -> Any:
        """2.0.1: the installed profiles that match every given criterion, reported in one
        ReportChargingProfiles per EVSE (source CSO: all were set by the CSMS); NoProfiles
        when none match."""
        criterion = p.get("chargingProfile") or {}
        evse, ids = p.get("evseId"), criterion.get("chargingProfileId")
        sources = criterion.get("chargingLimitSource")
        found: dict[int, list[dict[str, Any]]] = {}
        for pid, (profile_evse, profile) in sorted(self.state.profiles.items()):
            _, purpose, level, _ = self._profile_fields(profile)
            if (
                (evse is not None and profile_evse != evse)
                or (ids and pid not in ids)
                or (sources and "CSO" not in sources)
                or criterion.get("chargingProfilePurpose", purpose) != purpose
                or criterion.get("stackLevel", level) != level
            ):
                continue
            found.setdefault(profile_evse, []).append(profile)
        if not found:
            return {"status": "NoProfiles"}
        return {"status": "Accepted"}, self._profiles_flow(p["requestId"], found)

    async def _profiles_flow(self, request_id: int, found: dict[int, list[dict[str, Any]]]) -> None:
        evses = sorted(found)
        for i, evse in enumerate(evses):
            payload = {
                "requestId": request_id,
                "chargingLimitSource": "CSO",
                "tbc": i < len(evses) - 1,
                "evseId": evse,
                "chargingProfile": _plain(found[evse]),
            }
            try:
                await self.call("ReportChargingProfiles", payload)
            except Exception as exc:  # noqa: BLE001
                self.stats.error(f"{self.identity}: ReportChargingProfiles: {exc!r}")
                return

    def composite_schedule(
        self, evse: int, duration: int, unit: str | None, now: datetime
    ) -> tuple[str, list[tuple[int, Decimal]]]:
        """The station's limit over [now, now + duration): the TX profile (else the TX default
        profile) of highest stack level for the EVSE (EVSE 0's apply to every EVSE), capped by
        the station maximum profile; converted to `unit` at 230 V per phase."""

        def layer(purposes: tuple[str, ...], evses: tuple[int, ...]) -> list[Any] | None:
            best = None
            for other_evse, profile in self.state.profiles.values():
                _, purpose, level, schedule = self._profile_fields(profile)
                if purpose in purposes and other_evse in evses:
                    if best is None or level > best[0]:
                        best = (level, schedule)
            return None if best is None else [best[1]]

        chosen = (
            layer(("TxProfile",), (evse,))
            or layer(("TxDefaultProfile",), (evse,))
            or layer(("TxDefaultProfile",), (0,))
        )
        cap = layer(("ChargePointMaxProfile", "ChargingStationMaxProfile"), (0,))
        schedules = [s for s in (chosen or []) + (cap or [])]
        if not schedules:
            return unit or "W", []
        target = unit or schedules[0]["chargingRateUnit"]
        layers = []
        for s in schedules:
            start = _parse_time(s.get("startSchedule"))
            offset = max(0, int((now - start).total_seconds())) if start else 0
            steps = _steps(s, offset, duration)
            if s["chargingRateUnit"] != target:
                factor = Decimal(VOLTAGE * 3)
                steps = [
                    (t, (v * factor) if target == "W" else (v / factor).quantize(Decimal("0.1")))
                    for t, v in steps
                ]
            layers.append(steps)
        return target, composite(layers, duration)

    def _on_GetCompositeSchedule(self, p: dict[str, Any]) -> dict[str, Any]:
        evse = int(p["connectorId"] if self._v16() else p["evseId"])
        if evse not in (0, 1):
            return {"status": "Rejected"}
        now = datetime.now(UTC).replace(microsecond=0)
        duration = int(p["duration"])
        unit, steps = self.composite_schedule(evse, duration, p.get("chargingRateUnit"), now)
        if not steps:
            return {"status": "Rejected"}
        periods = [{"startPeriod": t, "limit": _num(v)} for t, v in steps]
        start = now.isoformat().replace("+00:00", "Z")
        if self._v16():
            return {
                "status": "Accepted",
                "connectorId": evse,
                "scheduleStart": start,
                "chargingSchedule": {
                    "duration": duration,
                    "chargingRateUnit": unit,
                    "chargingSchedulePeriod": periods,
                },
            }
        return {
            "status": "Accepted",
            "schedule": {
                "evseId": evse,
                "duration": duration,
                "scheduleStart": start,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": periods,
            },
        }

    # --- reservations ------------------------------------------------------------------------

    def _on_ReserveNow(self, p: dict[str, Any]) -> Any:
        if self._v16():
            rid, evse, tag = int(p["reservationId"]), int(p["connectorId"]), p["idTag"]
        else:
            rid, evse, tag = int(p["id"]), int(p.get("evseId") or 0), p["idToken"]["idToken"]
        if evse not in (0, 1):
            return {"status": "Rejected"}
        if not self.state.operative.get(1, True):
            return {"status": "Unavailable"}
        if self.active_txid is not None:
            return {"status": "Occupied"}
        taken = {e for r, (e, _) in self.state.reservations.items() if r != rid}
        if 1 in taken or (evse == 0 and taken):
            return {"status": "Occupied"}
        self.state.reservations[rid] = (evse, tag)
        return {"status": "Accepted"}, self.status(1, "Reserved")

    def _on_CancelReservation(self, p: dict[str, Any]) -> Any:
        rid = int(p["reservationId"])
        if self.state.reservations.pop(rid, None) is None:
            return {"status": "Rejected"}
        return {"status": "Accepted"}, self.status(1, "Available")

    # --- remote start / stop -----------------------------------------------------------------

    def _on_RemoteStartTransaction(self, p: dict[str, Any]) -> Any:
        return self._remote_start(p.get("connectorId"), p["idTag"], None)

    def _on_RequestStartTransaction(self, p: dict[str, Any]) -> Any:
        return self._remote_start(p.get("evseId"), p["idToken"]["idToken"], p["remoteStartId"])

    def _remote_start(self, evse: int | None, tag: str, remote_start_id: int | None) -> Any:
        if evse not in (None, 1) or self.active_txid is not None:
            return {"status": "Rejected"}
        if not self.state.operative.get(1, True):
            return {"status": "Rejected"}
        reserved_for = [t for _, (e, t) in self.state.reservations.items() if e in (0, 1)]
        if reserved_for and tag not in reserved_for:
            return {"status": "Rejected"}
        self.state.reservations = {r: v for r, v in self.state.reservations.items() if v[1] != tag}
        return {"status": "Accepted"}, self.start_remote_session(tag, remote_start_id)

    def _on_RemoteStopTransaction(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._remote_stop(str(p["transactionId"]))

    def _on_RequestStopTransaction(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._remote_stop(str(p["transactionId"]))

    def _remote_stop(self, txid: str) -> dict[str, Any]:
        if self.active_txid is None or self.active_txid != txid:
            return {"status": "Rejected"}
        self.request_remote_stop(txid)
        return {"status": "Accepted"}

    # --- firmware and logs -------------------------------------------------------------------

    def _on_UpdateFirmware(self, p: dict[str, Any]) -> Any:
        if self._v16():
            location, request_id = p["location"], None
        else:
            location, request_id = p["firmware"]["location"], p["requestId"]
        version = location.rstrip("/").rsplit("/", 1)[-1].removesuffix(".bin") or "sim-next"
        answer: dict[str, Any] = {} if self._v16() else {"status": "Accepted"}
        return answer, self._firmware_flow(version[:50], request_id)

    async def _firmware_flow(self, version: str, request_id: int | None) -> None:
        step = self.cfg.firmware_step
        extra = {} if request_id is None else {"requestId": request_id}
        steps: tuple[str, ...] = ("Downloading", "Downloaded", "Installing", "Installed")
        if self.version == "1.5":  # 1.5 reports only the outcomes
            steps = ("Downloaded", "Installed")
        for status in steps:
            await asyncio.sleep(step)
            try:
                await self.call("FirmwareStatusNotification", {"status": status, **extra})
            except Exception as exc:  # noqa: BLE001
                self.stats.error(f"{self.identity}: FirmwareStatusNotification: {exc!r}")
                return
        self.state.firmware_version = version
        await self.reboot("FirmwareUpdate")

    def _on_GetDiagnostics(self, p: dict[str, Any]) -> Any:
        name = f"diagnostics-{self.identity}.zip"
        return {"fileName": name}, self._log_flow("DiagnosticsStatusNotification", None)

    def _on_GetLog(self, p: dict[str, Any]) -> Any:
        name = f"log-{self.identity}.zip"
        flow = self._log_flow("LogStatusNotification", p["requestId"])
        return {"status": "Accepted", "filename": name}, flow

    async def _log_flow(self, action: str, request_id: int | None) -> None:
        extra = {} if request_id is None else {"requestId": request_id}
        steps = ("Uploaded",) if self.version == "1.5" else ("Uploading", "Uploaded")
        for status in steps:
            await asyncio.sleep(self.cfg.firmware_step)
            try:
                await self.call(action, {"status": status, **extra})
            except Exception as exc:  # noqa: BLE001
                self.stats.error(f"{self.identity}: {action}: {exc!r}")
                return

    # --- certificates (1.6 security extension, 2.0.1) ------------------------------------------

    def certificate_request(
        self, organization: str, key_type: str = "", common_name: str = ""
    ) -> dict[str, Any]:
        """A SignCertificate payload: a new EC P-256 key and a CSR for it, CN the station's
        identity and O `organization` (what the OCPP security whitepaper asks); the key is
        kept for the certificate that comes back (CertificateSigned)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = [x509.NameAttribute(NameOID.COMMON_NAME, common_name or self.identity)]
        if organization:
            name.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        csr = x509.CertificateSigningRequestBuilder(x509.Name(name)).sign(key, hashes.SHA256())
        self.state.csr_key = key
        payload = {"csr": csr.public_bytes(serialization.Encoding.PEM).decode()}
        if not self._v16():
            payload["certificateType"] = key_type or "ChargingStationCertificate"
        return payload

    def _on_CertificateSigned(self, p: dict[str, Any]) -> dict[str, Any]:
        """Accepted when the first certificate of the chain is for the key of our CSR."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        pem = serialization.PublicFormat.SubjectPublicKeyInfo
        try:
            leaf = x509.load_pem_x509_certificates(p["certificateChain"].encode())[0]
        except ValueError:
            return {"status": "Rejected"}
        key = self.state.csr_key
        if key is None or leaf.public_key().public_bytes(
            serialization.Encoding.DER, pem
        ) != key.public_key().public_bytes(serialization.Encoding.DER, pem):
            return {"status": "Rejected"}
        self.state.certificate_chain = p["certificateChain"]
        return {"status": "Accepted"}

    def _on_InstallCertificate(self, p: dict[str, Any]) -> dict[str, Any]:
        from cryptography import x509

        try:
            x509.load_pem_x509_certificate(p["certificate"].encode())
        except ValueError:
            return {"status": "Rejected" if self._v16() else "Failed"}
        self.state.certificates.append((p["certificateType"], p["certificate"]))
        return {"status": "Accepted"}

    def _hash_data(self, pem: str) -> dict[str, Any]:
        """CertificateHashDataType of a (self-signed root) certificate: SHA-256 of the
        issuer's DER name and of the issuer's public key bits, the serial in hex."""
        import hashlib

        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert = x509.load_pem_x509_certificate(pem.encode())
        key = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": hashlib.sha256(cert.issuer.public_bytes()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(key).hexdigest(),
            "serialNumber": format(cert.serial_number, "x"),
        }

    def _on_GetInstalledCertificateIds(self, p: dict[str, Any]) -> dict[str, Any]:
        wanted = p.get("certificateType")
        if isinstance(wanted, str):  # 1.6: one type
            wanted = [wanted]
        found = [(t, pem) for t, pem in self.state.certificates if not wanted or t in wanted]
        if not found:
            return {"status": "NotFound"}
        if self._v16():
            return {
                "status": "Accepted",
                "certificateHashData": [self._hash_data(c) for _, c in found],
            }
        return {
            "status": "Accepted",
            "certificateHashDataChain": [
                {"certificateType": t, "certificateHashData": self._hash_data(c)} for t, c in found
            ],
        }

    def _on_DeleteCertificate(self, p: dict[str, Any]) -> dict[str, Any]:
        wanted = p["certificateHashData"]
        for i, (_, pem) in enumerate(self.state.certificates):
            if self._hash_data(pem) == wanted:
                del self.state.certificates[i]
                return {"status": "Accepted"}
        return {"status": "NotFound"}
