"""Smart charging on a simulated station: charging profiles set, cleared and reported, and
the composite schedule they give."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from csms_gateway.simulator.base import StationBase, number, parse_time, plain
from csms_gateway.simulator.config import VOLTAGE


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


class SmartCharging(StationBase):
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
                "chargingProfile": plain(found[evse]),
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
            start = parse_time(s.get("startSchedule"))
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
        periods = [{"startPeriod": t, "limit": number(v)} for t, v in steps]
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
