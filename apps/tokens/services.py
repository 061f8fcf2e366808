from __future__ import annotations

from django.db import transaction

from apps.common.errors import NotFound
from apps.common.services import upsert
from apps.tokens.models import Token


@transaction.atomic
def token_upsert(*, tenant_id: int, party_id: int, uid: str, type: str, **values: object) -> int:
    """Create or update the token identified by (issuing party, uid, type)."""
    return upsert(
        Token,
        lookup={"party_id": party_id, "uid": uid, "type": type},
        values={"tenant_id": tenant_id, **values},
    ).pk


@transaction.atomic
def token_set_valid(*, tenant_id: int, token_id: int, valid: bool) -> None:
    """Block (valid=False) or unblock a token of this tenant."""
    updated = Token.objects.for_tenant(tenant_id).filter(pk=token_id).update(valid=valid)
    if updated != 1:
        raise NotFound(f"no token {token_id} in this tenant")
