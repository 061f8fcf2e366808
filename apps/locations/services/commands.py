"""Remote commands: record, relay to the gateway node holding the station, complete with
the outcome (docs/gateway.md "Remote commands"); the REST API's OCPI-style command names
mapped onto the protocol-neutral commands."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import NotFound, Problem, ValidationFailed
from apps.locations import relay, selectors
from apps.locations.contracts import (
    ChangeAvailability,
    CommandKind,
    CommandOutcome,
    CommandRequest,
    CommandResult,
    CommandStatus,
    CommandType,
    GetBaseReport,
    GetChargingProfiles,
    GetDiagnostics,
    RelayReply,
    RemoteStart,
    RemoteStop,
    Reset,
    StationCommand,
    UnlockConnector,
    UpdateFirmware,
    to_json,
)
from apps.locations.models import ChargeStation, Evse, RemoteCommand
from apps.parties import api as parties_api

_WITH_REQUEST_ID = UpdateFirmware | GetDiagnostics | GetBaseReport | GetChargingProfiles


def _with_request_id(command: StationCommand, request_id: int) -> StationCommand:
    """2.0.1 needs an integer id on RequestStartTransaction, UpdateFirmware, GetLog,
    GetBaseReport and GetChargingProfiles that later notifications refer to: unless the
    caller chose one, it is the audit row's id."""
    if isinstance(command, RemoteStart) and command.remote_start_id is None:
        return msgspec.structs.replace(command, remote_start_id=request_id)
    if isinstance(command, _WITH_REQUEST_ID) and command.request_id is None:
        return msgspec.structs.replace(command, request_id=request_id)
    return command


def _request_id(command: StationCommand) -> int | None:
    if isinstance(command, RemoteStart):
        return command.remote_start_id
    if isinstance(command, _WITH_REQUEST_ID):
        return command.request_id
    return None


def charge_station_command(
    *,
    tenant_id: int,
    station_id: int,
    command: StationCommand,
    requested_by: str = "",
    timeout: float | None = None,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> CommandOutcome:
    """Send a remote command to a station and return what became of it.

    The command is recorded first (an audit row, PENDING), then handed through the command
    relay (Redis, or the local socket of the one gateway node: `relay.py`) to the gateway node
    that holds the station's socket, which maps it to the station's OCPP
    version, validates it against the OCPP schema, sends it (one outstanding CALL per station:
    it may queue behind another command) and waits for the answer. The row is completed with
    the outcome: ACCEPTED / REJECTED / NOT_SUPPORTED / FAILED from the station, OFFLINE when
    no live node holds it, TIMEOUT when no answer came within `timeout` seconds
    (STATION_COMMAND_TIMEOUT). Call it outside a database transaction: it waits.

    Raises NotFound (no such station in the tenant), ServiceUnavailable (no relay
    configured, or its Redis unreachable; nothing recorded or sent), ValidationFailed (the
    request breaks the OCPP schema of the station's version; recorded as FAILED, nothing
    sent).

    With an `actor` (a user or an API key asked for it) the audit log gets one entry
    (station.command) once the command is recorded, whatever its outcome; the platform's
    own commands (certificates, tasks) are in the command log only."""
    station = (
        ChargeStation.objects.for_tenant(tenant_id)
        .filter(pk=station_id)
        .values("pk", "identity")
        .first()
    )
    if station is None:
        raise NotFound(f"no charge station {station_id} in this tenant")
    relay.check()  # ServiceUnavailable before anything is recorded
    timeout = float(timeout if timeout is not None else settings.STATION_COMMAND_TIMEOUT)
    row, command = _command_recorded(tenant_id, station_id, command, requested_by, now)
    reply = relay.send(station["identity"], command, timeout=timeout)
    with transaction.atomic():
        _command_completed(row, reply)
        if actor is not None:
            parties_api.audit(
                tenant_id,
                actor,
                "station.command",
                "charge_station",
                station_id,
                after={
                    "command": command.kind.value,
                    "request": row.request,
                    "command_id": row.pk,
                    "status": row.status,
                    "station_status": row.station_status,
                },
            )
    if row.request_id is not None:
        row.refresh_from_db(fields=["progress"])
    if reply.invalid:
        raise ValidationFailed(
            f"the {command.kind} command breaks the OCPP {reply.protocol} schema",
            problems=tuple(_problem(text) for text in reply.invalid),
        )
    return selectors.command_outcome(row)


def _command_recorded(
    tenant_id: int,
    station_id: int,
    command: StationCommand,
    requested_by: str,
    now: datetime | None,
) -> tuple[RemoteCommand, StationCommand]:
    """The command's row (PENDING), and the command with its 2.0.1 request id set."""
    row = RemoteCommand.objects.create(
        tenant_id=tenant_id,
        charge_station_id=station_id,
        relay_id=uuid.uuid4().hex,
        kind=command.kind.value,
        request=to_json(command),
        requested_by=requested_by[:150],
        requested_at=now or timezone.now(),
    )
    command = _with_request_id(command, row.pk)
    row.request = to_json(command)
    row.request_id = _request_id(command)
    if row.request_id is not None:
        # Stored before the command goes out: the station's notifications that follow its
        # answer (NotifyReport, ReportChargingProfiles, ...) are matched by this id, and may
        # arrive before the answer has been written below.
        row.save(update_fields=["request", "request_id"])
    return row, command


def _command_completed(row: RemoteCommand, reply: RelayReply) -> None:
    """The relay's reply on the command's row."""
    row.status = reply.status.value
    row.station_status = reply.station_status[:50]
    row.message = reply.message
    row.data = reply.data
    row.protocol = reply.protocol[:8]
    row.gateway_node = reply.node[:64]
    row.ocpp_action = reply.ocpp_action[:50]
    row.ocpp_request = reply.ocpp_request
    row.response = reply.response
    if reply.status not in (CommandStatus.OFFLINE, CommandStatus.TIMEOUT):
        row.answered_at = timezone.now()
    if reply.invalid:
        row.status = CommandStatus.FAILED.value
        row.message = "not sent: the request breaks the OCPP schema: " + "; ".join(reply.invalid)
    # Every field but `progress`: the station's follow-up reports may already have been
    # appended to it (by the gateway node, under a row lock) while this waited.
    row.save(update_fields=_ANSWER_FIELDS)


_ANSWER_FIELDS = [
    "request",
    "request_id",
    "status",
    "station_status",
    "message",
    "data",
    "protocol",
    "gateway_node",
    "ocpp_action",
    "ocpp_request",
    "response",
    "answered_at",
    "updated_at",
]


def _problem(text: str) -> Problem:
    path, _, message = text.partition(": ")
    return Problem(path, message) if message else Problem("$", text)


def charge_station_command_progress(
    *,
    station_id: int,
    kind: CommandKind,
    status: str,
    at: datetime,
    request_id: int | None = None,
    by_request_id_only: bool = False,
) -> int | None:
    """Append a later status notification (FirmwareStatusNotification, Diagnostics- /
    LogStatusNotification, a NotifyReport or ReportChargingProfiles part) to the command it
    reports on: the one with its requestId (2.0.1), else, unless `by_request_id_only`, the
    station's newest accepted command of that kind. Returns the row's id, or None when no
    command matches (a station reporting an update nobody sent through here)."""
    rows = RemoteCommand.objects.filter(charge_station_id=station_id, kind=kind.value)
    row = None
    if request_id is not None:
        row = rows.filter(request_id=request_id).first()
    if row is None and by_request_id_only:
        return None
    if row is None:
        row = rows.filter(status=CommandStatus.ACCEPTED.value).order_by("-requested_at").first()
    if row is None:
        return None
    with transaction.atomic():
        row = RemoteCommand.objects.select_for_update().get(pk=row.pk)
        row.progress = [*row.progress, {"status": status[:50], "at": at.isoformat()}]
        row.save(update_fields=["progress", "updated_at"])
    return row.pk


_REST_RESULTS = {
    CommandStatus.ACCEPTED: "ACCEPTED",
    CommandStatus.REJECTED: "REJECTED",
    CommandStatus.NOT_SUPPORTED: "NOT_SUPPORTED",
    CommandStatus.FAILED: "FAILED",
    CommandStatus.OFFLINE: "OFFLINE",
    CommandStatus.TIMEOUT: "TIMEOUT",
    CommandStatus.PENDING: "TIMEOUT",
}


def _evse_ocpp_id(tenant_id: int, station_id: int, evse_uid: str, path: str) -> int:
    evse = (
        Evse.objects.filter(tenant_id=tenant_id, charge_station_id=station_id, uid=evse_uid)
        .values_list("ocpp_evse_id", flat=True)
        .first()
    )
    if evse is None:
        raise ValidationFailed(
            "invalid command",
            problems=(Problem(path, f"no EVSE {evse_uid} mapped to this charge station"),),
        )
    return evse


def _required(params: dict[str, Any], name: str, command_type: CommandType) -> Any:
    if params.get(name) in (None, ""):
        raise ValidationFailed(
            "invalid command", problems=(Problem(f"$.{name}", f"required for {command_type}"),)
        )
    return params[name]


def _rest_command(tenant_id: int, station_id: int, request: CommandRequest) -> StationCommand:
    p, t = request.params, request.type
    evse_uid = p.get("evse_uid")
    evse = _evse_ocpp_id(tenant_id, station_id, evse_uid, "$.evse_uid") if evse_uid else None
    if t is CommandType.START_SESSION:
        return RemoteStart(id_tag=str(_required(p, "token_uid", t)), evse_id=evse)
    if t is CommandType.STOP_SESSION:
        return RemoteStop(transaction_id=str(_required(p, "ocpp_transaction_id", t)))
    if t is CommandType.RESET:
        return Reset(hard=p.get("reset_type") == "HARD")
    if t is CommandType.UNLOCK_CONNECTOR:
        _required(p, "evse_uid", t)
        connector = str(p.get("connector_id") or "1")
        assert evse is not None
        return UnlockConnector(
            evse_id=evse, connector_id=int(connector) if connector.isdigit() else 1
        )
    if t is CommandType.CHANGE_AVAILABILITY:
        return ChangeAvailability(
            operative=_required(p, "availability", t) == "OPERATIVE", evse_id=evse
        )
    raise ValidationFailed("invalid command", problems=(Problem("$.type", f"unknown {t}"),))


def charge_station_command_build(
    *, tenant_id: int, station_id: int, command: CommandRequest
) -> StationCommand:
    """The protocol-neutral command of a REST-style request (OCPI CommandType names and
    parameters), checked against the tenant's station and its EVSEs."""
    if not selectors.charge_station_exists(tenant_id=tenant_id, station_id=station_id):
        raise NotFound(f"no charge station {station_id} in this tenant")
    return _rest_command(tenant_id, station_id, command)


def charge_station_command_submit(
    *,
    tenant_id: int,
    station_id: int,
    command: CommandRequest,
    actor: Actor,
    requested_by: str = "",
) -> CommandResult:
    """The REST API's commands (OCPI CommandType names and parameters) through
    `charge_station_command`; the result in OCPI CommandResultType words plus OFFLINE."""
    built = charge_station_command_build(
        tenant_id=tenant_id, station_id=station_id, command=command
    )
    outcome = charge_station_command(
        tenant_id=tenant_id,
        station_id=station_id,
        command=built,
        requested_by=requested_by,
        actor=actor,
    )
    return CommandResult(
        id=str(outcome.id),
        type=command.type,
        result=_REST_RESULTS[outcome.status],
        message=outcome.message or outcome.station_status,
    )
