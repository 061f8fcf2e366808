"""Reads of the roaming app."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count

from apps.roaming import transport
from apps.roaming.contracts import (
    ConnectionDetail,
    ConnectionRow,
    ConnectionStatus,
    Direction,
    EndpointRow,
    ExchangeRow,
    HubPartyStatus,
    InboundAuth,
    Initiator,
    OcpiRole,
    PartyRoleRef,
    PushStatus,
)
from apps.roaming.models import (
    OcpiConnection,
    OcpiEndpoint,
    OcpiExchange,
    OcpiPartyRole,
    OcpiPush,
)


def inbound_auth(*, tokens: Sequence[str]) -> InboundAuth | None:
    """The connection an inbound token belongs to (the token we accept from the partner,
    or a token A we issued and that has not been used up), or None. CLOSED connections
    accept nothing."""
    for token in tokens:
        digest = transport.token_digest(token)
        row = (
            OcpiConnection.objects.filter(our_token_digest=digest)
            .exclude(status=ConnectionStatus.CLOSED.value)
            .values("id", "tenant_id", "status", "version")
            .first()
        )
        kind = "CREDENTIALS"
        if row is None:
            row = (
                OcpiConnection.objects.filter(token_a_digest=digest)
                .exclude(status=ConnectionStatus.CLOSED.value)
                .values("id", "tenant_id", "status", "version")
                .first()
            )
            kind = "A"
        if row is not None:
            return InboundAuth(
                connection_id=row["id"],
                tenant_id=row["tenant_id"],
                token_kind=kind,
                status=ConnectionStatus(row["status"]),
                version=row["version"],
            )
    return None


# -- area "connections": what the portal shows ----------------------------------------------


def _roles(connection_ids: list[int]) -> dict[int, tuple[PartyRoleRef, ...]]:
    out: dict[int, list[PartyRoleRef]] = {}
    for r in OcpiPartyRole.objects.filter(connection_id__in=connection_ids).order_by(
        "country_code", "party_id", "role"
    ):
        out.setdefault(r.connection_id, []).append(
            PartyRoleRef(
                role=OcpiRole(r.role),
                country_code=r.country_code,
                party_id=r.party_id,
                name=r.name,
                party_pk=r.partner_id,
                hub_status=HubPartyStatus(r.hub_status),
            )
        )
    return {k: tuple(v) for k, v in out.items()}


def _row(c: OcpiConnection, roles: tuple[PartyRoleRef, ...]) -> ConnectionRow:
    return ConnectionRow(
        id=c.pk,
        name=c.name,
        versions_url=c.versions_url,
        version=c.version,
        status=ConnectionStatus(c.status),
        initiator=Initiator(c.initiator),
        auth_base64=c.auth_base64,
        is_hub=c.is_hub,
        last_error=c.last_error,
        registered_at=c.registered_at,
        suspended_at=c.suspended_at,
        created_at=c.created_at,
        roles=roles,
    )


def connection_list(*, tenant_id: int) -> list[ConnectionRow]:
    """The tenant's connections, closed ones last (two queries)."""
    rows = list(OcpiConnection.objects.filter(tenant_id=tenant_id).order_by("name", "id"))
    roles = _roles([c.pk for c in rows])
    rows.sort(key=lambda c: c.status == ConnectionStatus.CLOSED.value)
    return [_row(c, roles.get(c.pk, ())) for c in rows]


def connection_detail(
    *, tenant_id: int, connection_id: int, exchanges: int = 50
) -> ConnectionDetail | None:
    """One connection of the tenant with its endpoints, its newest exchanges and its pushes
    counted by status; None when the tenant has no such connection."""
    c = OcpiConnection.objects.filter(tenant_id=tenant_id, pk=connection_id).first()
    if c is None:
        return None
    counts = {s.value: 0 for s in PushStatus}
    for status, n in (
        OcpiPush.objects.filter(tenant_id=tenant_id, connection=c)
        .values_list("status")
        .annotate(n=Count("id"))
    ):
        counts[status] = n
    return ConnectionDetail(
        connection=_row(c, _roles([c.pk]).get(c.pk, ())),
        endpoints=tuple(
            EndpointRow(module=e.module, role=e.role, url=e.url)
            for e in OcpiEndpoint.objects.filter(tenant_id=tenant_id, connection=c)
        ),
        exchanges=tuple(
            ExchangeRow(
                id=x.pk,
                at=x.created_at,
                direction=Direction(x.direction),
                method=x.method,
                url=x.url,
                module=x.module,
                http_status=x.http_status,
                ocpi_status=x.ocpi_status,
                duration_ms=x.duration_ms,
                error=x.error,
                request_body=x.request_body,
                response_body=x.response_body,
                bodies_purged=x.bodies_purged,
            )
            for x in OcpiExchange.objects.filter(tenant_id=tenant_id, connection=c).order_by(
                "-created_at", "-id"
            )[:exchanges]
        ),
        pushes=counts,
    )
