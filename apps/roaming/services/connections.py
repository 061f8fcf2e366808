"""OCPI connections: the credentials handshake both ways, rotation, suspension, closing
(ROAMING.md "Connection", "Credentials handshake"; ADR 0040).

Tokens by use, never by letter (models.OcpiConnection):
- `token_a_digest`: a token A we issued (invite); cleared when the partner has registered.
- `our_token_digest`: the token the partner sends us. We registered with them: B (made by
  us, sent in our POST); they registered with us: C (made by us, returned by our answer).
- `their_token_encrypted`: the token we send. We register: their A, then the C they return;
  they registered: the B they POSTed.

The token we accept is committed *before* we call the partner with it (our POST / PUT):
the partner calls our versions back with it from its own process, while our call waits.
A failed handshake puts the previous state back (PENDING with `last_error`, or the
registered connection as it was): never half-registered.

Every configuration change is audited: with the person's actor when the operator acts,
with `partner_actor(name)` when the partner does (its POST / PUT / DELETE, HubClientInfo).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.common import crypto
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
from apps.roaming.services import push

log = logging.getLogger(__name__)

# Endpoints a partner must list, or we do not register with it / refuse its registration
# (3003). Only the credentials module: everything else is optional in OCPI, and which
# modules a partner serves is the other areas' concern (they skip what is not listed).
REQUIRED_MODULES = frozenset({"credentials"})
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


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _role_in(obj: Mapping[str, Any], where: str, role: str) -> RoleIn:
    cc, pid = _text(obj.get("country_code")), _text(obj.get("party_id"))
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
        name=_text(details.get("name"))[:200],
        website=_text(details.get("website"))[:500],
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
    url = _text(body.get("url"))
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"$.url: {url!r} is not an http(s) URL of a versions endpoint")
    roles: list[RoleIn] = []
    raw_roles = body.get("roles")
    if isinstance(raw_roles, list) and raw_roles:
        for i, r in enumerate(raw_roles):
            if not isinstance(r, Mapping):
                raise ValueError(f"$.roles[{i}]: an object is required")
            role = _text(r.get("role")).upper()
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
            v, u = _text(str(item.get("version") or "")), _text(item.get("url"))
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
        module = _text(item.get("identifier")).lower()
        role = _text(item.get("role")).upper()
        url = _text(item.get("url"))
        if module and url and role in ("", "SENDER", "RECEIVER"):
            out[(module[:32], role)] = url
    return [(m, r, u) for (m, r), u in out.items()]


def _versions_text(offered: Iterable[str]) -> str:
    return ", ".join(sorted(offered)) or "none"


# -- calls to the partner -----------------------------------------------------------------


def _call(
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
class _Discovered:
    version: str
    endpoints: list[tuple[str, str, str]]


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _discover(
    conn: OcpiConnection, *, versions_url: str, token: str, version: str | None
) -> _Discovered:
    """GET the partner's versions, pick `version` (or the highest we share), GET its
    details. Raises _Refusal (3002 / 3003) or client.OcpiCallFailed."""
    offered = _versions(_call(conn, "GET", versions_url, "versions", token=token).data)
    if version is None:
        version = next((v.value for v in SUPPORTED_VERSIONS if v.value in offered), None)
        if version is None:
            raise _Refusal(
                transport.UNSUPPORTED_VERSION,
                f"no common OCPI version: the partner offers {_versions_text(offered)}; "
                f"we support {', '.join(v.value for v in SUPPORTED_VERSIONS)}",
            )
    elif version not in offered:
        raise _Refusal(
            transport.UNSUPPORTED_VERSION,
            f"the partner does not offer OCPI {version} (it offers {_versions_text(offered)})",
        )
    conn.version = version  # the version the details call is logged under
    details = _call(conn, "GET", offered[version], "versions", token=token).data
    endpoints = _endpoints(details)
    missing = REQUIRED_MODULES - {m for m, _, _ in endpoints}
    if missing:
        raise _Refusal(
            transport.NO_MATCHING_ENDPOINTS,
            f"the partner's OCPI {version} details list no {', '.join(sorted(missing))} endpoint",
        )
    return _Discovered(version=version, endpoints=endpoints)


def _credentials_url(endpoints: Iterable[tuple[str, str, str]]) -> str:
    return next(u for m, _, u in endpoints if m == "credentials")


# -- storing what the partner told us -----------------------------------------------------


def _store_endpoints(conn: OcpiConnection, endpoints: Iterable[tuple[str, str, str]]) -> None:
    OcpiEndpoint.objects.filter(connection=conn).delete()
    OcpiEndpoint.objects.bulk_create(
        [
            OcpiEndpoint(tenant_id=conn.tenant_id, connection=conn, module=m, role=r, url=u)
            for m, r, u in endpoints
        ]
    )


def _link_partner(
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


def _store_roles(conn: OcpiConnection, roles: Iterable[RoleIn], actor: Actor) -> None:
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
                "partner_id": _link_partner(
                    conn, r.role, r.country_code, r.party_id, r.name, r.website, actor
                ),
            },
        )
        keep.add(row.pk)
    conn.is_hub = any(r.role == OcpiRole.HUB.value for r in roles)
    if not conn.is_hub:
        OcpiPartyRole.objects.filter(connection=conn).exclude(pk__in=keep).delete()


def _snapshot(conn: OcpiConnection) -> dict[str, Any]:
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


def _ref(conn: OcpiConnection) -> ConnectionRef:
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


def _audit(conn: OcpiConnection, actor: Actor, action: str, before: Any, after: Any) -> None:
    parties_api.audit(
        conn.tenant_id, actor, action, "ocpi_connection", conn.pk, before=before, after=after
    )


def _get(tenant_id: int | None, connection_id: int) -> OcpiConnection:
    qs = OcpiConnection.objects.filter(pk=connection_id)
    if tenant_id is not None:
        qs = qs.filter(tenant_id=tenant_id)
    conn = qs.first()
    if conn is None:
        raise NotFound(f"no OCPI connection {connection_id} in this tenant")
    return conn


# -- the operator's actions ----------------------------------------------------------------


def connection_invite(*, tenant_id: int, name: str, actor: Actor) -> tuple[ConnectionRef, str]:
    """A PENDING connection for a partner that will register with us; returns it and the
    token A to hand over (with `our_versions_url()`) out of band. Only its digest is kept:
    it is shown once."""
    token_a = transport.new_token()
    with transaction.atomic():
        conn = OcpiConnection.objects.create(
            tenant_id=tenant_id,
            name=name.strip()[:200],
            versions_url="",
            initiator=Initiator.THEM.value,
            token_a_digest=transport.token_digest(token_a),
        )
        _audit(conn, actor, "roaming.connection.invite", None, _snapshot(conn))
    return _ref(conn), token_a


def connection_register(
    *,
    tenant_id: int,
    name: str,
    versions_url: str,
    token_a: str,
    actor: Actor,
    auth_base64: bool = True,
) -> ConnectionRef:
    """Register with a partner that gave us its versions URL and token A (we are the
    credentials Sender). The connection is kept whatever happens; a failure raises
    ConnectionFailed and leaves it PENDING with `last_error` (`connection_update` retries).
    `auth_base64`: the Authorization form to try first (the other is tried on 401 / 403)."""
    token_a = token_a.strip()
    if not token_a:
        raise ValidationFailed("the partner's token A is required")
    with transaction.atomic():
        conn = OcpiConnection.objects.create(
            tenant_id=tenant_id,
            name=name.strip()[:200],
            versions_url=versions_url.strip(),
            initiator=Initiator.US.value,
            their_token_encrypted=crypto.encrypt(token_a),
            auth_base64=auth_base64,
        )
        _audit(conn, actor, "roaming.connection.register", None, _snapshot(conn))
    return _ref(_handshake(conn, actor=actor, first=True))


def connection_update(
    *, connection_id: int, actor: Actor, tenant_id: int | None = None
) -> ConnectionRef:
    """Our PUT credentials: re-fetch the partner's versions and endpoints (even when the
    version stays), send a new token for us to accept, keep the new one they return. On a
    PENDING connection we started, the registration is tried again instead. A failure
    raises ConnectionFailed; the connection keeps working with the previous tokens."""
    conn = _get(tenant_id, connection_id)
    if conn.status == ConnectionStatus.PENDING.value and conn.initiator == Initiator.US.value:
        return _ref(_handshake(conn, actor=actor, first=True))
    if conn.status in (ConnectionStatus.REGISTERED.value, ConnectionStatus.SUSPENDED.value):
        return _ref(_handshake(conn, actor=actor, first=False))
    raise ValidationFailed(
        f"a {conn.status.lower()} connection cannot be updated"
        + (
            " (the partner registers with the token A we issued)"
            if conn.status == ConnectionStatus.PENDING.value
            else ""
        )
    )


def _handshake(conn: OcpiConnection, *, actor: Actor, first: bool) -> OcpiConnection:
    """POST (first) or PUT credentials to the partner, our side of the handshake; returns
    the connection as stored."""
    before = _snapshot(conn)
    previous_digest, previous_version = conn.our_token_digest, conn.version
    token_out = crypto.decrypt(conn.their_token_encrypted)
    ours = transport.new_token()  # B on a registration; the new token on a rotation
    try:
        found = _discover(conn, versions_url=conn.versions_url, token=token_out, version=None)
        body = our_credentials(
            tenant_id=conn.tenant_id,
            version=found.version,
            token=ours,
            partner_roles=[r.role for r in OcpiPartyRole.objects.filter(connection=conn)],
        )
        # Accepted from now on: the partner calls our versions back with it meanwhile.
        OcpiConnection.objects.filter(pk=conn.pk).update(
            our_token_digest=transport.token_digest(ours)
        )
        reply = _call(
            conn,
            "POST" if first else "PUT",
            _credentials_url(found.endpoints),
            "credentials",
            token=token_out,
            body=body,
        )
        own = own_role_21(conn.tenant_id).value
        theirs = parse_credentials(reply.data, version=found.version, own_role=own)
    except (_Refusal, client.OcpiCallFailed, ValueError, ValidationFailed) as exc:
        status = exc.status if isinstance(exc, _Refusal) else None
        if isinstance(exc, client.OcpiCallFailed):
            status = transport.UNABLE_TO_USE_CLIENT_API
        message = exc.message if isinstance(exc, _Refusal | ValidationFailed) else str(exc)
        if isinstance(exc, ValueError):
            message = f"the partner's credentials answer is unusable: {exc}"
        OcpiConnection.objects.filter(pk=conn.pk).update(
            our_token_digest=previous_digest,
            version=previous_version,
            last_error=message[:2000],
            updated_at=timezone.now(),
        )
        conn.our_token_digest, conn.version, conn.last_error = (
            previous_digest,
            previous_version,
            message,
        )
        _audit(
            conn,
            actor,
            "roaming.connection.register_failed" if first else "roaming.connection.update_failed",
            None,
            {"error": message[:500]},
        )
        raise ConnectionFailed(message, connection_id=conn.pk, ocpi_status=status) from exc
    with transaction.atomic():
        conn = OcpiConnection.objects.select_for_update().get(pk=conn.pk)
        conn.version = found.version
        conn.their_token_encrypted = crypto.encrypt(theirs.token)
        conn.our_token_digest = transport.token_digest(ours)
        conn.versions_url = theirs.url or conn.versions_url
        conn.last_error = ""
        if first:
            conn.status = ConnectionStatus.REGISTERED.value
            conn.registered_at = timezone.now()
        _store_endpoints(conn, found.endpoints)
        _store_roles(conn, theirs.roles, actor)
        conn.save()
        _audit(
            conn,
            actor,
            "roaming.connection.registered" if first else "roaming.connection.update",
            before,
            _snapshot(conn),
        )
    return conn


def connection_suspend(
    *, connection_id: int, actor: Actor, tenant_id: int | None = None
) -> ConnectionRef:
    """Stop using a registered connection for now: pushes are held, the partner's calls
    refused (403) until `connection_resume`."""
    with transaction.atomic():
        conn = OcpiConnection.objects.select_for_update().get(pk=_get(tenant_id, connection_id).pk)
        if conn.status != ConnectionStatus.REGISTERED.value:
            raise ValidationFailed(f"only a registered connection can be suspended ({conn.status})")
        before = _snapshot(conn)
        conn.status = ConnectionStatus.SUSPENDED.value
        conn.suspended_at = timezone.now()
        conn.save(update_fields=["status", "suspended_at", "updated_at"])
        _audit(conn, actor, "roaming.connection.suspend", before, _snapshot(conn))
    return _ref(conn)


def connection_resume(
    *, connection_id: int, actor: Actor, tenant_id: int | None = None
) -> ConnectionRef:
    """Back to REGISTERED; the pushes held meanwhile are released (sent in order)."""
    with transaction.atomic():
        conn = OcpiConnection.objects.select_for_update().get(pk=_get(tenant_id, connection_id).pk)
        if conn.status != ConnectionStatus.SUSPENDED.value:
            raise ValidationFailed(f"only a suspended connection can be resumed ({conn.status})")
        before = _snapshot(conn)
        conn.status = ConnectionStatus.REGISTERED.value
        conn.suspended_at = None
        conn.save(update_fields=["status", "suspended_at", "updated_at"])
        _audit(conn, actor, "roaming.connection.resume", before, _snapshot(conn))
        push.pushes_release(connection_id=conn.pk)
    return _ref(conn)


def connection_close(
    *, connection_id: int, actor: Actor, tenant_id: int | None = None
) -> ConnectionRef:
    """End the connection: our DELETE credentials to a registered partner (a failure is
    recorded in `last_error`; the connection closes all the same), then CLOSED: no token of
    it is accepted any more, token A included."""
    conn = _get(tenant_id, connection_id)
    if conn.status == ConnectionStatus.CLOSED.value:
        return _ref(conn)
    error = ""
    if conn.status in (ConnectionStatus.REGISTERED.value, ConnectionStatus.SUSPENDED.value):
        url = client.endpoint_url(conn, "credentials", "SENDER") or client.endpoint_url(
            conn, "credentials", "RECEIVER"
        )
        if url:
            try:
                _call(
                    conn,
                    "DELETE",
                    url,
                    "credentials",
                    token=crypto.decrypt(conn.their_token_encrypted),
                )
            except client.OcpiCallFailed as exc:
                error = f"DELETE credentials failed (closed here all the same): {exc}"
    _close(conn, actor, error)
    return _ref(conn)


def _close(conn: OcpiConnection, actor: Actor, error: str) -> None:
    with transaction.atomic():
        conn = OcpiConnection.objects.select_for_update().get(pk=conn.pk)
        before = _snapshot(conn)
        conn.status = ConnectionStatus.CLOSED.value
        conn.token_a_digest = ""
        conn.last_error = error[:2000]
        conn.save(update_fields=["status", "token_a_digest", "last_error", "updated_at"])
        _audit(conn, actor, "roaming.connection.close", before, _snapshot(conn))


# -- reads other areas use -----------------------------------------------------------------


def connection_get(*, tenant_id: int, connection_id: int) -> ConnectionRef:
    return _ref(_get(tenant_id, connection_id))


def connections_registered(*, tenant_id: int, role: OcpiRole | None = None) -> list[ConnectionRef]:
    """The tenant's REGISTERED connections; with `role`, those whose partner plays it or is
    a hub (a hub relays to every role behind it)."""
    qs = OcpiConnection.objects.filter(
        tenant_id=tenant_id, status=ConnectionStatus.REGISTERED.value
    )
    if role is not None:
        ids = OcpiPartyRole.objects.filter(
            tenant_id=tenant_id, role__in=[role.value, OcpiRole.HUB.value]
        ).values("connection_id")
        qs = qs.filter(pk__in=ids)
    return [_ref(c) for c in qs.order_by("name", "id")]


# -- the partner's side of the handshake (our credentials endpoint) ------------------------


def _presented_role(conn: OcpiConnection) -> str:
    return own_role_21(
        conn.tenant_id, [r.role for r in OcpiPartyRole.objects.filter(connection=conn)]
    ).value


def credentials_get(*, connection_id: int, version: str, token: str) -> dict[str, Any]:
    """Our credentials as the caller sees them: the token it authenticated with (the one
    to use towards us; we keep only its digest, so it is the token the caller presented)."""
    conn = OcpiConnection.objects.get(pk=connection_id)
    return our_credentials(
        tenant_id=conn.tenant_id,
        version=version,
        token=token,
        partner_roles=[r.role for r in OcpiPartyRole.objects.filter(connection=conn)],
    )


def credentials_receive(
    *, connection_id: int, version: str, body: Any, token_kind: str, method: str
) -> dict[str, Any]:
    """The partner's POST (registration, with the token A we issued) or PUT (update /
    rotation, with its credentials token) to our credentials endpoint: call its versions and
    details back with the token it gave us, keep that token as the one we send, make a new
    token for it to send us and answer with our credentials carrying it. Raises
    CredentialsRefused: 405 (POST when registered, PUT when not), 2001 (a body we cannot
    use), 3002 (it does not offer this version), 3001 (its endpoints cannot be reached),
    3003 (required endpoints missing)."""
    conn = OcpiConnection.objects.get(pk=connection_id)
    registered = conn.status in (
        ConnectionStatus.REGISTERED.value,
        ConnectionStatus.SUSPENDED.value,
    )
    if method == "POST" and (registered or token_kind != "A"):
        raise CredentialsRefused(
            405, transport.CLIENT_ERROR, "already registered: use PUT to update"
        )
    if method == "PUT" and (not registered or token_kind == "A"):
        raise CredentialsRefused(
            405, transport.CLIENT_ERROR, "not registered: use POST to register"
        )
    if version not in {v.value for v in SUPPORTED_VERSIONS}:
        raise CredentialsRefused(
            404, transport.UNSUPPORTED_VERSION, f"unsupported version {version}"
        )
    own = _presented_role(conn)
    try:
        theirs = parse_credentials(body, version=version, own_role=own)
    except ValueError as exc:
        raise CredentialsRefused(400, transport.INVALID_PARAMETERS, str(exc)) from None
    actor = partner_actor(conn.name)
    before = _snapshot(conn)
    try:
        found = _discover(conn, versions_url=theirs.url, token=theirs.token, version=version)
    except _Refusal as exc:
        raise CredentialsRefused(200, exc.status, exc.message) from None
    except client.OcpiCallFailed as exc:
        raise CredentialsRefused(
            200, transport.UNABLE_TO_USE_CLIENT_API, f"calling your versions back failed: {exc}"
        ) from None
    ours = transport.new_token()  # C on a registration; the new token on a rotation
    with transaction.atomic():
        conn = OcpiConnection.objects.select_for_update().get(pk=conn.pk)
        now_registered = conn.status in (
            ConnectionStatus.REGISTERED.value,
            ConnectionStatus.SUSPENDED.value,
        )
        if now_registered != registered or conn.status == ConnectionStatus.CLOSED.value:
            raise CredentialsRefused(
                405, transport.CLIENT_ERROR, "the connection changed meanwhile"
            )
        conn.versions_url = theirs.url
        conn.version = found.version
        conn.their_token_encrypted = crypto.encrypt(theirs.token)
        conn.our_token_digest = transport.token_digest(ours)
        conn.token_a_digest = ""  # A is used up
        conn.last_error = ""
        if method == "POST":
            conn.status = ConnectionStatus.REGISTERED.value
            conn.registered_at = timezone.now()
        _store_endpoints(conn, found.endpoints)
        _store_roles(conn, theirs.roles, actor)
        conn.save()
        _audit(
            conn,
            actor,
            "roaming.connection.registered" if method == "POST" else "roaming.connection.update",
            before,
            _snapshot(conn),
        )
        answer = our_credentials(
            tenant_id=conn.tenant_id,
            version=found.version,
            token=ours,
            partner_roles=[r.role for r in theirs.roles],
        )
    return answer


def credentials_unregister(*, connection_id: int, token_kind: str) -> None:
    """The partner's DELETE: it ends the connection (405 when it was never registered)."""
    conn = OcpiConnection.objects.get(pk=connection_id)
    if token_kind == "A" or conn.status not in (
        ConnectionStatus.REGISTERED.value,
        ConnectionStatus.SUSPENDED.value,
    ):
        raise CredentialsRefused(405, transport.CLIENT_ERROR, "not registered")
    _close(conn, partner_actor(conn.name), "")


# -- HubClientInfo (receiver) --------------------------------------------------------------

# Called with (connection_id, country_code, party_id, role) after a party behind a hub came
# back (CONNECTED after OFFLINE / PLANNED / SUSPENDED): the other areas re-sync it (GET its
# objects, push what changed). A plain list for now; `on_party_connected` appends.
PARTY_CONNECTED_HOOKS: list[Callable[[int, str, str, str], None]] = []


def on_party_connected(hook: Callable[[int, str, str, str], None]) -> None:
    if hook not in PARTY_CONNECTED_HOOKS:
        PARTY_CONNECTED_HOOKS.append(hook)


def client_info_get(*, connection_id: int, country_code: str, party_id: str) -> dict[str, Any]:
    row = (
        OcpiPartyRole.objects.filter(
            connection_id=connection_id,
            country_code__iexact=country_code,
            party_id__iexact=party_id,
        )
        .order_by("role")
        .first()
    )
    if row is None:
        raise CredentialsRefused(
            404, transport.CLIENT_ERROR, f"unknown party {country_code}*{party_id}"
        )
    return _client_info(row)


def _client_info(row: OcpiPartyRole) -> dict[str, Any]:
    return {
        "party_id": row.party_id,
        "country_code": row.country_code,
        "role": row.role,
        "status": row.hub_status,
        "last_updated": row.hub_status_updated or row.updated_at,
    }


def client_info_put(
    *, connection_id: int, country_code: str, party_id: str, body: Any, now: datetime | None = None
) -> tuple[dict[str, Any], bool]:
    """A hub's ClientInfo for one party: store its status (OFFLINE and the like: the push
    outbox holds what is owed to it); back to CONNECTED: release the held pushes and call
    the re-sync hooks. Returns (the stored ClientInfo, created)."""
    if not isinstance(body, Mapping):
        raise CredentialsRefused(
            400, transport.INVALID_PARAMETERS, "$: a ClientInfo object is required"
        )
    for field, value in (("country_code", country_code), ("party_id", party_id)):
        sent = _text(body.get(field))
        if sent and sent.upper() != value.upper():
            raise CredentialsRefused(
                400,
                transport.INVALID_PARAMETERS,
                f"$.{field}: {sent!r} differs from the URL's {value!r}",
            )
    if len(country_code) != 2 or len(party_id) != 3:
        raise CredentialsRefused(
            400, transport.INVALID_PARAMETERS, "the URL needs a country code and a party id"
        )
    status = _text(body.get("status")).upper()
    if status not in HubPartyStatus.__members__:
        raise CredentialsRefused(
            400,
            transport.INVALID_PARAMETERS,
            f"$.status: {status!r} is not CONNECTED / OFFLINE / PLANNED / SUSPENDED",
        )
    role = _text(body.get("role")).upper()
    if role not in OcpiRole.__members__:
        raise CredentialsRefused(
            400, transport.INVALID_PARAMETERS, f"$.role: {role!r} is not an OCPI role"
        )
    at = now or timezone.now()
    conn = OcpiConnection.objects.get(pk=connection_id)
    cc, pid = country_code.upper(), party_id.upper()
    with transaction.atomic():
        row = (
            OcpiPartyRole.objects.select_for_update()
            .filter(connection=conn, country_code=cc, party_id=pid, role=role)
            .first()
        )
        created = row is None
        if row is None:
            row = OcpiPartyRole(
                tenant_id=conn.tenant_id,
                connection=conn,
                country_code=cc,
                party_id=pid,
                role=role,
                partner_id=_link_partner(conn, role, cc, pid, "", "", partner_actor(conn.name)),
            )
        was = row.hub_status if not created else None
        row.hub_status = status
        row.hub_status_updated = at
        row.save()
        back = status == HubPartyStatus.CONNECTED.value and was not in (
            None,
            HubPartyStatus.CONNECTED.value,
        )
        if was != status:
            _audit(
                conn,
                partner_actor(conn.name),
                "roaming.hub_client_info",
                {"party": f"{role} {cc}*{pid}", "status": was},
                {"party": f"{role} {cc}*{pid}", "status": status},
            )
        if back:
            push.pushes_release(connection_id=conn.pk, country_code=cc, party_id=pid)
    if back:
        for hook in list(PARTY_CONNECTED_HOOKS):
            try:
                hook(conn.pk, cc, pid, role)
            except Exception:  # one area's re-sync must not fail the hub's PUT
                log.exception("re-sync hook %r failed for %s*%s", hook, cc, pid)
    return _client_info(row), created
