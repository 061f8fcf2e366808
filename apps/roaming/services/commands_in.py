"""Commands an eMSP sends us as CPO (OCPI commands module, receiver interface).

The flow is asynchronous, as the module wants it:
1. `command_receive` (the POST): checks the request, names the station (unknown location /
   EVSE: REJECTED; unknown session: UNKNOWN_SESSION; a command we do not do: NOT_SUPPORTED),
   stores START_SESSION / RESERVE_NOW's token like a pushed token, records the command
   (`OcpiCommand`, RECEIVED) and, after the commit, queues `roaming.command_run`; the
   CommandResponse (ACCEPTED, `timeout`) is answered at once.
2. `command_run` (the task, queue `roaming`): sends the station command the way the portal and
   the REST API do (`apps.locations.api.charge_station_command`: command log, relay, audit
   with the connection as actor). That call returns when the station answered (or timed
   out), which is the event the result waits for: no polling.
3. The CommandResult (2.1.1: a CommandResponse) goes to the partner's `response_url` through
   the push outbox (module "commands", the full URL as the push's path): retried, in order,
   held while the connection is suspended.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.charging import api as charging_api
from apps.common.errors import DomainError, NotFound
from apps.common.jobs import enqueue
from apps.locations import api as locations_api
from apps.locations.contracts import (
    CancelReservation,
    CommandOutcome,
    CommandStatus,
    RemoteStart,
    RemoteStop,
    ReserveNow,
    StationCommand,
    UnlockConnector,
)
from apps.roaming import jobs
from apps.roaming.contracts import CommandDirection, OcpiRole, OcpiVersion
from apps.roaming.models import OcpiCommand, OcpiConnection, OcpiPartyRole
from apps.roaming.services import push, tokens_in
from apps.roaming.services.tokens_in import Refused
from apps.tokens import api as tokens_api

COMMANDS = (
    "START_SESSION",
    "STOP_SESSION",
    "RESERVE_NOW",
    "CANCEL_RESERVATION",
    "UNLOCK_CONNECTOR",
)
# What the CommandResponse's `timeout` adds to the station's own (the relay's hop, the push).
RESULT_MARGIN_SECONDS = 30
_OCPP_INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class CommandAnswer:
    """The CommandResponse: `result` (ACCEPTED / REJECTED / UNKNOWN_SESSION /
    NOT_SUPPORTED), `timeout` seconds we may take for the result, `message` when not
    accepted; `command_uid` of the recorded command (None when nothing was recorded)."""

    result: str
    timeout: int
    message: str = ""
    command_uid: str | None = None

    def as_ocpi(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result}
        if version != OcpiVersion.V2_1_1.value:
            out["timeout"] = self.timeout
        if self.message:
            out["message"] = [{"language": "en", "text": self.message[:512]}]
        return out


@dataclass(frozen=True)
class _Plan:
    station_id: int
    command: StationCommand


class _Answer(Exception):
    """A CommandResponse other than ACCEPTED, decided while planning."""

    def __init__(self, result: str, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.message = message


def _timeout() -> int:
    return int(settings.STATION_COMMAND_TIMEOUT) + RESULT_MARGIN_SECONDS


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise Refused(f"$.{key}: required")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise Refused(f"$.{key}: must be a string")
    return str(value)


def _target(
    tenant_id: int, body: dict[str, Any], cpo: tuple[str, str] | None, *, evse_required: bool
) -> tuple[int, int | None]:
    location = _text(body, "location_id")
    evse = _text(body, "evse_uid", required=evse_required)
    try:
        return locations_api.ocpi_command_target(
            tenant_id=tenant_id, location_id=location, evse_uid=evse or None, cpo=cpo
        )
    except NotFound as exc:
        raise _Answer("REJECTED", exc.message) from None


def _ocpp_reservation_id(conn: OcpiConnection, reservation_id: str) -> int | None:
    """The OCPP reservationId of the partner's reservation: the id of the RESERVE_NOW we
    received first for it (a second RESERVE_NOW with the same id updates the reservation)."""
    first = (
        OcpiCommand.objects.filter(
            connection=conn,
            direction=CommandDirection.RECEIVED.value,
            command="RESERVE_NOW",
            request__reservation_id__iexact=reservation_id,
        )
        .order_by("id")
        .first()
    )
    return first.pk if first is not None else None


def _plan(
    conn: OcpiConnection,
    command: str,
    body: dict[str, Any],
    *,
    cpo: tuple[str, str] | None,
    token_uid: str,
    this_command_pk: int | None,
) -> _Plan:
    """The station command an OCPI command means (checked, not sent). Raises _Answer for a
    command the station cannot be asked (unknown location / EVSE / session / reservation)."""
    tenant = conn.tenant_id
    if command == "START_SESSION":
        station, evse = _target(tenant, body, cpo, evse_required=False)
        return _Plan(station, RemoteStart(id_tag=token_uid, evse_id=evse))
    if command == "STOP_SESSION":
        session_id = _text(body, "session_id")
        if not session_id.isdigit():
            raise _Answer("UNKNOWN_SESSION", f"unknown session {session_id}")
        try:
            station, txid = charging_api.session_ocpp_transaction(
                tenant_id=tenant, session_id=int(session_id)
            )
        except NotFound:
            raise _Answer("UNKNOWN_SESSION", f"unknown session {session_id}") from None
        return _Plan(station, RemoteStop(transaction_id=txid))
    if command == "RESERVE_NOW":
        station, evse = _target(tenant, body, cpo, evse_required=False)
        expiry = parse_datetime(_text(body, "expiry_date"))
        if expiry is None or expiry.tzinfo is None:
            raise Refused("$.expiry_date: an OCPI DateTime (UTC)")
        reservation = _text(body, "reservation_id")
        ocpp_id = _ocpp_reservation_id(conn, reservation) or this_command_pk
        if ocpp_id is None or ocpp_id > _OCPP_INT_MAX:
            raise _Answer("REJECTED", "no OCPP reservation id can be given")
        return _Plan(
            station,
            ReserveNow(reservation_id=ocpp_id, expiry=expiry, id_tag=token_uid, evse_id=evse),
        )
    if command == "CANCEL_RESERVATION":
        reservation = _text(body, "reservation_id")
        ocpp_id = _ocpp_reservation_id(conn, reservation)
        if ocpp_id is None:
            raise _Answer("REJECTED", f"unknown reservation {reservation}")
        reserved = OcpiCommand.objects.get(pk=ocpp_id)
        station, _ = _target(tenant, reserved.request, cpo, evse_required=False)
        return _Plan(station, CancelReservation(reservation_id=ocpp_id))
    if command == "UNLOCK_CONNECTOR":
        station, evse = _target(tenant, body, cpo, evse_required=True)
        connector = _text(body, "connector_id")
        assert evse is not None
        return _Plan(
            station,
            UnlockConnector(
                evse_id=evse, connector_id=int(connector) if connector.isdigit() else 1
            ),
        )
    raise _Answer("NOT_SUPPORTED", f"command {command} is not supported")


def _token(
    conn: OcpiConnection, version: str, body: dict[str, Any], emsp: tuple[str, str] | None
) -> str:
    """Store the command's token like a pushed one; its uid as the station will see it."""
    token = body.get("token")
    if not isinstance(token, dict):
        raise Refused("$.token: required, a Token object")
    uid = token.get("uid")
    if not isinstance(uid, str) or not uid:
        raise Refused("$.token.uid: required")
    cc = token.get("country_code") if isinstance(token.get("country_code"), str) else None
    pid = token.get("party_id") if isinstance(token.get("party_id"), str) else None
    if not (cc and pid):
        cc, pid = emsp or _single_emsp(conn) or ("", "")
    received = tokens_in.token_received_put(
        connection_id=conn.pk,
        version=version,
        country_code=cc,
        party_id=pid,
        uid=uid,
        type_param=token.get("type") if isinstance(token.get("type"), str) else None,
        body=token,
    )
    if received.token is not None and not received.token.valid:
        raise _Answer("REJECTED", f"token {uid} is not valid")
    return received.token.uid if received.token is not None else uid


def _single_emsp(conn: OcpiConnection) -> tuple[str, str] | None:
    roles = list(
        OcpiPartyRole.objects.filter(connection=conn, role=OcpiRole.EMSP.value).values_list(
            "country_code", "party_id"
        )[:2]
    )
    return roles[0] if len(roles) == 1 else None


def command_receive(
    *,
    connection_id: int,
    version: str,
    command: str,
    body: Any,
    emsp: tuple[str, str] | None = None,
    cpo: tuple[str, str] | None = None,
) -> CommandAnswer:
    """Answer an OCPI command at once and, when ACCEPTED, queue it for the station.
    `emsp` / `cpo`: the routing headers' FROM / TO parties when the partner sent them.
    Refused (2001) when the body cannot be understood (no response_url, no token, ...)."""
    conn = OcpiConnection.objects.get(pk=connection_id)
    name = command.strip().upper()
    if not isinstance(body, dict):
        raise Refused("the body must be a command object")
    response_url = _text(body, "response_url")
    if not response_url.lower().startswith(("https://", "http://")) or len(response_url) > 500:
        raise Refused("$.response_url: an http(s) URL of at most 500 characters")
    if name not in COMMANDS:
        return CommandAnswer("NOT_SUPPORTED", _timeout(), f"command {command} is not supported")
    token_uid = ""
    with transaction.atomic():
        row = OcpiCommand.objects.create(
            tenant_id=conn.tenant_id,
            connection=conn,
            direction=CommandDirection.RECEIVED.value,
            command=name,
            uid=str(uuid.uuid4()),
            request=body,
            response_url=response_url,
        )
        try:
            if name in ("START_SESSION", "RESERVE_NOW"):
                token_uid = _token(conn, version, body, emsp)
            _plan(conn, name, body, cpo=cpo, token_uid=token_uid, this_command_pk=row.pk)
        except _Answer as answer:
            row.response = answer.result
            row.save(update_fields=["response", "updated_at"])
            return CommandAnswer(answer.result, _timeout(), answer.message, row.uid)
        row.response = "ACCEPTED"
        row.save(update_fields=["response", "updated_at"])
        pk = row.pk
        transaction.on_commit(lambda: enqueue(jobs.COMMAND_RUN, pk, ignore_result=True))
    return CommandAnswer("ACCEPTED", _timeout(), "", row.uid)


# -- the station's answer, back to the partner ----------------------------------------------

_RESULTS = {
    CommandStatus.ACCEPTED: "ACCEPTED",
    CommandStatus.REJECTED: "REJECTED",
    CommandStatus.NOT_SUPPORTED: "NOT_SUPPORTED",
    CommandStatus.FAILED: "FAILED",
    CommandStatus.OFFLINE: "FAILED",
    CommandStatus.TIMEOUT: "TIMEOUT",
    CommandStatus.PENDING: "TIMEOUT",
}
# 2.1.1 has no CommandResult: its CommandResponse words.
_RESULTS_2_1_1 = {"EVSE_OCCUPIED": "REJECTED", "EVSE_INOPERATIVE": "REJECTED", "FAILED": "REJECTED"}
_RESULTS_2_1_1.update(UNKNOWN_RESERVATION="REJECTED", CANCELED_RESERVATION="ACCEPTED")


def command_result_of(command: str, outcome: CommandOutcome) -> tuple[str, str]:
    """The OCPI CommandResultType (and a message) of a station command's outcome."""
    result = _RESULTS[outcome.status]
    said = outcome.station_status
    if outcome.status is CommandStatus.REJECTED:
        if command == "RESERVE_NOW" and said == "Occupied":
            result = "EVSE_OCCUPIED"
        elif command == "RESERVE_NOW" and said in ("Unavailable", "Faulted"):
            result = "EVSE_INOPERATIVE"
        elif command == "CANCEL_RESERVATION":
            result = "UNKNOWN_RESERVATION"
    message = outcome.message or (f"the station answered {said}" if said else "")
    if result == "ACCEPTED":
        message = ""
    if outcome.status is CommandStatus.OFFLINE:
        message = message or "the charge station is not connected"
    return result, message


def command_run(*, command_id: int, now: datetime | None = None) -> str:
    """Send a received command to its station, wait for the answer, owe the partner the
    result (push outbox). Idempotent: a command with a result is not sent again."""
    row = OcpiCommand.objects.select_related("connection").get(pk=command_id)
    if row.result or row.response != "ACCEPTED":
        return row.result
    conn = row.connection
    request: dict[str, Any] = row.request if isinstance(row.request, dict) else {}
    token: dict[str, Any] = request["token"] if isinstance(request.get("token"), dict) else {}
    message = ""
    try:
        plan = _plan(
            conn,
            row.command,
            request,
            cpo=None,
            token_uid=_stored_uid(conn, token),
            this_command_pk=row.pk,
        )
        outcome = locations_api.charge_station_command(
            tenant_id=conn.tenant_id,
            station_id=plan.station_id,
            command=plan.command,
            requested_by=f"ocpi:{conn.pk}:{row.uid}"[:150],
            actor=tokens_in.connection_actor(conn),
        )
    except _Answer as answer:
        result, message = "REJECTED", answer.message
    except (DomainError, Refused) as exc:
        result, message = "FAILED", str(getattr(exc, "message", exc))
    else:
        result, message = command_result_of(row.command, outcome)
        row.relay_id = str(outcome.id)
    row.result = result
    row.result_at = now or timezone.now()
    row.save(update_fields=["result", "result_at", "relay_id", "updated_at"])
    _result_push(row, conn, result, message)
    return result


def _stored_uid(conn: OcpiConnection, token: dict[str, Any]) -> str:
    """The uid of the command's token as we stored it at receipt (the casing first received:
    what the station will send back as its idTag), else as the partner wrote it."""
    uid = str(token.get("uid") or "")
    party = _single_emsp(conn)
    cc = str(token.get("country_code") or (party[0] if party else ""))
    pid = str(token.get("party_id") or (party[1] if party else ""))
    if not uid:
        return ""
    try:
        party_pk, _, _ = tokens_in.emsp_party(conn, cc, pid)
    except Refused:
        return uid
    record = tokens_api.token_partner_find(tenant_id=conn.tenant_id, party_pk=party_pk, uid=uid)
    return record.uid if record is not None else uid


def _result_push(row: OcpiCommand, conn: OcpiConnection, result: str, message: str) -> None:
    if conn.version == OcpiVersion.V2_1_1.value:
        result = _RESULTS_2_1_1.get(result, result)
    body: dict[str, Any] = {"result": result}
    if message:
        body["message"] = [{"language": "en", "text": message[:512]}]
    token = row.request.get("token") if isinstance(row.request, dict) else None
    to = None
    if isinstance(token, dict) and token.get("country_code") and token.get("party_id"):
        to = (str(token["country_code"]).upper(), str(token["party_id"]).upper())
    to = to or _single_emsp(conn)
    push.push_enqueue(
        connection_id=conn.pk,
        module="commands",
        method="POST",
        path=row.response_url,
        key=f"command-result:{row.uid}",
        body=body,
        to_party=to,
    )


def command_authorization_references(
    *, tenant_id: int, references: Iterable[str]
) -> dict[str, str]:
    """For sessions started by a remote start (auth method COMMAND, whose reference is the
    station command's id): the `authorization_reference` the eMSP sent in its START_SESSION,
    which OCPI wants on the Session and the CDR. Our reference -> theirs, for those of
    `references` that were OCPI START_SESSIONs of this tenant carrying one."""
    wanted = {r for r in references if r}
    rows = OcpiCommand.objects.filter(
        tenant_id=tenant_id,
        direction=CommandDirection.RECEIVED.value,
        command="START_SESSION",
        relay_id__in=wanted,
    ).values_list("relay_id", "request")
    out: dict[str, str] = {}
    for relay_id, request in rows:
        theirs = request.get("authorization_reference") if isinstance(request, dict) else None
        if isinstance(theirs, str) and theirs:
            out[relay_id] = theirs[:36]
    return out
