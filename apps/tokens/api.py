"""Public functions of the tokens app."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import ValidationFailed
from apps.integrations import api as integrations_api
from apps.integrations.contracts import WebhookEventIn, WebhookEventType
from apps.parties import api as parties_api
from apps.parties.contracts import PartyKind, PartyRef, PartyRole
from apps.tokens import access, selectors, services
from apps.tokens.contracts import (
    AuthorizationReport,
    TokenCandidate,
    TokenInput,
    TokenRecord,
    TokenRef,
    TokenResolution,
    TokenType,
    WhitelistType,
    token_resolve_among,
)
from apps.tokens.models import Token

token_set_valid = services.token_set_valid
token_create = services.token_create
token_put = services.token_put
token_update = services.token_update
token_bulk_upsert = services.token_bulk_upsert
token_get = selectors.token_get
token_list = selectors.token_list
BULK_MAX_ITEMS = services.BULK_MAX_ITEMS


def _ref(t: Token) -> TokenRef:
    return TokenRef(
        id=t.pk,
        tenant_id=t.tenant_id,
        party_id=t.party_id,
        uid=t.uid,
        type=TokenType(t.type),
        contract_id=t.contract_id,
        valid=t.valid,
        whitelist=WhitelistType(t.whitelist),
        group_id=t.group_id,
        hcc=t.hcc,
    )


def tokens_by_uid(*, uid: str) -> list[TokenRef]:
    """Every token with this uid, of every tenant (an RFID uid may be issued by more than
    one eMSP). Not for attribution: a session's token is `token_resolve`'s."""
    return [_ref(t) for t in Token.objects.filter(uid=uid).order_by("id")]


def tokens_by_uid_ci(*, uid: str) -> list[TokenRef]:
    """Every token whose uid equals `uid` ignoring case (OCPI CiString), of every tenant."""
    return [_ref(t) for t in Token.objects.filter(uid__iexact=uid).order_by("id")]


def tokens_by_contract_id_ci(*, contract_id: str) -> list[TokenRef]:
    """Every token whose contract id (EMAID; OCPI 2.1.1 auth_id) equals `contract_id`
    ignoring case, of every tenant."""
    return [_ref(t) for t in Token.objects.filter(contract_id__iexact=contract_id).order_by("id")]


def token_candidates(*, uids: Iterable[str]) -> dict[str, list[TokenCandidate]]:
    """Every token with one of these uids, of every tenant, with its party's kind and its
    tenant's marketplace setting: what `token_resolve_among` decides from. One query for
    all the uids (a batch of the CDR pipeline); uids without a token map to []."""
    wanted = {u for u in uids if u}
    out: dict[str, list[TokenCandidate]] = {u: [] for u in wanted}
    if not wanted:
        return out
    for t in (
        Token.objects.filter(uid__in=wanted)
        .select_related("party", "tenant")
        .only(*_CANDIDATE_FIELDS)
        .order_by("id")
    ):
        out[t.uid].append(
            TokenCandidate(
                ref=_ref(t),
                own_party=t.party.kind == PartyKind.OWN,
                marketplace=t.tenant.marketplace,
            )
        )
    return out


_CANDIDATE_FIELDS = (
    "id",
    "tenant_id",
    "party_id",
    "uid",
    "type",
    "contract_id",
    "valid",
    "whitelist",
    "group_id",
    "hcc",
    "party__kind",
    "tenant__marketplace",
)


def token_resolve(*, tenant_id: int, roaming: bool, uid: str) -> TokenResolution:
    """The token `uid` resolves to at a station of `tenant_id` that admits roaming or not
    (ADR 0027: own, then partners', then marketplace tenants'; `token_resolve_among`)."""
    return token_resolve_among(
        token_candidates(uids=[uid]).get(uid, []),
        tenant_id=tenant_id,
        tenant_marketplace=parties_api.operator_marketplace(tenant_id=tenant_id),
        roaming=roaming,
    )


# Access control (ADR 0015): the Authorize decision and the groups it rests on.
token_authorize = access.token_authorize
charge_port_group_create = access.charge_port_group_create
charge_port_group_stations_add = access.charge_port_group_stations_add
charge_port_group_stations_remove = access.charge_port_group_stations_remove
emaid_group_create = access.emaid_group_create
emaid_group_tokens_add = access.emaid_group_tokens_add
emaid_group_tokens_remove = access.emaid_group_tokens_remove
emaid_group_charge_port_groups_assign = access.emaid_group_charge_port_groups_assign
emaid_group_charge_port_groups_unassign = access.emaid_group_charge_port_groups_unassign


_AUTHORIZED = WebhookEventType.TOKEN_AUTHORIZED


def _iso(value: object) -> str:
    return value.isoformat().replace("+00:00", "Z")  # type: ignore[attr-defined]


def token_authorizations_record(*, reports: Sequence[AuthorizationReport]) -> int:
    """The `token.authorized` webhook event for every Authorize the gateway answered, sent to
    the tenant that operates the station (whatever the answer: `status` says it). The token
    is described only when it belongs to that tenant; a uid of another tenant's token stays
    a bare uid (tenants never see each other's data).

    One query when no tenant of the batch subscribed; otherwise one for the tokens, one for
    the subscriptions and one INSERT (the outbox). Returns the delivery rows written."""
    interest = integrations_api.webhook_interest(tenant_ids={r.tenant_id for r in reports})
    wanted = [r for r in reports if _AUTHORIZED.value in interest.get(r.tenant_id, ())]
    if not wanted:
        return 0
    tokens: dict[tuple[int, str], dict[str, object]] = {}
    for row in (
        Token.objects.filter(
            tenant_id__in={r.tenant_id for r in wanted}, uid__in={r.uid for r in wanted}
        )
        .order_by("-valid", "id")
        .values(
            "id",
            "tenant_id",
            "uid",
            "type",
            "contract_id",
            "valid",
            "party__country_code",
            "party__party_id",
        )
    ):
        tokens.setdefault(
            (row["tenant_id"], row["uid"]),
            {
                "platform_id": row["id"],
                "country_code": row["party__country_code"],
                "party_id": row["party__party_id"],
                "uid": row["uid"],
                "type": row["type"],
                "contract_id": row["contract_id"],
                "valid": row["valid"],
            },
        )
    events = [
        WebhookEventIn(
            tenant_id=r.tenant_id,
            type=_AUTHORIZED,
            key=f"authorize:{r.station_id}:{r.uid}:{_iso(r.answered_at)}",
            occurred_at=r.answered_at,
            data={
                "uid": r.uid,
                "status": str(r.status),
                "charge_station_id": r.station_id,
                "identity": r.identity,
                "token": tokens.get((r.tenant_id, r.uid)),
                "timestamp": _iso(r.answered_at),
            },
        )
        for r in wanted
    ]
    return integrations_api.webhook_events_emit(events=events, now=timezone.now())


token_search = selectors.token_search


# rules (issue 17): the eMSP party (as this tenant knows it) of its tokens.
def token_party_pks(*, tenant_id: int, token_ids: Iterable[int]) -> dict[int, int]:
    """Token id -> its issuing eMSP party's id, for those of `token_ids` in this tenant."""
    rows = Token.objects.for_tenant(tenant_id).filter(pk__in=set(token_ids))
    return dict(rows.values_list("pk", "party_id"))


# Home-charger flags; the token row lock other apps' checks run under (issue 17, "cust").
token_lock = services.token_lock
tokens_hcc_set = services.tokens_hcc_set
token_ids_by_uid = selectors.token_ids_by_uid


# -- roaming (issue 19, area "cpo-receiver"): tokens a partner eMSP pushes to us (OCPI) ------


def _partner_emsp(tenant_id: int, party_pk: int) -> PartyRef:
    """Refuse a party that is not a PARTNER eMSP of this tenant: a roaming partner never
    writes the tenant's own tokens, nor another tenant's."""
    party = parties_api.party_by_pk(pk=party_pk)
    if (
        party.tenant_id != tenant_id
        or party.kind is not PartyKind.PARTNER
        or party.role is not PartyRole.EMSP
    ):
        raise ValidationFailed(f"party {party_pk} is not a partner eMSP of this tenant")
    return party


def token_partner_find(
    *, tenant_id: int, party_pk: int, uid: str, type: str | None = None
) -> TokenRecord | None:
    """The token of this partner eMSP with `uid` compared case-insensitively (OCPI CiString;
    the casing stored is the one first received), of `type` when given."""
    qs = Token.objects.for_tenant(tenant_id).filter(party_id=party_pk, uid__iexact=uid)
    if type:
        qs = qs.filter(type=type)
    pk = qs.order_by("id").values_list("pk", flat=True).first()
    return None if pk is None else selectors.token_get(tenant_id=tenant_id, token_id=pk)


def token_partner_upsert(
    *, tenant_id: int, party_pk: int, data: TokenInput, actor: Actor
) -> tuple[TokenRecord, bool]:
    """Create or replace a token a partner eMSP sent (OCPI tokens receiver), through the one
    token write path (`token_put`, audited with `actor`: the connection). `data` names the
    partner's identity (set from `party_pk`, whatever the caller wrote); a token that exists
    under another casing of its uid is updated and keeps its stored uid. ValidationFailed when
    the party is not a PARTNER eMSP of the tenant or a field breaks a token rule."""
    party = _partner_emsp(tenant_id, party_pk)
    data = dataclasses.replace(data, country_code=party.country_code, party_id=party.party_id)
    existing = token_partner_find(
        tenant_id=tenant_id, party_pk=party_pk, uid=data.uid, type=data.type
    )
    if existing is not None and existing.uid != data.uid:
        data = dataclasses.replace(data, uid=existing.uid)
    # A partner's token is never pushed back to partners: no token.changed for it.
    return services.token_put(tenant_id=tenant_id, data=data, actor=actor, notify=False)


# roaming (issue 19, area "emsp"): the eMSP's tokens paged for an OCPI tokens sender.
tokens_updated_page = selectors.tokens_updated_page
tokens_by_ids = selectors.tokens_by_ids
