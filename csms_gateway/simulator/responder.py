"""How a simulated station answers the CSMS's commands (the calls CSMS → station), OCPP 1.5, 1.6
and 2.0.1, with station state behind the answers: configuration keys / variables (and the
2.0.1 base report in NotifyReport parts), charging profiles, the composite schedule they give
and the 2.0.1 profile report, reservations, the local list and its version, a DataTransfer
vendor extension, availability, remote start / stop of a session, firmware updates and log
uploads with their status notifications, and a reboot after Reset or a firmware install.

A part of `Station` (it uses the station's connection, clock and session); like
the simulator it speaks only OCPP over the network (import-linter `simulator-network-only`).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from csms_gateway import ocppj
from csms_gateway.simulator.base import (
    CallLog,
    StationBase,
    StationState,
    default_config,
    default_variables,
)
from csms_gateway.simulator.certificates import Certificates
from csms_gateway.simulator.smart_charging import SmartCharging

SIM_VENDOR = "org.example.sim"  # the vendor id of the simulator's DataTransfer extension
REPORT_PART = 4  # variables per NotifyReport part (a full report comes in several parts)


class CommandResponder(SmartCharging, Certificates, StationBase):
    """Station behaviour for CSMS → station CALLs, dispatched by action to `_on_<Action>`
    (here, in `SmartCharging` and in `Certificates`); `Station` provides what `StationBase`
    declares."""

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
