"""OCPP 1.5: the 1.6 rows it shares, and its own spelling where it differs."""

from __future__ import annotations

from typing import Any

from apps.locations.contracts import CommandKind, RemoteStart, SendLocalList
from csms_gateway.commands.common import Invalid, Mapping, opt
from csms_gateway.commands.v16 import V16, local_list_16


def _local_list_15(c: SendLocalList) -> dict[str, Any]:
    """1.6's payload with 1.5's spelling of the list (localAuthorisationList); the
    optional hash of the list is not sent."""
    payload = local_list_16(c)
    payload["localAuthorisationList"] = payload.pop("localAuthorizationList")
    return payload


def _no_profile_15(c: RemoteStart) -> dict[str, Any]:
    if c.charging_profile is not None:
        raise Invalid("$.chargingProfile: OCPP 1.5 has no smart charging")
    return opt(connectorId=c.evse_id, idTag=c.id_tag)


# OCPP 1.5 has the 1.6 Core / firmware / local list / reservation commands with the same
# payloads, and no smart charging, TriggerMessage or certificates (those stay NOT_SUPPORTED).
# Its payloads are validated against the project's 1.5 schemas (`csms_gateway/schemas_v15`,
# ADR 0012) like any.
V15: dict[CommandKind, Mapping] = {
    **{
        kind: V16[kind]
        for kind in (
            CommandKind.REMOTE_STOP,
            CommandKind.RESET,
            CommandKind.UNLOCK_CONNECTOR,  # 1.5 answers Accepted / Rejected
            CommandKind.CHANGE_AVAILABILITY,
            CommandKind.GET_CONFIGURATION,
            CommandKind.CHANGE_CONFIGURATION,
            CommandKind.CLEAR_CACHE,
            CommandKind.UPDATE_FIRMWARE,
            CommandKind.GET_DIAGNOSTICS,
            CommandKind.RESERVE_NOW,
            CommandKind.CANCEL_RESERVATION,
            CommandKind.GET_LOCAL_LIST_VERSION,
            CommandKind.DATA_TRANSFER,
        )
    },
    CommandKind.REMOTE_START: Mapping("RemoteStartTransaction", _no_profile_15),
    CommandKind.SEND_LOCAL_LIST: Mapping("SendLocalList", _local_list_15),
}
