"""OCPI configuration modules: versions, version details, credentials (both sides of the
handshake's receiving end) and the HubClientInfo receiver. One versions URL for the
platform: the token names the connection and so the tenant (ADR 0040).

Version details list what this tenant serves: CPO modules when it has an own CPO identity,
eMSP modules when it has an own eMSP identity, and only modules whose routes exist (read
from the other views modules' `urlpatterns`, so a module appears once its views land).
2.2.1 endpoints carry their interface role; 2.1.1 has none, so a 2.1.1 connection sees one
role's modules: our eMSP's when the partner is a CPO, else our CPO's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, re_path

from apps.common.errors import DomainError
from apps.parties import api as parties_api
from apps.parties.contracts import PartyKind, PartyRole
from apps.roaming import api as roaming_api
from apps.roaming.contracts import SUPPORTED_VERSIONS, OcpiVersion
from roaming.ocpi.base import OcpiCall, OcpiFailure, OcpiResult, endpoint, token_candidates
from roaming.ocpi.views import cpo, cpo_receiver, emsp

# (module, interface role) per side, as design.md fixes them; listed when routes exist.
CPO_MODULES = (
    ("locations", "SENDER"),
    ("tariffs", "SENDER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
)
EMSP_MODULES = (
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tokens", "SENDER"),
    ("commands", "SENDER"),
)
_VERSIONS = {v.value for v in SUPPORTED_VERSIONS}


def _base() -> str:
    return f"{settings.OCPI_BASE_URL}/ocpi"


def _not_allowed(method: str) -> OcpiFailure:
    return OcpiFailure(405, 2000, f"method {method} not allowed here")


def _routes(patterns: Iterable[URLPattern | URLResolver]) -> list[str]:
    return [str(p.pattern).lstrip("^") for p in patterns]


def _module_url(version: str, side: str, module: str, routes: Sequence[str]) -> str | None:
    """The module's URL when some route serves it; with a trailing slash when its list
    route is written `<module>/` (so a GET needs no redirect)."""
    mine = [r for r in routes if r == module or r.startswith((module + "/", module + "$"))]
    if not mine:
        return None
    slash = "/" if f"{module}/" in mine or f"{module}/$" in mine else ""
    return f"{_base()}/{version}/{side}/{module}{slash}"


def _endpoints(version: str, tenant_id: int, partner_roles: Iterable[str]) -> list[dict[str, str]]:
    own = {
        p.role
        for p in parties_api.parties_of_tenant(tenant_id=tenant_id)
        if p.kind is PartyKind.OWN
    }
    sides: list[tuple[str, tuple[tuple[str, str], ...], list[str]]] = []
    if version == OcpiVersion.V2_1_1.value:
        presented = roaming_api.own_role_21(tenant_id, partner_roles)
        if presented in own:
            sides.append(_side(presented))
    else:
        sides.extend(_side(r) for r in (PartyRole.CPO, PartyRole.EMSP) if r in own)
    out = [
        {"identifier": "credentials", "role": "SENDER", "url": f"{_base()}/{version}/credentials"}
    ]
    for side, modules, routes in sides:
        for module, role in modules:
            url = _module_url(version, side, module, routes)
            if url:
                out.append({"identifier": module, "role": role, "url": url})
    if version != OcpiVersion.V2_1_1.value:
        out.append(
            {
                "identifier": "hubclientinfo",
                "role": "RECEIVER",
                "url": f"{_base()}/{version}/hubclientinfo",
            }
        )
    else:
        for e in out:
            e.pop("role")
    return out


def _side(role: PartyRole) -> tuple[str, tuple[tuple[str, str], ...], list[str]]:
    if role is PartyRole.CPO:
        return "cpo", CPO_MODULES, _routes([*cpo.urlpatterns, *cpo_receiver.urlpatterns])
    return "emsp", EMSP_MODULES, _routes(emsp.urlpatterns)


@endpoint("versions", allow_token_a=True, allow_unregistered=True)
def versions(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    if request.method != "GET":
        raise _not_allowed(request.method or "")
    return OcpiResult(
        data=[{"version": v.value, "url": f"{_base()}/{v.value}/"} for v in SUPPORTED_VERSIONS]
    )


@endpoint("versions", allow_token_a=True, allow_unregistered=True)
def version_details(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    if request.method != "GET":
        raise _not_allowed(request.method or "")
    if call.version not in _VERSIONS:
        raise OcpiFailure(404, 3002, f"unsupported OCPI version {call.version!r}")
    conn = roaming_api.connection_get(tenant_id=call.tenant_id, connection_id=call.connection_id)
    roles = [r.role.value for r in conn.roles]
    return OcpiResult(
        data={"version": call.version, "endpoints": _endpoints(call.version, call.tenant_id, roles)}
    )


def _presented_token(request: HttpRequest) -> str:
    """The token the caller authenticated with (raw or Base64: whichever form matched)."""
    for token in token_candidates(request.headers.get("Authorization")):
        if roaming_api.inbound_auth(tokens=(token,)) is not None:
            return token
    raise OcpiFailure(401, 2000, "unknown or invalid token")


@endpoint("credentials", allow_token_a=True, allow_unregistered=True)
def credentials(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    if call.version not in _VERSIONS:
        raise OcpiFailure(404, 3002, f"unsupported OCPI version {call.version!r}")
    method = request.method or ""
    try:
        if method == "GET":
            data: Any = roaming_api.credentials_get(
                connection_id=call.connection_id,
                version=call.version,
                token=_presented_token(request),
            )
        elif method in ("POST", "PUT"):
            data = roaming_api.credentials_receive(
                connection_id=call.connection_id,
                version=call.version,
                body=call.body,
                token_kind=call.auth.token_kind,
                method=method,
            )
        elif method == "DELETE":
            roaming_api.credentials_unregister(
                connection_id=call.connection_id, token_kind=call.auth.token_kind
            )
            data = None
        else:
            raise _not_allowed(method)
    except roaming_api.CredentialsRefused as exc:
        raise OcpiFailure(exc.http_status, exc.status_code, exc.message) from None
    except DomainError as exc:  # e.g. the tenant has no own identity to present
        raise OcpiFailure(200, 3000, str(exc)) from None
    return OcpiResult(data=data)


@endpoint("hubclientinfo")
def hub_client_info(
    call: OcpiCall, request: HttpRequest, country_code: str, party_id: str
) -> OcpiResult:
    if call.version == OcpiVersion.V2_1_1.value or call.version not in _VERSIONS:
        raise OcpiFailure(404, 2000, f"no hubclientinfo in OCPI {call.version}")
    try:
        if request.method == "GET":
            return OcpiResult(
                data=roaming_api.client_info_get(
                    connection_id=call.connection_id, country_code=country_code, party_id=party_id
                )
            )
        if request.method == "PUT":
            data, created = roaming_api.client_info_put(
                connection_id=call.connection_id,
                country_code=country_code,
                party_id=party_id,
                body=call.body,
            )
            return OcpiResult(data=data, http_status=201 if created else 200)
    except roaming_api.CredentialsRefused as exc:
        raise OcpiFailure(exc.http_status, exc.status_code, exc.message) from None
    raise _not_allowed(request.method or "")


_V = r"(?P<version>\d+(?:\.\d+)+)"
urlpatterns: list[URLPattern] = [
    re_path(r"^versions/?$", versions, name="versions"),
    re_path(rf"^{_V}/?$", version_details, name="version_details"),
    re_path(rf"^{_V}/credentials/?$", credentials, name="credentials"),
    re_path(
        rf"^{_V}/hubclientinfo/(?P<country_code>[A-Za-z]{{2}})/(?P<party_id>[A-Za-z0-9]{{3}})/?$",
        hub_client_info,
        name="hubclientinfo",
    ),
]
