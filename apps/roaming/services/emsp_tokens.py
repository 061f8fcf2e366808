"""Our eMSP tokens as an OCPI tokens SENDER: the paginated list a CPO pulls, the real-time
authorization a CPO asks (`POST tokens/{uid}/authorize`, answered from apps.tokens with a
handful of indexed queries), and the push of every token to a connected CPO's tokens
RECEIVER (through the push outbox, idempotent per token version): all of them at once
(`tokens_push_all`, `manage.py ocpi_tokens_push`), and each one when it changes
(`token_changes_push`: the tokens app's `token.changed` event, through the
`roaming.ocpi_events` consumer).

"Our tokens" are those of the tenant's OWN eMSP parties; a partner's tokens the tenant holds
(roaming cache, CPO role) are never sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from apps.common.errors import NotFound
from apps.parties import api as parties_api
from apps.parties.contracts import PartyKind, PartyRole
from apps.roaming import client, transport
from apps.roaming.contracts import ConnectionStatus, InterfaceRole, OcpiRole, OcpiVersion
from apps.roaming.models import OcpiConnection, OcpiPartyRole
from apps.roaming.services import push
from apps.tokens import api as tokens_api
from apps.tokens.contracts import TokenRecord, TokenType

PUSH_BATCH = 500


def own_emsp_parties(tenant_id: int) -> dict[int, tuple[str, str]]:
    """The tenant's own eMSP identities: party pk -> (country_code, party_id)."""
    return {
        p.id: (p.country_code, p.party_id)
        for p in parties_api.parties_of_tenant(tenant_id=tenant_id, role=PartyRole.EMSP)
        if p.kind is PartyKind.OWN
    }


def token_object(t: TokenRecord, *, version: str) -> dict[str, Any]:
    """The OCPI Token (2.2.1, or 2.1.1 where AD_HOC_USER / APP_USER do not exist: OTHER,
    and the contract id is `auth_id`). Optional fields only when set (outbound strict)."""
    if version == OcpiVersion.V2_1_1.value:
        out: dict[str, Any] = {
            "uid": t.uid,
            "type": t.type.value if t.type in (TokenType.RFID, TokenType.OTHER) else "OTHER",
            "auth_id": t.contract_id,
            "issuer": t.issuer,
            "valid": t.valid,
            "whitelist": t.whitelist.value,
        }
        if t.visual_number:
            out["visual_number"] = t.visual_number
        if t.language:
            out["language"] = t.language
        out["last_updated"] = transport.iso(t.last_updated)
        return out
    out = {
        "country_code": t.country_code,
        "party_id": t.party_id,
        "uid": t.uid,
        "type": t.type.value,
        "contract_id": t.contract_id,
    }
    if t.visual_number:
        out["visual_number"] = t.visual_number
    out["issuer"] = t.issuer
    if t.group_id:
        out["group_id"] = t.group_id
    out["valid"] = t.valid
    out["whitelist"] = t.whitelist.value
    if t.language:
        out["language"] = t.language
    if t.default_profile_type:
        out["default_profile_type"] = t.default_profile_type
    if t.energy_contract:
        out["energy_contract"] = t.energy_contract
    out["last_updated"] = transport.iso(t.last_updated)
    return out


def reader_allowed(*, connection_id: int) -> bool:
    """Only a CPO partner (or a hub, for the CPOs behind it) reads our tokens and asks us to
    authorize them; an eMSP partner of our CPO role has no business with them."""
    return OcpiPartyRole.objects.filter(
        connection_id=connection_id, role__in=(OcpiRole.CPO.value, OcpiRole.HUB.value)
    ).exists()


@dataclass(frozen=True)
class TokensPage:
    total: int
    items: list[dict[str, Any]]


def tokens_page(
    *,
    tenant_id: int,
    version: str,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> TokensPage:
    parties = own_emsp_parties(tenant_id)
    total, rows = tokens_api.tokens_updated_page(
        tenant_id=tenant_id,
        party_ids=list(parties),
        date_from=date_from,
        date_to=date_to,
        offset=offset,
        limit=limit,
    )
    return TokensPage(total, [token_object(r, version=version) for r in rows])


def _own_token(tenant_id: int, uid: str, token_type: str) -> TokenRecord | None:
    parties = set(own_emsp_parties(tenant_id).values())
    ids = tokens_api.token_ids_by_uid(tenant_id=tenant_id, uids=[uid]).get(uid, [])
    for pk in ids:
        rec = tokens_api.token_get(tenant_id=tenant_id, token_id=pk)
        if rec.type.value == token_type and (rec.country_code, rec.party_id) in parties:
            return rec
    return None


class AuthorizeInvalid(ValueError):
    """The LocationReferences body cannot be read (2001)."""


def token_authorize(
    *, tenant_id: int, version: str, uid: str, token_type: str | None, location: Any
) -> dict[str, Any] | None:
    """AuthorizationInfo for one of our tokens, or None when we do not know it (the caller
    answers 404 / 2004). Valid: ALLOWED, else BLOCKED. Our tokens carry no per-location
    restriction: LocationReferences, when sent, are checked for shape and echoed back (the
    CPO then knows what was authorized), with a fresh `authorization_reference` (2.2.1)."""
    if location == {}:  # an empty body is no LocationReferences (lenient)
        location = None
    if location is not None:
        if not isinstance(location, Mapping) or not isinstance(location.get("location_id"), str):
            raise AuthorizeInvalid("LocationReferences needs location_id (a string)")
    rec = _own_token(tenant_id, uid, (token_type or TokenType.RFID.value).upper())
    if rec is None:
        return None
    out: dict[str, Any] = {"allowed": "ALLOWED" if rec.valid else "BLOCKED"}
    if version != OcpiVersion.V2_1_1.value:
        out["token"] = token_object(rec, version=version)
    if location is not None:
        refs: dict[str, Any] = {"location_id": location["location_id"]}
        uids = location.get("evse_uids")
        if isinstance(uids, list) and uids:
            refs["evse_uids"] = [u for u in uids if isinstance(u, str)]
        if version == OcpiVersion.V2_1_1.value and isinstance(location.get("connector_ids"), list):
            refs["connector_ids"] = [c for c in location["connector_ids"] if isinstance(c, str)]
        out["location"] = refs
    if version != OcpiVersion.V2_1_1.value:
        out["authorization_reference"] = uuid.uuid4().hex
    return out


def _push_target(conn: OcpiConnection) -> tuple[str, str] | None:
    """TO of a token push: the hub itself when it is a hub (tokens may be broadcast), else
    the partner's CPO role."""
    role = OcpiRole.HUB if conn.is_hub else OcpiRole.CPO
    row = (
        OcpiPartyRole.objects.filter(connection=conn, role=role.value)
        .order_by("id")
        .values_list("country_code", "party_id")
        .first()
    )
    return (row[0], row[1]) if row else None


def token_push_path(t: TokenRecord, *, version: str) -> str:
    path = f"{quote(t.country_code)}/{quote(t.party_id)}/{quote(t.uid, safe='')}"
    return path if version == OcpiVersion.V2_1_1.value else f"{path}?type={t.type.value}"


def _token_receivers(tenant_id: int) -> list[OcpiConnection]:
    """The tenant's REGISTERED connections to a CPO partner or a hub (the only partners that
    read our tokens, `reader_allowed`) that list a tokens RECEIVER endpoint."""
    conns = (
        OcpiConnection.objects.filter(
            tenant_id=tenant_id,
            status=ConnectionStatus.REGISTERED.value,
            roles__role__in=(OcpiRole.CPO.value, OcpiRole.HUB.value),
        )
        .distinct()
        .order_by("id")
        .prefetch_related("endpoints")
    )
    return [c for c in conns if client.endpoint_url(c, "tokens", InterfaceRole.RECEIVER.value)]


def token_changes_push(*, tenant_id: int, token_ids: list[int]) -> int:
    """Owe every connected CPO partner (a hub: one push, TO = the hub, its broadcast) a PUT
    of each of these tokens as it is now, when it is one of our own eMSP tokens (a
    partner's token, or another tenant's, is never pushed). Per connection all in one go
    (`push.pushes_enqueue`); the key is the token's version, the one `tokens_push_all`
    uses, so the same version is never owed twice. Returns how many pushes were queued."""
    parties = list(own_emsp_parties(tenant_id))
    if not parties or not token_ids:
        return 0
    conns = _token_receivers(tenant_id)
    if not conns:
        return 0
    records = tokens_api.tokens_by_ids(tenant_id=tenant_id, token_ids=token_ids, party_ids=parties)
    queued = 0
    for conn in conns:
        version = conn.version or OcpiVersion.V2_2_1.value
        queued += push.pushes_enqueue(
            connection_id=conn.pk,
            module="tokens",
            items=[
                (
                    "PUT",
                    token_push_path(t, version=version),
                    f"token:{t.id}:{transport.iso(t.last_updated)}",
                    token_object(t, version=version),
                )
                for t in records
            ],
            to_party=_push_target(conn),
        )
    return queued


def tokens_push_all(*, tenant_id: int, connection_id: int) -> int:
    """Owe the CPO partner a PUT of every token of ours (its current version); returns how
    many pushes were queued (a version already owed or sent is not queued again). The
    catch-up after registering (`manage.py ocpi_tokens_push`); each later change is pushed
    by `token_changes_push`."""
    conn = OcpiConnection.objects.filter(pk=connection_id, tenant_id=tenant_id).first()
    if conn is None:
        raise NotFound(f"no OCPI connection {connection_id} in this tenant")
    version = conn.version or OcpiVersion.V2_2_1.value
    target = _push_target(conn)
    parties = list(own_emsp_parties(tenant_id))
    queued = offset = 0
    while True:
        _total, rows = tokens_api.tokens_updated_page(
            tenant_id=tenant_id,
            party_ids=parties,
            date_from=None,
            date_to=None,
            offset=offset,
            limit=PUSH_BATCH,
        )
        for t in rows:
            made = push.push_enqueue(
                connection_id=conn.pk,
                module="tokens",
                method="PUT",
                path=token_push_path(t, version=version),
                key=f"token:{t.id}:{transport.iso(t.last_updated)}",
                body=token_object(t, version=version),
                to_party=target,
            )
            queued += made is not None
        if len(rows) < PUSH_BATCH:
            return queued
        offset += PUSH_BATCH
