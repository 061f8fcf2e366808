"""Our CPO receiver interfaces (area "cpo-receiver"): tokens and commands.

    /ocpi/<version>/cpo/tokens/<country_code>/<party_id>/<token_uid>[?type=]   GET PUT PATCH
    /ocpi/<version>/cpo/commands/<command>                                    POST

The work is in apps.roaming (services tokens_in / commands_in, through its api); these views
translate HTTP to it and its refusals to OCPI status codes.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, path

from apps.roaming import api as roaming_api
from roaming.ocpi.base import (
    FROM_COUNTRY,
    FROM_PARTY,
    TO_COUNTRY,
    TO_PARTY,
    OcpiCall,
    OcpiFailure,
    OcpiResult,
    endpoint,
)

_METHODS = ("GET", "PUT", "PATCH")


def _refused(exc: roaming_api.TokenRefused) -> OcpiFailure:
    return OcpiFailure(exc.http_status, exc.status_code, exc.message)


@endpoint("tokens")
def tokens(
    call: OcpiCall, request: HttpRequest, country_code: str, party_id: str, token_uid: str
) -> OcpiResult:
    """The tokens receiver: GET the token as we hold it, PUT it whole, PATCH some fields."""
    method = (request.method or "").upper()
    if method not in _METHODS:
        raise OcpiFailure(405, 2000, f"{method} is not a method of the tokens receiver")
    where: dict[str, Any] = {
        "connection_id": call.connection_id,
        "version": call.version,
        "country_code": country_code,
        "party_id": party_id,
        "uid": token_uid,
        "type_param": request.GET.get("type"),
    }
    try:
        if method == "GET":
            return OcpiResult(data=roaming_api.token_received_get(**where))
        if method == "PUT":
            roaming_api.token_received_put(**where, body=call.body)
        else:
            roaming_api.token_received_patch(**where, body=call.body)
    except roaming_api.TokenRefused as exc:
        raise _refused(exc) from None
    return OcpiResult()


def _party(call: OcpiCall, country: str, party: str) -> tuple[str, str] | None:
    cc, pid = call.routing.get(country, ""), call.routing.get(party, "")
    return (cc, pid) if cc and pid else None


@endpoint("commands")
def commands(call: OcpiCall, request: HttpRequest, command: str) -> OcpiResult:
    """The commands receiver: the CommandResponse at once; the result follows by POST to
    the request's `response_url`."""
    if (request.method or "").upper() != "POST":
        raise OcpiFailure(405, 2000, "the commands receiver takes POST only")
    try:
        answer = roaming_api.command_receive(
            connection_id=call.connection_id,
            version=call.version,
            command=command,
            body=call.body,
            emsp=_party(call, FROM_COUNTRY, FROM_PARTY),
            cpo=_party(call, TO_COUNTRY, TO_PARTY),
        )
    except roaming_api.TokenRefused as exc:
        raise _refused(exc) from None
    return OcpiResult(data=answer.as_ocpi(call.version))


urlpatterns: list[URLPattern] = [
    path(
        "tokens/<str:country_code>/<str:party_id>/<str:token_uid>",
        tokens,
        name="cpo-tokens-receiver",
    ),
    path("commands/<str:command>", commands, name="cpo-commands-receiver"),
]
