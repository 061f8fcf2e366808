"""Connections for the peer and hub tests, made directly with the groundwork's models (the
design's interim rule until area "connections" lands): status REGISTERED, the token we
accept as a digest, the token we send encrypted, the partner's endpoints and roles."""

from __future__ import annotations

from typing import Any

from apps.common import crypto
from apps.roaming import transport
from apps.roaming.models import OcpiConnection, OcpiEndpoint, OcpiPartyRole


def registered_connection(
    tenant: Any,
    *,
    name: str,
    versions_url: str,
    their_token: str,
    our_token: str | None = None,
    version: str = "2.2.1",
    is_hub: bool = False,
    roles: tuple[tuple[str, str, str], ...] = (),  # (role, country_code, party_id)
    endpoints: dict[tuple[str, str], str] | None = None,  # (module, role) -> url
    status: str = "REGISTERED",
) -> OcpiConnection:
    conn = OcpiConnection.objects.create(
        tenant=tenant,
        name=name,
        versions_url=versions_url,
        version=version,
        status=status,
        initiator="US",
        our_token_digest=transport.token_digest(our_token or transport.new_token()),
        their_token_encrypted=crypto.encrypt(their_token),
        is_hub=is_hub,
    )
    for role, cc, pid in roles:
        OcpiPartyRole.objects.create(
            tenant=tenant, connection=conn, role=role, country_code=cc, party_id=pid
        )
    for (module, role), url in (endpoints or {}).items():
        OcpiEndpoint.objects.create(
            tenant=tenant, connection=conn, module=module, role=role, url=url
        )
    return conn
