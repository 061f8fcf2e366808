"""Reads of the roaming app."""

from __future__ import annotations

from collections.abc import Sequence

from apps.roaming import transport
from apps.roaming.contracts import ConnectionStatus, InboundAuth
from apps.roaming.models import OcpiConnection


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
