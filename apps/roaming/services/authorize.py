"""Real-time authorization (CPO role): ask the eMSP whether a token may charge here
(OCPI tokens module, `POST {tokens sender endpoint}/{uid}/authorize[?type=]`), and the
decision the OCPP gateway's Authorize answers with (`station_authorize`).

Which eMSP is asked:
- a token we hold from a partner eMSP (pushed or returned by an earlier authorization):
  only the connection(s) of that eMSP party, routed to it (through a hub too);
- an unknown uid: every directly connected eMSP (not hubs: a hub cannot route a
  request to no party), at most OCPI_AUTHORIZE_MAX_PARTNERS, in parallel; the first ALLOWED
  wins, else the first other answer; 2004 / 404 means "not ours".

When the gateway asks (OCPI WhitelistType, mod_tokens):
- the token cache decides alone: the tenant's own tokens, partner tokens whitelisted ALWAYS or
  ALLOWED, blocked tokens, tokens refused by access control (NotAtThisLocation), and any uid
  at a station without roaming;
- the eMSP is asked: partner tokens whitelisted NEVER or ALLOWED_OFFLINE, and unknown uids.
Fallback when no eMSP answers in time: ALLOWED_OFFLINE → Accepted, NEVER → Invalid, an
unknown uid stays Unknown (OCPP 1.x: Invalid). Such answers are not cached by the gateway.
An ALLOWED answer's token (2.2.1) is stored like a pushed token, so the session that follows
is attributed to the eMSP.
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q

from apps.locations import api as locations_api
from apps.parties import api as parties_api
from apps.roaming import client
from apps.roaming.contracts import (
    ConnectionStatus,
    HubPartyStatus,
    InterfaceRole,
    OcpiRole,
    OcpiVersion,
)
from apps.roaming.models import OcpiConnection, OcpiPartyRole
from apps.roaming.services import push, tokens_in
from apps.tokens import api as tokens_api
from apps.tokens.contracts import AuthorizationStatus, WhitelistType

log = logging.getLogger(__name__)

ALLOWED_VALUES = ("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED")
_STATUS = {
    "ALLOWED": AuthorizationStatus.ACCEPTED,
    "BLOCKED": AuthorizationStatus.BLOCKED,
    "EXPIRED": AuthorizationStatus.EXPIRED,
    "NO_CREDIT": AuthorizationStatus.BLOCKED,  # OCPP has no "no credit" (2.0.1 NoCredit aside)
    "NOT_ALLOWED": AuthorizationStatus.NOT_AT_THIS_LOCATION,
}


@dataclass(frozen=True)
class AuthorizationInfo:
    """An eMSP's answer: `allowed` (ALLOWED / BLOCKED / EXPIRED / NO_CREDIT / NOT_ALLOWED),
    the token it sent (2.2.1), the reference the session and CDR must carry, and who
    answered."""

    allowed: str
    connection_id: int
    country_code: str
    party_id: str
    token: dict[str, Any] | None = None
    authorization_reference: str = ""
    info: Any = None


@dataclass(frozen=True)
class StationAuthorization:
    """What the gateway answers a station's Authorize with. `cacheable`: False for a
    fallback (no eMSP answered), which must not outlive the outage in the gateway's cache.
    `source`: LOCAL (the token cache), REALTIME (an eMSP answered) or FALLBACK."""

    status: AuthorizationStatus
    authorization_reference: str = ""
    cacheable: bool = True
    source: str = "LOCAL"


@dataclass(frozen=True)
class _Target:
    connection: OcpiConnection
    url: str
    country_code: str
    party_id: str


def _timeout() -> float:
    return max(0.05, settings.OCPI_AUTHORIZE_TIMEOUT_MS / 1000)


def _targets(tenant_id: int, partner_pks: set[int] | None) -> list[_Target]:
    roles = OcpiPartyRole.objects.filter(
        tenant_id=tenant_id,
        role=OcpiRole.EMSP.value,
        connection__status=ConnectionStatus.REGISTERED.value,
        hub_status=HubPartyStatus.CONNECTED.value,
    ).select_related("connection")
    if partner_pks is not None:
        # The role's linked partner, or (not linked yet) the partner's identity.
        match = Q(partner_id__in=partner_pks)
        for pk in partner_pks:
            party = parties_api.party_by_pk(pk=pk)
            match |= Q(country_code__iexact=party.country_code, party_id__iexact=party.party_id)
        roles = roles.filter(match)
    else:
        roles = roles.filter(connection__is_hub=False)
    out: list[_Target] = []
    for role in roles.order_by("connection_id", "id"):
        base = client.endpoint_url(role.connection, "tokens", InterfaceRole.SENDER.value)
        if base is None:
            continue
        out.append(_Target(role.connection, base.rstrip("/"), role.country_code, role.party_id))
        if len(out) >= settings.OCPI_AUTHORIZE_MAX_PARTNERS:
            break
    return out


def _ask_one(
    t: _Target, uid: str, type_: str, refs: dict[str, Any] | None, timeout: float
) -> AuthorizationInfo | str:
    """One eMSP's answer, or "UNKNOWN" (not its token) / "UNREACHED" (no usable answer)."""
    conn = t.connection
    try:
        reply = client.call(
            connection=conn,
            method="POST",
            url=f"{t.url}/{quote(uid, safe='')}/authorize",
            module="tokens",
            body=refs,
            params={"type": type_},
            from_party=push.own_party(conn.tenant_id, "locations"),
            to_party=(t.country_code, t.party_id),
            timeout=timeout,
        )
    except client.OcpiCallFailed as exc:
        if exc.ocpi_status == 2004 or exc.http_status == 404:
            return "UNKNOWN"
        log.info("real-time authorization of %s at connection %s: %s", uid, conn.pk, exc)
        return "UNREACHED"
    data = reply.data if isinstance(reply.data, dict) else {}
    allowed = str(data.get("allowed") or "").upper()
    if allowed not in ALLOWED_VALUES:
        log.warning("connection %s answered authorize without a known `allowed`", conn.pk)
        return "UNREACHED"
    token = data.get("token") if isinstance(data.get("token"), dict) else None
    reference = data.get("authorization_reference")
    return AuthorizationInfo(
        allowed=allowed,
        connection_id=conn.pk,
        country_code=t.country_code,
        party_id=t.party_id,
        token=token,
        authorization_reference=reference[:36] if isinstance(reference, str) else "",
        info=data.get("info"),
    )


def _in_thread(*args: Any) -> AuthorizationInfo | str:
    try:
        return _ask_one(*args)
    finally:
        close_old_connections()


def _ask(
    tenant_id: int,
    uid: str,
    *,
    type_: str,
    location_id: str | None,
    evse_uids: tuple[str, ...],
    timeout: float,
    partner_pks: set[int] | None,
) -> tuple[AuthorizationInfo | None, bool]:
    """(the decisive answer or None, whether any eMSP answered at all)."""
    targets = _targets(tenant_id, partner_pks)
    if not targets:
        return None, False
    refs: dict[str, Any] | None = None
    if location_id:
        refs = {"location_id": location_id}
        if evse_uids:
            refs["evse_uids"] = list(evse_uids)
    if len(targets) == 1:  # no thread: the call's own timeouts bound it
        answers = [_ask_one(targets[0], uid, type_, refs, timeout)]
    else:
        answers = _ask_parallel(targets, uid, type_, refs, timeout)
    infos = [a for a in answers if isinstance(a, AuthorizationInfo)]
    reached = bool(infos) or "UNKNOWN" in answers
    allowed = [i for i in infos if i.allowed == "ALLOWED"]
    best = allowed or infos
    return (best[0] if best else None), reached


def _ask_parallel(
    targets: list[_Target],
    uid: str,
    type_: str,
    refs: dict[str, Any] | None,
    timeout: float,
) -> list[AuthorizationInfo | str]:
    pool = ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="ocpi-authorize")
    futures: list[Future[AuthorizationInfo | str]] = [
        pool.submit(_in_thread, t, uid, type_, refs, timeout) for t in targets
    ]
    answers: list[AuthorizationInfo | str] = []
    pending = set(futures)
    deadline_wait = 2 * timeout + 0.5  # connect + answer, each bound by `timeout`
    while pending:
        done, pending = wait(pending, timeout=deadline_wait, return_when=FIRST_COMPLETED)
        if not done:
            break
        for f in done:
            answer = f.result() if f.exception() is None else "UNREACHED"
            answers.append(answer)
            if isinstance(answer, AuthorizationInfo) and answer.allowed == "ALLOWED":
                pending = set()
                break
    pool.shutdown(wait=False, cancel_futures=True)
    return answers


def authorize_realtime(
    *,
    tenant_id: int,
    uid: str,
    type_: str = "RFID",
    location_id: str | None = None,
    evse_uids: tuple[str, ...] = (),
    timeout: float | None = None,
    partner_pks: set[int] | None = None,
) -> AuthorizationInfo | None:
    """Ask the eMSP(s) (see the module) whether `uid` may charge, at `location_id` /
    `evse_uids` when given. None when no eMSP gave an answer (none configured, unreachable,
    too slow, or none knows the token). An ALLOWED answer's token is stored."""
    info, _ = _ask(
        tenant_id,
        uid,
        type_=type_,
        location_id=location_id,
        evse_uids=evse_uids,
        timeout=timeout if timeout is not None else _timeout(),
        partner_pks=partner_pks,
    )
    if info is not None and info.allowed == "ALLOWED":
        _store_token(info)
    return info


def _store_token(info: AuthorizationInfo) -> None:
    token = info.token
    if not token or not isinstance(token.get("uid"), str):
        return
    conn = OcpiConnection.objects.get(pk=info.connection_id)
    try:
        tokens_in.token_received_put(
            connection_id=conn.pk,
            version=conn.version or OcpiVersion.V2_2_1.value,
            country_code=str(token.get("country_code") or info.country_code),
            party_id=str(token.get("party_id") or info.party_id),
            uid=token["uid"],
            type_param=token.get("type") if isinstance(token.get("type"), str) else None,
            body=token,
        )
    except tokens_in.Refused as exc:
        log.warning("token of an authorization not stored (connection %s): %s", conn.pk, exc)


def _location_refs(tenant_id: int, station_id: int) -> tuple[str | None, tuple[str, ...]]:
    facts = locations_api.station_scope_facts(tenant_id=tenant_id, station_ids=[station_id])
    location_pk = facts.get(station_id, (None, "", None, ""))[0]
    if location_pk is None:
        return None, ()
    loc = locations_api.location_get(tenant_id=tenant_id, location_id=location_pk)
    return loc.id, tuple(e.uid for e in loc.evses if e.charge_station_id == station_id)


def _realtime_possible(tenant_id: int) -> bool:
    return OcpiPartyRole.objects.filter(
        tenant_id=tenant_id,
        role=OcpiRole.EMSP.value,
        connection__status=ConnectionStatus.REGISTERED.value,
    ).exists()


def station_authorize(*, tenant_id: int, station_id: int, uid: str) -> StationAuthorization:
    """The OCPP gateway's Authorize decision: the token cache (apps.tokens access control)
    and, where OCPI says so, the eMSP in real time (see the module for when and the
    fallback)."""
    local = tokens_api.token_authorize(tenant_id=tenant_id, station_id=station_id, uid=uid)
    if local not in (AuthorizationStatus.ACCEPTED, AuthorizationStatus.UNKNOWN):
        return StationAuthorization(local)
    if not _realtime_possible(tenant_id):
        return StationAuthorization(local)
    mine = [
        c
        for c in tokens_api.token_candidates(uids=[uid]).get(uid, [])
        if c.ref.tenant_id == tenant_id
    ]
    partner_pks: set[int] | None = None
    offline_ok = False
    type_ = "RFID"
    if local is AuthorizationStatus.ACCEPTED:
        valid = [c for c in mine if c.ref.valid]
        if any(c.own_party for c in valid):
            return StationAuthorization(local)
        realtime = [
            c.ref
            for c in valid
            if c.ref.whitelist in (WhitelistType.NEVER, WhitelistType.ALLOWED_OFFLINE)
        ]
        if not realtime or len(realtime) < len(valid):
            return StationAuthorization(local)  # a token the cache may decide for
        partner_pks = {r.party_id for r in realtime}
        offline_ok = any(r.whitelist is WhitelistType.ALLOWED_OFFLINE for r in realtime)
        type_ = realtime[0].type.value
    elif not locations_api.charge_station_roaming(tenant_id=tenant_id, station_id=station_id):
        return StationAuthorization(local)  # no roaming here: an unknown uid stays unknown
    location_id, evse_uids = _location_refs(tenant_id, station_id)
    info, reached = _ask(
        tenant_id,
        uid,
        type_=type_,
        location_id=location_id,
        evse_uids=evse_uids,
        timeout=_timeout(),
        partner_pks=partner_pks,
    )
    if info is not None:
        if info.allowed == "ALLOWED":
            _store_token(info)
        return StationAuthorization(
            _STATUS[info.allowed],
            authorization_reference=info.authorization_reference,
            source="REALTIME",
        )
    if reached:  # every eMSP asked said the token is not theirs
        unknown = (
            AuthorizationStatus.UNKNOWN if partner_pks is None else AuthorizationStatus.INVALID
        )
        return StationAuthorization(unknown, source="REALTIME")
    if offline_ok:
        return StationAuthorization(
            AuthorizationStatus.ACCEPTED, cacheable=False, source="FALLBACK"
        )
    fallback = AuthorizationStatus.INVALID if partner_pks is not None else local
    return StationAuthorization(fallback, cacheable=False, source="FALLBACK")
