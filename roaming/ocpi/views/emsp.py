"""Our eMSP interfaces (area "emsp"): locations, tariffs, sessions and CDRs as RECEIVER, tokens
as SENDER (list and real-time authorize), and the callback of the commands we send. Each
view makes one call into apps.roaming.api and translates in and out; the rules (which party
may write what, flags, 2001) are the services'.

    locations/<cc>/<pid>/<location_id>[/<evse_uid>[/<connector_id>]]   GET PUT PATCH
    tariffs/<cc>/<pid>/<tariff_id>                                      GET PUT DELETE
    sessions/<cc>/<pid>/<session_id>                                    GET PUT PATCH
    cdrs                                                                POST (Location: ours)
    cdrs/<pk>                                                           GET
    tokens                                                              GET (paginated)
    tokens/<uid>/authorize[?type=]                                      POST
    commands/<uid>                                                      POST (CommandResult)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import URLPattern, path, re_path
from django.utils import timezone

from apps.roaming import api as roaming_api
from apps.roaming.api import transport
from roaming.ocpi.base import OcpiCall, OcpiFailure, OcpiResult, endpoint


def _failure(exc: roaming_api.EmspRejected) -> OcpiFailure:
    return OcpiFailure(exc.http_status, exc.status_code, exc.message)


def _not_allowed(request: HttpRequest) -> OcpiFailure:
    return OcpiFailure(405, transport.CLIENT_ERROR, f"{request.method} is not supported here")


def _not_found(what: str) -> OcpiFailure:
    return OcpiFailure(404, transport.CLIENT_ERROR, f"unknown {what}")


def _object(
    call: OcpiCall,
    request: HttpRequest,
    module: str,
    cc: str,
    pid: str,
    oid: str,
    *,
    methods: tuple[str, ...],
) -> OcpiResult:
    method = request.method or ""
    if method not in methods:
        raise _not_allowed(request)
    now = timezone.now()
    try:
        if method == "GET":
            data = roaming_api.emsp_object_get(
                connection_id=call.connection_id,
                module=module,
                country_code=cc,
                party_id=pid,
                object_id=oid,
            )
            if data is None:
                raise _not_found(f"{module[:-1]} {oid!r}")
            return OcpiResult(data=data)
        if method == "DELETE":
            roaming_api.emsp_tariff_delete(
                connection_id=call.connection_id,
                country_code=cc,
                party_id=pid,
                tariff_id=oid,
                now=now,
            )
            return OcpiResult()
        write = roaming_api.emsp_object_put if method == "PUT" else roaming_api.emsp_object_patch
        write(
            connection_id=call.connection_id,
            module=module,
            version=call.version,
            country_code=cc,
            party_id=pid,
            object_id=oid,
            body=call.body,
            now=now,
        )
        return OcpiResult()
    except roaming_api.EmspRejected as exc:
        raise _failure(exc) from exc


@endpoint("locations")
def location(
    call: OcpiCall,
    request: HttpRequest,
    cc: str,
    pid: str,
    location_id: str,
    evse_uid: str | None = None,
    connector_id: str | None = None,
) -> OcpiResult:
    if evse_uid is None:
        return _object(
            call, request, "locations", cc, pid, location_id, methods=("GET", "PUT", "PATCH")
        )
    method = request.method or ""
    try:
        if method == "GET":
            data = roaming_api.emsp_object_get(
                connection_id=call.connection_id,
                module="locations",
                country_code=cc,
                party_id=pid,
                object_id=location_id,
                evse_uid=evse_uid,
                connector_id=connector_id,
            )
            if data is None:
                raise _not_found("EVSE or connector")
            return OcpiResult(data=data)
        if method not in ("PUT", "PATCH"):
            raise _not_allowed(request)
        roaming_api.emsp_location_part_write(
            connection_id=call.connection_id,
            version=call.version,
            country_code=cc,
            party_id=pid,
            location_id=location_id,
            evse_uid=evse_uid,
            connector_id=connector_id,
            body=call.body,
            patch=method == "PATCH",
            now=timezone.now(),
        )
        return OcpiResult()
    except roaming_api.EmspRejected as exc:
        raise _failure(exc) from exc


@endpoint("tariffs")
def tariff(call: OcpiCall, request: HttpRequest, cc: str, pid: str, tariff_id: str) -> OcpiResult:
    return _object(call, request, "tariffs", cc, pid, tariff_id, methods=("GET", "PUT", "DELETE"))


@endpoint("sessions")
def session(call: OcpiCall, request: HttpRequest, cc: str, pid: str, session_id: str) -> OcpiResult:
    return _object(call, request, "sessions", cc, pid, session_id, methods=("GET", "PUT", "PATCH"))


def _cdr_url(version: str, pk: int) -> str:
    return f"{settings.OCPI_BASE_URL}/ocpi/{version}/emsp/cdrs/{pk}"


@endpoint("cdrs")
def cdrs(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    if request.method != "POST":
        raise _not_allowed(request)
    return cdr_post(call, request.body)


def cdr_post(call: OcpiCall, raw: bytes) -> OcpiResult:
    """A CDR POSTed (`raw` the body as sent, `call.body` parsed): 201 stored, 200 a repeat,
    Location our URL of it; the view's work, and the ASGI fast path's (roaming.ocpi.fast)."""
    routing = (
        call.routing.get(transport.FROM_COUNTRY, ""),
        call.routing.get(transport.FROM_PARTY, ""),
    )
    try:
        stored = roaming_api.emsp_cdr_receive(
            connection_id=call.connection_id,
            version=call.version,
            raw=raw.decode("utf-8", "replace"),
            body=call.body,
            now=timezone.now(),
            routing=routing if all(routing) else None,
        )
    except roaming_api.EmspRejected as exc:
        raise _failure(exc) from exc
    return OcpiResult(
        http_status=201 if stored.created else 200,
        headers={"Location": _cdr_url(call.version, stored.pk)},
    )


@endpoint("cdrs")
def cdr(call: OcpiCall, request: HttpRequest, pk: int) -> OcpiResult:
    if request.method != "GET":
        raise _not_allowed(request)
    raw = roaming_api.emsp_cdr_get(connection_id=call.connection_id, cdr_pk=pk)
    if raw is None:
        raise _not_found(f"CDR {pk}")
    return OcpiResult(data=transport.loads(raw))


def _when(request: HttpRequest, name: str) -> datetime | None:
    value = request.GET.get(name)
    if not value:
        return None
    try:
        # an unencoded "+01:00" arrives as " 01:00": read it as meant (inbound lenient)
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError as exc:
        raise OcpiFailure(400, transport.INVALID_PARAMETERS, f"{name} is not a DateTime") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(request: HttpRequest, name: str, default: int) -> int:
    value = request.GET.get(name)
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError as exc:
        raise OcpiFailure(400, transport.INVALID_PARAMETERS, f"{name} is not an integer") from exc
    if n < 0:
        raise OcpiFailure(400, transport.INVALID_PARAMETERS, f"{name} must not be negative")
    return n


def _cpo_only(call: OcpiCall) -> None:
    if not roaming_api.emsp_tokens_reader_allowed(connection_id=call.connection_id):
        raise OcpiFailure(403, transport.CLIENT_ERROR, "our tokens are for CPO partners only")


@endpoint("tokens")
def tokens(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    """GET: our tokens, paginated (date_from inclusive, date_to exclusive, offset, limit up
    to OCPI_PAGE_LIMIT), with X-Total-Count, X-Limit and a Link to the next page."""
    if request.method != "GET":
        raise _not_allowed(request)
    _cpo_only(call)
    cap = settings.OCPI_PAGE_LIMIT
    offset = _int(request, "offset", 0)
    limit = min(_int(request, "limit", cap) or cap, cap)
    page = roaming_api.emsp_tokens_page(
        tenant_id=call.tenant_id,
        version=call.version,
        date_from=_when(request, "date_from"),
        date_to=_when(request, "date_to"),
        offset=offset,
        limit=limit,
    )
    headers = {transport.TOTAL_COUNT: str(page.total), transport.LIMIT: str(cap)}
    if offset + len(page.items) < page.total:
        headers["Link"] = transport.next_link(
            request.build_absolute_uri(request.path),
            request.GET.dict(),
            offset=offset + len(page.items),
            limit=limit,
        )
    return OcpiResult(data=page.items, headers=headers)


@endpoint("tokens")
def token_authorize(call: OcpiCall, request: HttpRequest, uid: str) -> OcpiResult:
    if request.method != "POST":
        raise _not_allowed(request)
    _cpo_only(call)
    try:
        info = roaming_api.emsp_token_authorize(
            tenant_id=call.tenant_id,
            version=call.version,
            uid=uid,
            token_type=request.GET.get("type"),
            location=call.body,
        )
    except roaming_api.EmspAuthorizeInvalid as exc:
        raise OcpiFailure(400, transport.INVALID_PARAMETERS, str(exc)) from exc
    if info is None:
        raise OcpiFailure(404, transport.UNKNOWN_TOKEN, f"unknown token {uid!r}")
    return OcpiResult(data=info)


@endpoint("commands")
def command_result(call: OcpiCall, request: HttpRequest, uid: str) -> OcpiResult:
    if request.method != "POST":
        raise _not_allowed(request)
    try:
        found: Any = roaming_api.command_result_receive(
            connection_id=call.connection_id, uid=uid, body=call.body
        )
    except roaming_api.CommandInvalid as exc:
        raise OcpiFailure(400, transport.INVALID_PARAMETERS, str(exc)) from exc
    if found is None:
        raise _not_found(f"command {uid!r}")
    return OcpiResult()


_LOC = "locations/<str:cc>/<str:pid>/<str:location_id>"
_GLUED = r"(?P<cc>[A-Za-z]{2})/(?P<pid>[^/]+)/"
urlpatterns: list[URLPattern] = [
    path(_LOC, location, name="emsp-location"),
    path(f"{_LOC}/<str:evse_uid>", location, name="emsp-evse"),
    path(f"{_LOC}/<str:evse_uid>/<str:connector_id>", location, name="emsp-connector"),
    path("tariffs/<str:cc>/<str:pid>/<str:tariff_id>", tariff, name="emsp-tariff"),
    path("sessions/<str:cc>/<str:pid>/<str:session_id>", session, name="emsp-session"),
    # Inbound leniency: a CPO that glues the object's path to the URL we list without the
    # "/" (`…/emsp/sessionsNL/EXW/<id>`; the extrawest-ocpi library's own push does) reaches
    # the same views. Not listed anywhere; spelled as regexes so the version details' URL
    # of each module stays as it is.
    re_path(rf"^locations{_GLUED}(?P<location_id>[^/]+)$", location),
    re_path(rf"^tariffs{_GLUED}(?P<tariff_id>[^/]+)$", tariff),
    re_path(rf"^sessions{_GLUED}(?P<session_id>[^/]+)$", session),
    path("cdrs", cdrs, name="emsp-cdrs"),
    path("cdrs/<int:pk>", cdr, name="emsp-cdr"),
    path("tokens", tokens, name="emsp-tokens"),
    path("tokens/<str:uid>/authorize", token_authorize, name="emsp-token-authorize"),
    path("commands/<str:uid>", command_result, name="emsp-command-result"),
]
