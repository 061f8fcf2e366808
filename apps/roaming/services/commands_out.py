"""Commands we send to a CPO partner as eMSP (mod_commands): START_SESSION, STOP_SESSION,
RESERVE_NOW, CANCEL_RESERVATION, UNLOCK_CONNECTOR.

Asynchronous (ROAMING.md "Commands are asynchronous"): the POST to the partner's commands
RECEIVER answers a CommandResponse (`response`: ACCEPTED, REJECTED, ...) at once; the
partner then POSTs a CommandResult to the `response_url` we gave,
`<OCPI_BASE_URL>/ocpi/<version>/emsp/commands/<uid>` (`uid`: a fresh UUID, the OcpiCommand
row's), which fills `result`. When the call fails, `response` says why: NO_ANSWER (network,
5xx, 3xxx: nothing known) or REJECTED (the partner refused it, 2xxx / 4xx).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import NotFound, ValidationFailed
from apps.parties import api as parties_api
from apps.roaming import client, transport
from apps.roaming.contracts import (
    CommandDirection,
    ConnectionStatus,
    InterfaceRole,
    OcpiRole,
    OcpiVersion,
)
from apps.roaming.models import OcpiCommand, OcpiConnection, OcpiPartyRole
from apps.roaming.services import push
from apps.roaming.services.emsp_tokens import own_emsp_parties, token_object
from apps.tokens import api as tokens_api

COMMANDS = (
    "START_SESSION",
    "STOP_SESSION",
    "RESERVE_NOW",
    "CANCEL_RESERVATION",
    "UNLOCK_CONNECTOR",
)
# What each command needs from the caller (besides the token, where it takes one).
_NEEDS: dict[str, tuple[str, ...]] = {
    "START_SESSION": ("token_id", "location_id"),
    "STOP_SESSION": ("session_id",),
    "RESERVE_NOW": ("token_id", "expiry_date", "reservation_id", "location_id"),
    "CANCEL_RESERVATION": ("reservation_id",),
    "UNLOCK_CONNECTOR": ("location_id", "evse_uid", "connector_id"),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "START_SESSION": ("evse_uid", "connector_id", "authorization_reference"),
    "RESERVE_NOW": ("evse_uid", "authorization_reference"),
}

# 2.2 additions a 2.1.1 partner does not know (outbound strict: never sent to it).
_NOT_IN_211 = frozenset({"connector_id", "authorization_reference"})
_NOT_IN_211_COMMANDS = ("START_SESSION", "RESERVE_NOW")


class CommandInvalid(ValidationFailed):
    """The command cannot be sent as asked (what is missing or wrong, in the message)."""


@dataclass(frozen=True)
class CommandRecord:
    uid: str
    connection_id: int
    command: str
    request: dict[str, Any]
    response: str
    result: str
    result_at: datetime | None
    created_at: datetime
    message: str = ""


def _record(row: OcpiCommand, message: str = "") -> CommandRecord:
    return CommandRecord(
        uid=row.uid,
        connection_id=row.connection_id,
        command=row.command,
        request=row.request,
        response=row.response,
        result=row.result,
        result_at=row.result_at,
        created_at=row.created_at,
        message=message,
    )


def response_url(version: str, uid: str) -> str:
    return f"{settings.OCPI_BASE_URL}/ocpi/{version}/emsp/commands/{uid}"


def _body(
    tenant_id: int, command: str, args: Mapping[str, Any], version: str, url: str
) -> dict[str, Any]:
    missing = [n for n in _NEEDS[command] if args.get(n) in (None, "")]
    if missing:
        raise CommandInvalid(f"{command} needs {', '.join(missing)}")
    body: dict[str, Any] = {"response_url": url}
    for name in (*_NEEDS[command], *_OPTIONAL.get(command, ())):
        value = args.get(name)
        if value in (None, "") or (
            version == OcpiVersion.V2_1_1.value
            and command in _NOT_IN_211_COMMANDS
            and name in _NOT_IN_211
        ):
            continue
        if name == "token_id":
            rec = tokens_api.token_get(tenant_id=tenant_id, token_id=int(value))
            if (rec.country_code, rec.party_id) not in set(own_emsp_parties(tenant_id).values()):
                raise CommandInvalid("the token is not one of this tenant's own eMSP tokens")
            body["token"] = token_object(rec, version=version)
        elif name == "expiry_date" and isinstance(value, datetime):
            body[name] = transport.iso(value)
        else:
            body[name] = str(value)
    return body


def _partner(conn: OcpiConnection) -> tuple[str, str] | None:
    row = (
        OcpiPartyRole.objects.filter(connection=conn, role=OcpiRole.CPO.value)
        .order_by("id")
        .values_list("country_code", "party_id")
        .first()
    )
    return (row[0], row[1]) if row else None


def command_send(
    *,
    tenant_id: int,
    connection_id: int,
    command: str,
    args: Mapping[str, Any],
    actor: Actor,
    now: datetime | None = None,
) -> CommandRecord:
    """Send one command to the CPO partner and record it (OcpiCommand, direction SENT),
    audited with the actor. Not inside a transaction: the row is committed before the
    partner is called, so a result that arrives before the answer finds it."""
    command = command.upper()
    if command not in COMMANDS:
        raise CommandInvalid(f"unknown command {command!r} (one of {', '.join(COMMANDS)})")
    conn = OcpiConnection.objects.filter(pk=connection_id, tenant_id=tenant_id).first()
    if conn is None:
        raise NotFound(f"no OCPI connection {connection_id} in this tenant")
    version = conn.version or OcpiVersion.V2_2_1.value
    base = client.endpoint_url(conn, "commands", InterfaceRole.RECEIVER.value)
    if base is None:
        raise CommandInvalid("the partner lists no commands receiver endpoint")
    uid = str(uuid.uuid4())
    url = response_url(version, uid)
    body = _body(tenant_id, command, args, version, url)
    row = OcpiCommand.objects.create(
        tenant_id=tenant_id,
        connection=conn,
        direction=CommandDirection.SENT.value,
        command=command,
        uid=uid,
        request=body,
        response_url=url,
    )
    parties_api.audit(
        tenant_id,
        actor,
        "ocpi_command.send",
        "ocpi_command",
        row.pk,
        after={"command": command, "connection_id": conn.pk, "uid": uid},
    )
    message = ""
    try:
        reply = client.call(
            connection=conn,
            method="POST",
            url=base.rstrip("/") + "/" + command,
            module="commands",
            body=body,
            from_party=push.own_party(tenant_id, "commands"),
            to_party=_partner(conn),
        )
        data = reply.data if isinstance(reply.data, Mapping) else {}
        row.response = str(data.get("result") or "")[:16]
        message = _message(data.get("message"))
    except client.OcpiCallFailed as exc:
        row.response = "NO_ANSWER" if exc.retryable else "REJECTED"
        message = str(exc)
    row.save(update_fields=["response", "updated_at"])
    return _record(row, message)


def _message(value: Any) -> str:
    """A DisplayText list (2.2.1 `message`) as one line."""
    if isinstance(value, list):
        return " / ".join(str(m.get("text", "")) for m in value if isinstance(m, Mapping))
    return str(value or "")


def command_result_receive(
    *, connection_id: int, uid: str, body: Any, now: datetime | None = None
) -> CommandRecord | None:
    """The partner's CommandResult for one of our commands (2.1.1: a CommandResponse);
    None when no command of this connection has that uid. A later result replaces an
    earlier one (a partner may send TIMEOUT, then the real answer)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("result"), str):
        raise CommandInvalid("$.result is required (a CommandResultType)")
    row = OcpiCommand.objects.filter(
        uid=uid, connection_id=connection_id, direction=CommandDirection.SENT.value
    ).first()
    if row is None:
        return None
    row.result = body["result"][:24]
    row.result_at = now or timezone.now()
    row.save(update_fields=["result", "result_at", "updated_at"])
    return _record(row, _message(body.get("message")))


def command_get(*, tenant_id: int, uid: str) -> CommandRecord | None:
    row = OcpiCommand.objects.filter(
        tenant_id=tenant_id, uid=uid, direction=CommandDirection.SENT.value
    ).first()
    return None if row is None else _record(row)


def commands_sent(
    *, tenant_id: int, connection_id: int | None = None, limit: int = 50
) -> list[CommandRecord]:
    qs = OcpiCommand.objects.filter(tenant_id=tenant_id, direction=CommandDirection.SENT.value)
    if connection_id is not None:
        qs = qs.filter(connection_id=connection_id)
    return [_record(r) for r in qs.order_by("-created_at", "-id")[:limit]]


def cpo_connections(*, tenant_id: int) -> list[tuple[int, str]]:
    """(id, name) of the tenant's REGISTERED connections with a CPO partner: where commands
    can go and whose CDRs are reconciled."""
    return list(
        OcpiConnection.objects.filter(
            tenant_id=tenant_id,
            status=ConnectionStatus.REGISTERED.value,
            roles__role=OcpiRole.CPO.value,
        )
        .distinct()
        .order_by("name", "id")
        .values_list("id", "name")
    )
