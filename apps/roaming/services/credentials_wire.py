"""The credentials module as both sides of a connection use it (ADR 0040): our own
credentials object and addresses, a partner's credentials / versions / details read
leniently (refused with the place of the problem), calls to the partner with the
Authorization fallback, discovery of its version and endpoints, and storing what it told us
(endpoints, roles linked to PARTNER parties). The handshakes themselves are in
`connections` (ours and the partner's credentials calls) and `hub_client_info`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.common.contracts import Actor
from apps.common.errors import DomainError, NotFound, ValidationFailed
from apps.parties import api as parties_api
from apps.parties.contracts import PartyKind, PartyRole
from apps.roaming import client, transport
from apps.roaming.contracts import (
    SUPPORTED_VERSIONS,
    ConnectionRef,
    ConnectionStatus,
    HubPartyStatus,
    Initiator,
    OcpiRole,
    OcpiVersion,
    PartyRoleRef,
)
from apps.roaming.models import OcpiConnection, OcpiEndpoint, OcpiPartyRole

# Endpoints every partner must list, or we do not register with it / refuse its
# registration (3003): the credentials module. What else depends on the partner's role
# (NEEDED_FROM_CPO below); the other modules are optional, and the other areas skip what
# is not listed.
REQUIRED_MODULES = frozenset({"credentials"})
# What a first registration (either direction) also needs, by what the partner is to us
# (docs/roaming.md "Required endpoints"). OCPI makes every module but credentials
# optional and lets each party refuse a partner that lacks "the minimal implementation
# expected" (3003). As eMSP we need a CPO's (or a hub's) locations and CDRs Sender
# interfaces: the pull is our catch-up for every push we missed, and without CDRs we
# cannot bill. Nothing more: tariffs (CDRs carry their tariffs; re-pricing flags what it
# cannot check), sessions, tokens and commands (the extrawest peer does not list it) are
# optional. As CPO we need nothing beyond credentials: an eMSP may pull sessions and CDRs
# from our senders and push its tokens to our receiver.
NEEDED_FROM_CPO = (("locations", "SENDER"), ("cdrs", "SENDER"))
_AUTH_REFUSED = (401, 403)  # a partner that refuses one Authorization form may take the other


class ConnectionFailed(DomainError):
    """Registering with a partner or rotating failed; the connection is as it was before
    (PENDING with `last_error` after a first registration). `ocpi_status`: the OCPI status
    that names the failure (3002 no common version, 3003 endpoints missing, 3001 the
    partner could not be used), when one applies."""

    def __init__(self, message: str, *, connection_id: int, ocpi_status: int | None = None):
        super().__init__(message)
        self.connection_id = connection_id
        self.ocpi_status = ocpi_status


class CredentialsRefused(Exception):
    """An inbound credentials / hubclientinfo request we refuse: the view answers with
    this HTTP status and OCPI status code."""

    def __init__(self, http_status: int, status_code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code
        self.message = message


def partner_actor(name: str) -> Actor:
    """The audit log's name for a change the partner made over OCPI."""
    return Actor.system(f"OCPI partner {name}")


# -- our own addresses and credentials ----------------------------------------------------


def our_versions_url() -> str:
    return f"{settings.OCPI_BASE_URL}/ocpi/versions"


def our_version_url(version: str) -> str:
    return f"{settings.OCPI_BASE_URL}/ocpi/{version}/"


def our_credentials(
    *, tenant_id: int, version: str, token: str, partner_roles: Iterable[str] = ()
) -> dict[str, Any]:
    """Our credentials object with `token` (the token the partner is to send us).
    2.2.1: every own CPO / eMSP identity of the tenant as a role with business details.
    2.1.1 (one party, no role): the own identity that serves the partner: our eMSP when the
    partner is a CPO, else our CPO (else whichever we have)."""
    own = [
        p
        for p in parties_api.parties_of_tenant(tenant_id=tenant_id)
        if p.kind is PartyKind.OWN and p.role in (PartyRole.CPO, PartyRole.EMSP)
    ]
    if not own:
        raise ValidationFailed("this tenant has no own CPO or eMSP identity to present")
    if version == OcpiVersion.V2_1_1.value:
        prefer = PartyRole.EMSP if set(partner_roles) == {"CPO"} else PartyRole.CPO
        p = next((x for x in own if x.role is prefer), own[0])
        return {
            "token": token,
            "url": our_versions_url(),
            "party_id": p.party_id,
            "country_code": p.country_code,
            "business_details": {"name": p.name},
        }
    return {
        "token": token,
        "url": our_versions_url(),
        "roles": [
            {
                "role": p.role.value,
                "party_id": p.party_id,
                "country_code": p.country_code,
                "business_details": {"name": p.name},
            }
            for p in own
        ],
    }


def own_role_21(tenant_id: int, partner_roles: Iterable[str] = ()) -> PartyRole:
    """The role we present on a 2.1.1 connection (see `our_credentials`)."""
    own = {
        p.role
        for p in parties_api.parties_of_tenant(tenant_id=tenant_id)
        if p.kind is PartyKind.OWN
    }
    if set(partner_roles) == {"CPO"} and PartyRole.EMSP in own:
        return PartyRole.EMSP
    return PartyRole.CPO if PartyRole.CPO in own else PartyRole.EMSP


# -- what partners send: parsed leniently, refused with the place of the problem ------------


@dataclass(frozen=True)
class RoleIn:
    role: str
    country_code: str
    party_id: str
    name: str
    website: str


@dataclass(frozen=True)
class CredentialsIn:
    token: str
    url: str
    roles: tuple[RoleIn, ...]


def clean_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _role_in(obj: Mapping[str, Any], where: str, role: str) -> RoleIn:
    cc, pid = clean_text(obj.get("country_code")), clean_text(obj.get("party_id"))
    if len(cc) != 2 or not cc.isalpha():
        raise ValueError(f"{where}.country_code: {cc!r} is not a two-letter country code")
    if len(pid) != 3 or not pid.isalnum():
        raise ValueError(f"{where}.party_id: {pid!r} is not a three-character party id")
    details = obj.get("business_details")
    details = details if isinstance(details, Mapping) else {}
    return RoleIn(
        role=role,
        country_code=cc,
        party_id=pid,
        name=clean_text(details.get("name"))[:200],
        website=clean_text(details.get("website"))[:500],
    )


def parse_credentials(body: Any, *, version: str, own_role: str = "CPO") -> CredentialsIn:
    """A credentials object (2.2.1 `roles`, or 2.1.1's single party; either shape is read
    whatever the version, as partners mix them). Raises ValueError naming the field.
    2.1.1 names no role: the partner is taken as the counterpart of `own_role`."""
    if not isinstance(body, Mapping):
        raise ValueError("$: a credentials object is required")
    token = body.get("token")
    if not isinstance(token, str) or not token.strip():
        raise ValueError("$.token: a non-empty string is required")
    if not token.isprintable() or any(c.isspace() for c in token):
        raise ValueError("$.token: printable characters without spaces only")
    url = clean_text(body.get("url"))
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"$.url: {url!r} is not an http(s) URL of a versions endpoint")
    roles: list[RoleIn] = []
    raw_roles = body.get("roles")
    if isinstance(raw_roles, list) and raw_roles:
        for i, r in enumerate(raw_roles):
            if not isinstance(r, Mapping):
                raise ValueError(f"$.roles[{i}]: an object is required")
            role = clean_text(r.get("role")).upper()
            if role not in OcpiRole.__members__:
                raise ValueError(f"$.roles[{i}].role: {role!r} is not an OCPI role")
            roles.append(_role_in(r, f"$.roles[{i}]", role))
    elif body.get("party_id") is not None:
        other = "EMSP" if own_role == "CPO" else "CPO"
        roles.append(_role_in(body, "$", other))
    else:
        where = "$.roles" if version != OcpiVersion.V2_1_1.value else "$.party_id"
        raise ValueError(f"{where}: the partner's roles are required")
    return CredentialsIn(token=token.strip(), url=url, roles=tuple(roles))


def _versions(data: Any) -> dict[str, str]:
    """version -> details URL from a versions answer (lenient: a bare list or one wrapped
    in `versions`, unknown entries skipped)."""
    if isinstance(data, Mapping):
        data = data.get("versions")
    out: dict[str, str] = {}
    for item in data if isinstance(data, list) else []:
        if isinstance(item, Mapping):
            v, u = clean_text(str(item.get("version") or "")), clean_text(item.get("url"))
            if v and u:
                out[v] = u
    return out


def _endpoints(data: Any) -> list[tuple[str, str, str]]:
    """(module, interface role, url) from a version details answer, lenient: identifiers
    lower-cased, a missing role is "" (2.1.1), entries without identifier or URL skipped."""
    items = data.get("endpoints") if isinstance(data, Mapping) else None
    out: dict[tuple[str, str], str] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        module = clean_text(item.get("identifier")).lower()
        role = clean_text(item.get("role")).upper()
        url = clean_text(item.get("url"))
        if module and url and role in ("", "SENDER", "RECEIVER"):
            out[(module[:32], role)] = url
    return [(m, r, u) for (m, r), u in out.items()]


def _versions_text(offered: Iterable[str]) -> str:
    return ", ".join(sorted(offered)) or "none"


# -- calls to the partner -----------------------------------------------------------------


def call_partner(
    conn: OcpiConnection, method: str, url: str, module: str, *, token: str, body: Any = None
) -> client.OcpiReply:
    """One call with `token`, in the connection's Authorization form; on 401 / 403 once
    more in the other form, which the connection then keeps (a partner that refuses one
    form may accept the other: ROAMING.md "Authorization header")."""
    try:
        return client.call(
            connection=conn, method=method, url=url, module=module, body=body, token=token
        )
    except client.OcpiCallFailed as exc:
        if exc.http_status not in _AUTH_REFUSED:
            raise
    reply = client.call(
        connection=conn,
        method=method,
        url=url,
        module=module,
        body=body,
        token=token,
        base64_token=not conn.auth_base64,
    )
    conn.auth_base64 = not conn.auth_base64
    OcpiConnection.objects.filter(pk=conn.pk).update(auth_base64=conn.auth_base64)
    return reply


@dataclass(frozen=True)
class Discovered:
    version: str
    endpoints: list[tuple[str, str, str]]


class Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def discover(
    conn: OcpiConnection, *, versions_url: str, token: str, version: str | None
) -> Discovered:
    """GET the partner's versions, pick `version` (or the highest we share), GET its
    details. Raises Refusal (3002 / 3003) or client.OcpiCallFailed."""
    offered = _versions(call_partner(conn, "GET", versions_url, "versions", token=token).data)
    if version is None:
        version = next((v.value for v in SUPPORTED_VERSIONS if v.value in offered), None)
        if version is None:
            raise Refusal(
                transport.UNSUPPORTED_VERSION,
                f"no common OCPI version: the partner offers {_versions_text(offered)}; "
                f"we support {', '.join(v.value for v in SUPPORTED_VERSIONS)}",
            )
    elif version not in offered:
        raise Refusal(
            transport.UNSUPPORTED_VERSION,
            f"the partner does not offer OCPI {version} (it offers {_versions_text(offered)})",
        )
    conn.version = version  # the version the details call is logged under
    details = call_partner(conn, "GET", offered[version], "versions", token=token).data
    endpoints = _endpoints(details)
    missing = REQUIRED_MODULES - {m for m, _, _ in endpoints}
    if missing:
        raise Refusal(
            transport.NO_MATCHING_ENDPOINTS,
            f"the partner's OCPI {version} details list no {', '.join(sorted(missing))} endpoint",
        )
    return Discovered(version=version, endpoints=endpoints)


def missing_for_roles(
    *,
    tenant_id: int,
    partner_roles: Iterable[str],
    endpoints: Iterable[tuple[str, str, str]],
    version: str,
) -> str | None:
    """The 3003 message when the partner, by its roles, lacks an endpoint we need (see
    NEEDED_FROM_CPO), else None. A 2.1.1 endpoint has no interface role: listed counts."""
    roles = {r.upper() for r in partner_roles}
    own = {
        p.role
        for p in parties_api.parties_of_tenant(tenant_id=tenant_id)
        if p.kind is PartyKind.OWN
    }
    if PartyRole.EMSP not in own or not roles & {OcpiRole.CPO.value, OcpiRole.HUB.value}:
        return None
    have = {(m, r.upper()) for m, r, _ in endpoints}
    missing = [
        f"{module} ({role})"
        for module, role in NEEDED_FROM_CPO
        if (module, role) not in have and (module, "") not in have
    ]
    if not missing:
        return None
    what = "hub" if OcpiRole.HUB.value in roles else "CPO"
    return (
        f"the partner's OCPI {version} details list no {', '.join(missing)} endpoint: "
        f"as eMSP we need a {what}'s locations and cdrs Sender interfaces"
    )


_CPO_SENDS = frozenset({"locations", "tariffs", "sessions", "cdrs"})


def roles_from_endpoints(endpoints: Iterable[tuple[str, str, str]]) -> set[str]:
    """What a partner's 2.2.1 interface roles say it is before its credentials do: {"CPO"}
    when it serves a CPO's Sender interface (locations, tariffs, sessions, cdrs), which an
    eMSP never does. Receivers tell nothing (partners list tokens as RECEIVER whatever they
    are), nor do 2.1.1 endpoints (no role)."""
    for module, role, _ in endpoints:
        if role.upper() == "SENDER" and module in _CPO_SENDS:
            return {OcpiRole.CPO.value}
    return set()


def credentials_url(endpoints: Iterable[tuple[str, str, str]]) -> str:
    return next(u for m, _, u in endpoints if m == "credentials")


# -- storing what the partner told us -----------------------------------------------------


def store_endpoints(conn: OcpiConnection, endpoints: Iterable[tuple[str, str, str]]) -> None:
    OcpiEndpoint.objects.filter(connection=conn).delete()
    OcpiEndpoint.objects.bulk_create(
        [
            OcpiEndpoint(tenant_id=conn.tenant_id, connection=conn, module=m, role=r, url=u)
            for m, r, u in endpoints
        ]
    )


def link_partner(
    conn: OcpiConnection, role: str, cc: str, pid: str, name: str, website: str, actor: Actor
) -> int | None:
    try:
        party_role = PartyRole(role)
    except ValueError:
        return None
    return parties_api.partner_ensure(
        tenant_id=conn.tenant_id,
        actor=actor,
        role=party_role,
        country_code=cc,
        party_id=pid,
        name=name,
        website=website,
    )


def store_roles(conn: OcpiConnection, roles: Iterable[RoleIn], actor: Actor) -> None:
    """The partner's credentials roles, each linked to the tenant's PARTNER party (created
    when new). A role no longer announced is dropped, except on a hub: the parties behind
    it come from HubClientInfo, not from its credentials (it reports itself as HUB only)."""
    keep: set[int] = set()
    for r in roles:
        row, _ = OcpiPartyRole.objects.update_or_create(
            connection=conn,
            country_code=r.country_code.upper(),
            party_id=r.party_id.upper(),
            role=r.role,
            defaults={
                "tenant_id": conn.tenant_id,
                "name": r.name,
                "website": r.website if len(r.website) <= 500 else "",
                "partner_id": link_partner(
                    conn, r.role, r.country_code, r.party_id, r.name, r.website, actor
                ),
            },
        )
        keep.add(row.pk)
    conn.is_hub = any(r.role == OcpiRole.HUB.value for r in roles)
    if not conn.is_hub:
        OcpiPartyRole.objects.filter(connection=conn).exclude(pk__in=keep).delete()


def snapshot(conn: OcpiConnection) -> dict[str, Any]:
    """What the audit log shows of a connection (never a token, not even a digest)."""
    return {
        "name": conn.name,
        "versions_url": conn.versions_url,
        "version": conn.version,
        "status": conn.status,
        "initiator": conn.initiator,
        "auth_base64": conn.auth_base64,
        "is_hub": conn.is_hub,
        "roles": sorted(
            f"{r.role} {r.country_code}*{r.party_id}"
            for r in OcpiPartyRole.objects.filter(connection=conn)
        ),
    }


def connection_ref(conn: OcpiConnection) -> ConnectionRef:
    roles = tuple(
        PartyRoleRef(
            role=OcpiRole(r.role),
            country_code=r.country_code,
            party_id=r.party_id,
            name=r.name,
            party_pk=r.partner_id,
            hub_status=HubPartyStatus(r.hub_status),
        )
        for r in OcpiPartyRole.objects.filter(connection=conn)
    )
    return ConnectionRef(
        id=conn.pk,
        tenant_id=conn.tenant_id,
        name=conn.name,
        versions_url=conn.versions_url,
        version=conn.version,
        status=ConnectionStatus(conn.status),
        initiator=Initiator(conn.initiator),
        auth_base64=conn.auth_base64,
        is_hub=conn.is_hub,
        roles=roles,
        endpoints={(e.module, e.role): e.url for e in OcpiEndpoint.objects.filter(connection=conn)},
        registered_at=conn.registered_at,
    )


def audit_change(conn: OcpiConnection, actor: Actor, action: str, before: Any, after: Any) -> None:
    parties_api.audit(
        conn.tenant_id, actor, action, "ocpi_connection", conn.pk, before=before, after=after
    )


def connection_row(tenant_id: int | None, connection_id: int) -> OcpiConnection:
    qs = OcpiConnection.objects.filter(pk=connection_id)
    if tenant_id is not None:
        qs = qs.filter(tenant_id=tenant_id)
    conn = qs.first()
    if conn is None:
        raise NotFound(f"no OCPI connection {connection_id} in this tenant")
    return conn
