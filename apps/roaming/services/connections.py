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

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.common import crypto
from apps.common.contracts import Actor
from apps.common.errors import ValidationFailed
from apps.common.jobs import enqueue
from apps.roaming import client, jobs, transport
from apps.roaming.contracts import (
    SUPPORTED_VERSIONS,
    ConnectionRef,
    ConnectionStatus,
    Initiator,
    InterfaceRole,
    OcpiRole,
)
from apps.roaming.models import OcpiConnection, OcpiPartyRole
from apps.roaming.services import cpo_push, emsp_in, push
from apps.roaming.services.credentials_wire import (
    ConnectionFailed,
    CredentialsIn,
    CredentialsRefused,
    Discovered,
    Refusal,
    audit_change,
    call_partner,
    connection_ref,
    connection_row,
    credentials_url,
    discover,
    missing_for_roles,
    our_credentials,
    own_role_21,
    parse_credentials,
    partner_actor,
    roles_from_endpoints,
    snapshot,
    store_endpoints,
    store_roles,
)
from apps.roaming.services.emsp_pull import PULL_MODULES

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
        audit_change(conn, actor, "roaming.connection.invite", None, snapshot(conn))
    return connection_ref(conn), token_a


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
        audit_change(conn, actor, "roaming.connection.register", None, snapshot(conn))
    return connection_ref(_handshake(conn, actor=actor, first=True))


def connection_update(
    *, connection_id: int, actor: Actor, tenant_id: int | None = None
) -> ConnectionRef:
    """Our PUT credentials: re-fetch the partner's versions and endpoints (even when the
    version stays), send a new token for us to accept, keep the new one they return. On a
    PENDING connection we started, the registration is tried again instead. A failure
    raises ConnectionFailed; the connection keeps working with the previous tokens."""
    conn = connection_row(tenant_id, connection_id)
    if conn.status == ConnectionStatus.PENDING.value and conn.initiator == Initiator.US.value:
        return connection_ref(_handshake(conn, actor=actor, first=True))
    if conn.status in (ConnectionStatus.REGISTERED.value, ConnectionStatus.SUSPENDED.value):
        return connection_ref(_handshake(conn, actor=actor, first=False))
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
    before = snapshot(conn)
    previous_digest, previous_version = conn.our_token_digest, conn.version
    token_out = crypto.decrypt(conn.their_token_encrypted)
    ours = transport.new_token()  # B on a registration; the new token on a rotation
    try:
        found = discover(conn, versions_url=conn.versions_url, token=token_out, version=None)
        if first:
            # Spec: a Sender missing the endpoints it expects does not POST. The roles are
            # known from a previous attempt, or told by the 2.2.1 interface roles.
            known = {r.role for r in OcpiPartyRole.objects.filter(connection=conn)}
            missing = missing_for_roles(
                tenant_id=conn.tenant_id,
                partner_roles=known | roles_from_endpoints(found.endpoints),
                endpoints=found.endpoints,
                version=found.version,
            )
            if missing is not None:
                raise Refusal(transport.NO_MATCHING_ENDPOINTS, missing)
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
        reply = call_partner(
            conn,
            "POST" if first else "PUT",
            credentials_url(found.endpoints),
            "credentials",
            token=token_out,
            body=body,
        )
        own = own_role_21(conn.tenant_id).value
        theirs = parse_credentials(reply.data, version=found.version, own_role=own)
        if first:
            _require_endpoints(conn, theirs, found, token=theirs.token)
    except (Refusal, client.OcpiCallFailed, ValueError, ValidationFailed) as exc:
        status = exc.status if isinstance(exc, Refusal) else None
        if isinstance(exc, client.OcpiCallFailed):
            status = transport.UNABLE_TO_USE_CLIENT_API
        message = exc.message if isinstance(exc, Refusal | ValidationFailed) else str(exc)
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
        audit_change(
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
        store_endpoints(conn, found.endpoints)
        store_roles(conn, theirs.roles, actor)
        conn.save()
        audit_change(
            conn,
            actor,
            "roaming.connection.registered" if first else "roaming.connection.update",
            before,
            snapshot(conn),
        )
        _interest(conn.tenant_id, registered=conn if first else None)
    return conn


def _require_endpoints(
    conn: OcpiConnection, theirs: CredentialsIn, found: Discovered, *, token: str
) -> None:
    """After our POST: the partner's roles are known for sure only from its answer (a
    2.1.1 partner's details tell nothing before). When it lacks an
    endpoint we need for what it is (`missing_for_roles`), undo the registration on its
    side (DELETE credentials with the token it just gave us; a failure is only noted) and
    refuse with 3003: the connection stays PENDING with the reason."""
    message = missing_for_roles(
        tenant_id=conn.tenant_id,
        partner_roles=[r.role for r in theirs.roles],
        endpoints=found.endpoints,
        version=found.version,
    )
    if message is None:
        return
    try:
        call_partner(conn, "DELETE", credentials_url(found.endpoints), "credentials", token=token)
    except client.OcpiCallFailed as exc:
        message += f" (our DELETE credentials to undo the registration failed: {exc})"
    raise Refusal(transport.NO_MATCHING_ENDPOINTS, message)


def connection_suspend(
    *, connection_id: int, actor: Actor, tenant_id: int | None = None
) -> ConnectionRef:
    """Stop using a registered connection for now: pushes are held, the partner's calls
    refused (403) until `connection_resume`."""
    with transaction.atomic():
        conn = OcpiConnection.objects.select_for_update().get(
            pk=connection_row(tenant_id, connection_id).pk
        )
        if conn.status != ConnectionStatus.REGISTERED.value:
            raise ValidationFailed(f"only a registered connection can be suspended ({conn.status})")
        before = snapshot(conn)
        conn.status = ConnectionStatus.SUSPENDED.value
        conn.suspended_at = timezone.now()
        conn.save(update_fields=["status", "suspended_at", "updated_at"])
        audit_change(conn, actor, "roaming.connection.suspend", before, snapshot(conn))
        _interest(conn.tenant_id)
    return connection_ref(conn)


def connection_resume(
    *, connection_id: int, actor: Actor, tenant_id: int | None = None
) -> ConnectionRef:
    """Back to REGISTERED; the pushes held meanwhile are released (sent in order)."""
    with transaction.atomic():
        conn = OcpiConnection.objects.select_for_update().get(
            pk=connection_row(tenant_id, connection_id).pk
        )
        if conn.status != ConnectionStatus.SUSPENDED.value:
            raise ValidationFailed(f"only a suspended connection can be resumed ({conn.status})")
        before = snapshot(conn)
        conn.status = ConnectionStatus.REGISTERED.value
        conn.suspended_at = None
        conn.save(update_fields=["status", "suspended_at", "updated_at"])
        audit_change(conn, actor, "roaming.connection.resume", before, snapshot(conn))
        _interest(conn.tenant_id)
        push.pushes_release(connection_id=conn.pk)
    return connection_ref(conn)


def connection_close(
    *, connection_id: int, actor: Actor, tenant_id: int | None = None
) -> ConnectionRef:
    """End the connection: our DELETE credentials to a registered partner (a failure is
    recorded in `last_error`; the connection closes all the same), then CLOSED: no token of
    it is accepted any more, token A included."""
    conn = connection_row(tenant_id, connection_id)
    if conn.status == ConnectionStatus.CLOSED.value:
        return connection_ref(conn)
    error = ""
    if conn.status in (ConnectionStatus.REGISTERED.value, ConnectionStatus.SUSPENDED.value):
        url = client.endpoint_url(conn, "credentials", "SENDER") or client.endpoint_url(
            conn, "credentials", "RECEIVER"
        )
        if url:
            try:
                call_partner(
                    conn,
                    "DELETE",
                    url,
                    "credentials",
                    token=crypto.decrypt(conn.their_token_encrypted),
                )
            except client.OcpiCallFailed as exc:
                error = f"DELETE credentials failed (closed here all the same): {exc}"
    _close(conn, actor, error)
    return connection_ref(conn)


def _interest(tenant_id: int, *, registered: OcpiConnection | None = None) -> None:
    """After the commit: the tenant's CPO events reach the push code while it has a
    REGISTERED connection, and stop when it has none (cpo_push.cpo_interest_sync; the
    `roaming.cpo_locations_sync` beat repairs a missed call within a minute). A connection
    just `registered` with a CPO partner is pulled in full at once (what it publishes:
    locations, tariffs, sessions, CDRs), not at the next scheduled pull."""
    transaction.on_commit(lambda: cpo_push.cpo_interest_sync(tenant_id=tenant_id))
    if registered is not None:
        targets = [
            module
            for module in PULL_MODULES
            if client.endpoint_url(registered, module, InterfaceRole.SENDER.value) is not None
        ]
        connection_id = registered.pk
        if targets and emsp_in.cpo_parties(registered):

            def pull() -> None:
                for module in targets:
                    enqueue(jobs.EMSP_PULL, connection_id, module, True, ignore_result=True)

            transaction.on_commit(pull)


def _close(conn: OcpiConnection, actor: Actor, error: str) -> None:
    with transaction.atomic():
        conn = OcpiConnection.objects.select_for_update().get(pk=conn.pk)
        before = snapshot(conn)
        conn.status = ConnectionStatus.CLOSED.value
        conn.token_a_digest = ""
        conn.last_error = error[:2000]
        conn.save(update_fields=["status", "token_a_digest", "last_error", "updated_at"])
        audit_change(conn, actor, "roaming.connection.close", before, snapshot(conn))
        _interest(conn.tenant_id)


# -- reads other areas use -----------------------------------------------------------------


def connection_get(*, tenant_id: int, connection_id: int) -> ConnectionRef:
    return connection_ref(connection_row(tenant_id, connection_id))


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
    return [connection_ref(c) for c in qs.order_by("name", "id")]


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
    before = snapshot(conn)
    try:
        found = discover(conn, versions_url=theirs.url, token=theirs.token, version=version)
    except Refusal as exc:
        raise CredentialsRefused(200, exc.status, exc.message) from None
    except client.OcpiCallFailed as exc:
        raise CredentialsRefused(
            200, transport.UNABLE_TO_USE_CLIENT_API, f"calling your versions back failed: {exc}"
        ) from None
    if method == "POST":
        missing = missing_for_roles(
            tenant_id=conn.tenant_id,
            partner_roles=[r.role for r in theirs.roles],
            endpoints=found.endpoints,
            version=found.version,
        )
        if missing is not None:
            raise CredentialsRefused(200, transport.NO_MATCHING_ENDPOINTS, missing)
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
        store_endpoints(conn, found.endpoints)
        store_roles(conn, theirs.roles, actor)
        conn.save()
        audit_change(
            conn,
            actor,
            "roaming.connection.registered" if method == "POST" else "roaming.connection.update",
            before,
            snapshot(conn),
        )
        _interest(conn.tenant_id, registered=conn if method == "POST" else None)
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
