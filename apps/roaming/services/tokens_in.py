"""Tokens an eMSP partner pushes to us as CPO (OCPI tokens module, receiver interface).

Each received token is kept twice, on purpose:
- as a `ForeignObject` (module "tokens"): the document as the partner last sent it (original
  casing, every field, its `last_updated`), what GET answers and PATCH merges onto, with the
  rules it broke (`flags`);
- as the tenant's `Token` row of the partner's PARTNER party (apps.tokens, through
  `token_partner_upsert`, audited with the connection as actor): what the OCPP gateway's
  Authorize and the CDR pipeline already read, so a received token authorizes at once.

Inbound lenient: missing `contract_id` / `issuer` / `whitelist` / `last_updated` are worked
around and flagged; optional fields that break a rule are dropped from the Token row (kept in
the document) and flagged. Refused (2001): the body's ids differ from the URL's, a country /
party that is not an eMSP role of this connection, no `valid`, an unknown token type, a uid
longer than 36 characters, PATCH without `last_updated`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.common.contracts import Actor
from apps.common.errors import DomainError, ValidationFailed
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.roaming import transport
from apps.roaming.contracts import OcpiRole, OcpiVersion
from apps.roaming.models import ForeignObject, OcpiConnection, OcpiPartyRole
from apps.roaming.services.emsp_in import ConnectionCpo
from apps.tokens import api as tokens_api
from apps.tokens.contracts import ProfileType, TokenInput, TokenRecord, TokenType, WhitelistType

MODULE = "tokens"
_TYPES_2_1_1 = frozenset({TokenType.RFID.value, TokenType.OTHER.value})


class Refused(Exception):
    """The request cannot be understood: an OCPI client error (`status_code`, default
    2001) with a message that says what and where; `http_status` 404 for an unknown object."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = transport.INVALID_PARAMETERS,
        http_status: int = 400,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.http_status = http_status


@dataclass(frozen=True)
class ReceivedToken:
    """A received token as stored: the document, the Token row, what it broke."""

    data: dict[str, Any]
    token: TokenRecord | None
    created: bool
    flags: tuple[dict[str, str], ...] = field(default_factory=tuple)


def connection_actor(conn: OcpiConnection | ConnectionCpo) -> Actor:
    """Who changes data when a partner calls us: the connection, by id and name."""
    return Actor.system(f"OCPI connection {conn.pk} ({conn.name})")


def emsp_party(conn: OcpiConnection, country_code: str, party_id: str) -> tuple[int, str, str]:
    """The tenant's PARTNER party (pk, country code, party id as stored) of an eMSP role of
    this connection, compared case-insensitively. Refused (2001) when the connection has no
    such eMSP role, or the role names no partner party of the tenant."""
    role = (
        OcpiPartyRole.objects.filter(
            connection=conn,
            role=OcpiRole.EMSP.value,
            country_code__iexact=country_code,
            party_id__iexact=party_id,
        )
        .values("partner_id", "country_code", "party_id")
        .first()
    )
    if role is None:
        raise Refused(f"{country_code}*{party_id} is not an eMSP role of this connection")
    pk = role["partner_id"]
    if pk is None:
        try:
            pk = parties_api.party_pk_for_tenant(
                tenant_id=conn.tenant_id,
                country_code=role["country_code"],
                party_id=role["party_id"],
                role=PartyRole.EMSP,
            )
        except ValidationFailed:
            raise Refused(
                f"the eMSP {country_code}*{party_id} of this connection is not linked to a "
                "partner party of the operator yet"
            ) from None
    return pk, role["country_code"].upper(), role["party_id"].upper()


def _object_id(uid: str, type_: str) -> str:
    return f"{uid.upper()}:{type_}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(flags: list[dict[str, str]], rule: str, detail: str) -> None:
    flags.append({"rule": rule, "detail": detail})


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _same(body: dict[str, Any], key: str, expected: str, where: str) -> None:
    """A body id must be the URL's (case-insensitively): else 2001 naming both."""
    value = body.get(key)
    if value is None:
        return
    if not isinstance(value, str) or value.upper() != expected.upper():
        raise Refused(f"$.{key} ({value!r}) differs from the {where} in the URL ({expected!r})")


def token_type(value: str | None, *, version: str) -> str:
    """The token type of a `type` parameter (default RFID), upper-cased; 2001 if unknown."""
    t = (value or TokenType.RFID.value).strip().upper()
    allowed = _TYPES_2_1_1 if version == OcpiVersion.V2_1_1.value else set(TokenType)
    if t not in allowed:
        raise Refused(f"type {value!r} is not a token type of OCPI {version or '2.2.1'}")
    return t


def _input(
    doc: dict[str, Any],
    *,
    country_code: str,
    party_id: str,
    uid: str,
    type_: str,
    version: str,
    flags: list[dict[str, str]],
) -> TokenInput:
    """The Token row of a received document, working around what can be worked around."""
    if len(uid) > 36:
        raise Refused("$.uid: at most 36 characters (OCPI CiString(36))")
    valid = doc.get("valid")
    if not isinstance(valid, bool):
        raise Refused("$.valid: required, true or false")
    contract_id = _text(doc.get("contract_id")) or _text(doc.get("auth_id"))
    if not contract_id:
        key = "auth_id" if version == OcpiVersion.V2_1_1.value else "contract_id"
        _flag(flags, "missing_" + key, f"$.{key} missing: the uid stands in for it")
        contract_id = uid
    if len(contract_id) > 36:
        raise Refused("$.contract_id: at most 36 characters (OCPI CiString(36))")
    issuer = _text(doc.get("issuer"))
    if not issuer:
        _flag(flags, "missing_issuer", f"$.issuer missing: {country_code}*{party_id} stands in")
        issuer = f"{country_code}*{party_id}"
    issuer = issuer[:64]
    whitelist = str(doc.get("whitelist") or "").upper()
    if whitelist not in set(WhitelistType):
        _flag(flags, "whitelist", f"$.whitelist {doc.get('whitelist')!r} unknown: ALLOWED assumed")
        whitelist = WhitelistType.ALLOWED.value
    optional: dict[str, Any] = {}
    for key, limit in (("visual_number", 64), ("group_id", 36)):
        value = doc.get(key)
        if value is None:
            continue
        if isinstance(value, str) and len(value) <= limit:
            optional[key] = value
        else:
            _flag(flags, key, f"$.{key}: a string of at most {limit} characters; not kept")
    language = doc.get("language")
    if language is not None:
        if isinstance(language, str) and re.fullmatch("[A-Za-z]{2}", language):
            optional["language"] = language.lower()
        else:
            _flag(flags, "language", f"$.language {language!r}: not ISO 639-1; not kept")
    profile = doc.get("default_profile_type")
    if profile is not None:
        if isinstance(profile, str) and profile.upper() in set(ProfileType):
            optional["default_profile_type"] = profile.upper()
        else:
            _flag(flags, "default_profile_type", f"$.default_profile_type {profile!r}: not kept")
    contract = doc.get("energy_contract")
    if contract is not None:
        supplier = contract.get("supplier_name") if isinstance(contract, dict) else None
        if isinstance(supplier, str) and 0 < len(supplier) <= 64:
            ec = {"supplier_name": supplier}
            if isinstance(contract.get("contract_id"), str) and len(contract["contract_id"]) <= 64:
                ec["contract_id"] = contract["contract_id"]
            optional["energy_contract"] = ec
        else:
            _flag(flags, "energy_contract", "$.energy_contract: no supplier_name; not kept")
    return TokenInput(
        country_code=country_code,
        party_id=party_id,
        uid=uid,
        type=type_,
        contract_id=contract_id,
        issuer=issuer,
        valid=valid,
        whitelist=whitelist,
        **optional,
    )


def _store(
    conn: OcpiConnection,
    doc: dict[str, Any],
    *,
    party: tuple[int, str, str],
    uid: str,
    type_: str,
    version: str,
    last_updated: datetime,
    flags: list[dict[str, str]],
) -> ReceivedToken:
    party_pk, cc, pid = party
    data = _input(
        doc, country_code=cc, party_id=pid, uid=uid, type_=type_, version=version, flags=flags
    )
    with transaction.atomic():
        ForeignObject.objects.update_or_create(
            tenant_id=conn.tenant_id,
            module=MODULE,
            country_code=cc,
            party_id=pid,
            object_id=_object_id(uid, type_),
            defaults={
                "connection": conn,
                "data": doc,
                "last_updated": last_updated,
                "flags": flags,
            },
        )
        try:
            token, created = tokens_api.token_partner_upsert(
                tenant_id=conn.tenant_id,
                party_pk=party_pk,
                data=data,
                actor=connection_actor(conn),
            )
        except ValidationFailed as exc:
            where = "; ".join(f"{p.path}: {p.message}" for p in exc.problems) or exc.message
            raise Refused(f"the token breaks a rule: {where}") from None
        except DomainError as exc:
            raise Refused(str(exc)) from None
    return ReceivedToken(data=doc, token=token, created=created, flags=tuple(flags))


def token_received_put(
    *,
    connection_id: int,
    version: str,
    country_code: str,
    party_id: str,
    uid: str,
    type_param: str | None,
    body: Any,
    now: datetime | None = None,
) -> ReceivedToken:
    """PUT {country_code}/{party_id}/{uid}[?type=]: create or replace the token."""
    conn = OcpiConnection.objects.get(pk=connection_id)
    if not isinstance(body, dict):
        raise Refused("the body must be a Token object")
    type_ = token_type(type_param or _text(body.get("type")), version=version)
    _same(body, "type", type_, "type parameter")
    _same(body, "uid", uid, "token uid")
    if version != OcpiVersion.V2_1_1.value:
        _same(body, "country_code", country_code, "country code")
        _same(body, "party_id", party_id, "party id")
    party = emsp_party(conn, country_code, party_id)
    flags: list[dict[str, str]] = []
    if body.get("uid") is None:
        _flag(flags, "missing_uid", "$.uid missing: the URL's uid is used")
    last_updated = _when(body.get("last_updated"))
    if last_updated is None:
        _flag(flags, "last_updated", "$.last_updated missing or not a DateTime: receipt time used")
        last_updated = now or timezone.now()
    return _store(
        conn,
        body,
        party=party,
        uid=uid,
        type_=type_,
        version=version,
        last_updated=last_updated,
        flags=flags,
    )


def _stored(conn: OcpiConnection, cc: str, pid: str, uid: str, type_: str) -> ForeignObject | None:
    return ForeignObject.objects.filter(
        tenant_id=conn.tenant_id,
        module=MODULE,
        country_code=cc,
        party_id=pid,
        object_id=_object_id(uid, type_),
    ).first()


def token_received_patch(
    *,
    connection_id: int,
    version: str,
    country_code: str,
    party_id: str,
    uid: str,
    type_param: str | None,
    body: Any,
) -> ReceivedToken:
    """PATCH: the fields sent replace the stored document's; `last_updated` required."""
    conn = OcpiConnection.objects.get(pk=connection_id)
    if not isinstance(body, dict):
        raise Refused("the body must be a (partial) Token object")
    type_ = token_type(type_param or _text(body.get("type")), version=version)
    _same(body, "type", type_, "type parameter")
    _same(body, "uid", uid, "token uid")
    _same(body, "country_code", country_code, "country code")
    _same(body, "party_id", party_id, "party id")
    last_updated = _when(body.get("last_updated"))
    if last_updated is None:
        raise Refused("$.last_updated: required on PATCH (an OCPI DateTime)")
    party = emsp_party(conn, country_code, party_id)
    row = _stored(conn, party[1], party[2], uid, type_)
    if row is None:
        raise Refused(
            f"unknown token {uid} ({type_}): PUT it first",
            status_code=_unknown_token_code(version),
            http_status=404,
        )
    merged = {**row.data, **body}
    stored_uid = row.data.get("uid") if isinstance(row.data.get("uid"), str) else uid
    return _store(
        conn,
        merged,
        party=party,
        uid=stored_uid or uid,
        type_=type_,
        version=version,
        last_updated=last_updated,
        flags=[],
    )


def _unknown_token_code(version: str) -> int:
    return (
        transport.CLIENT_ERROR if version == OcpiVersion.V2_1_1.value else transport.UNKNOWN_TOKEN
    )


def token_received_get(
    *,
    connection_id: int,
    version: str,
    country_code: str,
    party_id: str,
    uid: str,
    type_param: str | None,
) -> dict[str, Any]:
    """GET: the token as the partner last sent it (404 when we have none)."""
    conn = OcpiConnection.objects.get(pk=connection_id)
    type_ = token_type(type_param, version=version)
    _, cc, pid = emsp_party(conn, country_code, party_id)
    row = _stored(conn, cc, pid, uid, type_)
    if row is None:
        raise Refused(
            f"unknown token {uid} ({type_})",
            status_code=_unknown_token_code(version),
            http_status=404,
        )
    return dict(row.data)
