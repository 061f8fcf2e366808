"""Every inbound OCPI endpoint goes through `endpoint`: the token decides the connection
(and so the tenant), the body is parsed leniently (Decimals exact), the answer is wrapped in
the envelope, the routing and request-id headers are set, and the exchange is logged.

    @endpoint("locations", role=InterfaceRole.SENDER)
    def locations_list(call: OcpiCall, request: HttpRequest) -> OcpiResult: ...

A view returns `OcpiResult` or raises `OcpiFailure(http_status, status_code, message)`;
anything else raised becomes HTTP 500 / 3000 with the exception logged, never a bare 500.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.roaming import api as roaming_api
from apps.roaming.api import transport
from apps.roaming.contracts import ConnectionStatus, Direction, ExchangeIn, InboundAuth

log = logging.getLogger(__name__)

CONFIGURATION_MODULES = transport.CONFIGURATION_MODULES
CORRELATION_ID = transport.CORRELATION_ID
FROM_COUNTRY = transport.FROM_COUNTRY
FROM_PARTY = transport.FROM_PARTY
REQUEST_ID = transport.REQUEST_ID
SERVER_ERROR = transport.SERVER_ERROR
TO_COUNTRY = transport.TO_COUNTRY
TO_PARTY = transport.TO_PARTY
dumps = transport.dumps
envelope = transport.envelope
loads = transport.loads
new_request_id = transport.new_request_id
token_candidates = transport.token_candidates

CLIENT_ERROR = 2000


class OcpiFailure(Exception):
    def __init__(self, http_status: int, status_code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code
        self.message = message


@dataclass
class OcpiResult:
    data: Any = None
    status_code: int = 1000
    http_status: int = 200
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OcpiCall:
    """What a view knows about the call: who (auth), the version in the URL, the parsed
    body (None without one), the routing headers as sent (may be empty: 2.1.1, peers that
    omit them), and the ids to echo."""

    auth: InboundAuth
    version: str
    module: str
    body: Any
    routing: Mapping[str, str]
    request_id: str
    correlation_id: str

    @property
    def tenant_id(self) -> int:
        return self.auth.tenant_id

    @property
    def connection_id(self) -> int:
        return self.auth.connection_id


View = Callable[..., OcpiResult]


def _response(result: OcpiResult, *, headers: Mapping[str, str]) -> HttpResponse:
    body = dumps(
        envelope(result.data, status_code=result.status_code, status_message=result.message)
    )
    resp = HttpResponse(body, status=result.http_status, content_type="application/json")
    for k, v in {**headers, **result.headers}.items():
        resp[k] = v
    return resp


@dataclass
class Admission:
    """What `admit` decided before the view runs (nothing written yet): the ids and headers
    to answer with, the routing headers as sent, who called (None: unknown token), the
    refusal when the call may not go on (token, connection status, JSON), else the body."""

    started: float
    request_id: str
    correlation_id: str
    out_headers: dict[str, str]
    routing: dict[str, str]
    auth: InboundAuth | None
    refused: OcpiResult | None
    body: Any = None


def admit(
    request: HttpRequest,
    module: str,
    *,
    allow_token_a: bool = False,
    allow_unregistered: bool = False,
) -> Admission:
    """The token (the connection and tenant), the connection's status and the body's JSON
    checked, the ids and routing headers read: the part of every OCPI call before its view,
    shared by `endpoint` and the ASGI fast path (roaming.ocpi.fast). Reads only."""
    started = time.monotonic()
    request_id = request.headers.get(REQUEST_ID) or new_request_id()
    correlation_id = request.headers.get(CORRELATION_ID) or request_id
    out_headers = {REQUEST_ID: request_id, CORRELATION_ID: correlation_id}
    routing = {
        h: request.headers.get(h, "") for h in (FROM_COUNTRY, FROM_PARTY, TO_COUNTRY, TO_PARTY)
    }
    if module not in CONFIGURATION_MODULES and routing[FROM_COUNTRY]:
        # Answer with the routing headers mirrored (2.2.1 transport).
        out_headers.update(
            {
                FROM_COUNTRY: routing[TO_COUNTRY],
                FROM_PARTY: routing[TO_PARTY],
                TO_COUNTRY: routing[FROM_COUNTRY],
                TO_PARTY: routing[FROM_PARTY],
            }
        )
    auth = roaming_api.inbound_auth(tokens=token_candidates(request.headers.get("Authorization")))
    admission = Admission(
        started, request_id, correlation_id, out_headers, routing, auth, refused=None
    )
    if auth is None or (auth.token_kind == "A" and not allow_token_a):
        admission.refused = OcpiResult(
            status_code=CLIENT_ERROR, http_status=401, message="unknown or invalid token"
        )
    elif auth.status is not ConnectionStatus.REGISTERED and not allow_unregistered:
        admission.refused = OcpiResult(
            status_code=CLIENT_ERROR,
            http_status=401 if auth.status is ConnectionStatus.PENDING else 403,
            message=f"the connection is {auth.status.value.lower()}",
        )
    else:
        try:
            if request.body:
                admission.body = loads(request.body)
        except ValueError as exc:
            admission.refused = OcpiResult(
                status_code=CLIENT_ERROR, http_status=400, message=f"invalid JSON: {exc}"
            )
    return admission


def answer(
    request: HttpRequest, module: str, admission: Admission, result: OcpiResult, error: str = ""
) -> HttpResponse:
    """The response (the envelope, the ids, routing and view's headers) and, when the
    caller is known, the exchange logged: the part of every OCPI call after its view."""
    response = _response(result, headers=admission.out_headers)
    auth = admission.auth
    if auth is not None:
        roaming_api.exchange_log(
            ExchangeIn(
                tenant_id=auth.tenant_id,
                connection_id=auth.connection_id,
                direction=Direction.IN,
                method=request.method or "",
                url=request.build_absolute_uri(),
                module=module,
                http_status=result.http_status,
                ocpi_status=result.status_code,
                duration_ms=int((time.monotonic() - admission.started) * 1000),
                request_id=admission.request_id,
                correlation_id=admission.correlation_id,
                request_headers={
                    k: v for k, v in request.headers.items() if k.lower() != "authorization"
                },
                request_body=request.body.decode("utf-8", "replace"),
                response_body=response.content.decode("utf-8", "replace"),
                error=error,
            )
        )
    return response


def call_of(admission: Admission, module: str, version: str) -> OcpiCall:
    """The view's view of an admitted call."""
    assert admission.auth is not None
    return OcpiCall(
        auth=admission.auth,
        version=version,
        module=module,
        body=admission.body,
        routing=admission.routing,
        request_id=admission.request_id,
        correlation_id=admission.correlation_id,
    )


def endpoint(
    module: str, *, allow_token_a: bool = False, allow_unregistered: bool = False
) -> Callable[[View], Callable[..., HttpResponse]]:
    """Wrap an OCPI view. `allow_token_a`: versions / credentials (the registration);
    `allow_unregistered`: a PENDING / SUSPENDED connection may call (versions, credentials)."""

    def wrap(view: View) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def handler(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            admission = admit(
                request,
                module,
                allow_token_a=allow_token_a,
                allow_unregistered=allow_unregistered,
            )
            error = ""
            if admission.refused is not None:
                result = admission.refused
            else:
                assert admission.auth is not None
                version = str(kwargs.pop("version", admission.auth.version))
                try:
                    result = view(call_of(admission, module, version), request, *args, **kwargs)
                except OcpiFailure as f:
                    result = OcpiResult(
                        status_code=f.status_code, http_status=f.http_status, message=f.message
                    )
                except Exception as exc:  # never a bare 500: the envelope says 3000
                    log.exception("OCPI %s %s failed", request.method, request.path)
                    error = f"{type(exc).__name__}: {exc}"
                    result = OcpiResult(
                        status_code=SERVER_ERROR, http_status=500, message="server error"
                    )
            return answer(request, module, admission, result, error)

        return handler

    return wrap
