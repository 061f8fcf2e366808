"""Public functions of the tokens app."""

from __future__ import annotations

from apps.tokens import selectors, services
from apps.tokens.contracts import AuthorizationStatus, TokenRef, TokenType, WhitelistType
from apps.tokens.models import Token

token_upsert = services.token_upsert
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
    )


def tokens_by_uid(*, uid: str) -> list[TokenRef]:
    """Every token with this uid (an RFID uid may be issued by more than one eMSP)."""
    return [_ref(t) for t in Token.objects.filter(uid=uid).order_by("id")]


def token_authorize(*, uid: str) -> AuthorizationStatus:
    """Whether a station may start charging for this uid: Accepted when some token with
    this uid is valid, Blocked when all are blocked, Invalid when none exists."""
    valid = list(Token.objects.filter(uid=uid).values_list("valid", flat=True)[:10])
    if not valid:
        return AuthorizationStatus.INVALID
    return AuthorizationStatus.ACCEPTED if any(valid) else AuthorizationStatus.BLOCKED


token_search = selectors.token_search
