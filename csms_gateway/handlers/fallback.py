"""Minimal handlers for the status notifications that follow remote commands, used only when
the version's own handler module has none (server.py looks there first).

FirmwareStatusNotification (after UpdateFirmware) and DiagnosticsStatusNotification /
LogStatusNotification (after GetDiagnostics / GetLog) are appended to the progress of the
command they report on (`apps.locations.api.charge_station_command_progress`), so the portal
shows "UpdateFirmware: Accepted → Downloading → Downloaded → Installing → Installed". The full
profiles' own handlers (firmware state on the station, security events) replace these; they
should record the progress the same way (`ctx.backend.command_progress`).
"""

from __future__ import annotations

from typing import Any

from apps.locations.contracts import CommandKind
from csms_gateway.handlers import Handler, StationContext, now_utc


def _progress(kind: CommandKind) -> Handler:
    async def handle(ctx: StationContext, p: dict[str, Any]) -> dict[str, Any]:
        request_id = p.get("requestId")
        await ctx.backend.command_progress(
            station_id=ctx.station_id,
            kind=kind,
            status=str(p.get("status", "")),
            at=now_utc(),
            request_id=request_id if isinstance(request_id, int) else None,
        )
        return {}

    return handle


_FIRMWARE = _progress(CommandKind.UPDATE_FIRMWARE)
_LOGS = _progress(CommandKind.GET_DIAGNOSTICS)

HANDLERS: dict[str, dict[str, Handler]] = {
    "1.5": {"FirmwareStatusNotification": _FIRMWARE, "DiagnosticsStatusNotification": _LOGS},
    "1.6": {"FirmwareStatusNotification": _FIRMWARE, "DiagnosticsStatusNotification": _LOGS},
    "2.0.1": {"FirmwareStatusNotification": _FIRMWARE, "LogStatusNotification": _LOGS},
}
