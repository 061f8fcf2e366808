"""Reads of the tokens app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from apps.common.errors import NotFound
from apps.common.services import version_tag_of
from apps.tokens.contracts import TokenRecord, TokenType, WhitelistType
from apps.tokens.models import Token

_FIELDS = (
    "id",
    "party__country_code",
    "party__party_id",
    "uid",
    "type",
    "contract_id",
    "visual_number",
    "issuer",
    "group_id",
    "valid",
    "whitelist",
    "language",
    "default_profile_type",
    "energy_contract",
    "updated_at",
)


def _record(row: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        country_code=row["party__country_code"],
        party_id=row["party__party_id"],
        uid=row["uid"],
        type=TokenType(row["type"]),
        contract_id=row["contract_id"],
        visual_number=row["visual_number"],
        issuer=row["issuer"],
        group_id=row["group_id"],
        valid=row["valid"],
        whitelist=WhitelistType(row["whitelist"]),
        language=row["language"],
        default_profile_type=row["default_profile_type"],
        energy_contract=row["energy_contract"],
        last_updated=row["updated_at"],
        etag=version_tag_of(row["id"], row["updated_at"]),
    )


def token_get(*, tenant_id: int, token_id: int) -> TokenRecord:
    row = Token.objects.for_tenant(tenant_id).filter(pk=token_id).values(*_FIELDS).first()
    if row is None:
        raise NotFound(f"no token {token_id} in this tenant")
    return _record(row)


def token_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    country_code: str | None = None,
    party_id: str | None = None,
    uid: str | None = None,
    type: str | None = None,
    valid: bool | None = None,
    contract_id: str | None = None,
    updated_since: datetime | None = None,
) -> list[TokenRecord]:
    qs = Token.objects.for_tenant(tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if country_code:
        qs = qs.filter(party__country_code=country_code.upper())
    if party_id:
        qs = qs.filter(party__party_id=party_id.upper())
    if uid:
        qs = qs.filter(uid=uid)
    if type:
        qs = qs.filter(type=type)
    if valid is not None:
        qs = qs.filter(valid=valid)
    if contract_id:
        qs = qs.filter(contract_id=contract_id)
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    return [_record(r) for r in qs.order_by("id").values(*_FIELDS)[:limit]]


def token_search(
    *,
    tenant_id: int,
    limit: int,
    after_id: int | None = None,
    before_id: int | None = None,
    search: str | None = None,
    valid: bool | None = None,
    ids: list[int] | None = None,
) -> list[TokenRecord]:
    """The portal's token list: uid, contract id or visual number contain `search`. By id:
    the first `limit` after `after_id`, or the last `limit` before `before_id` (a previous
    page), always in id order."""
    from django.db.models import Q

    qs = Token.objects.for_tenant(tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    if search:
        qs = qs.filter(
            Q(uid__icontains=search)
            | Q(contract_id__icontains=search)
            | Q(visual_number__icontains=search)
        )
    if valid is not None:
        qs = qs.filter(valid=valid)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if before_id is not None:
        return [_record(r) for r in list(qs.order_by("-id").values(*_FIELDS)[:limit])[::-1]]
    return [_record(r) for r in qs.order_by("id").values(*_FIELDS)[:limit]]


def token_ids_by_uid(*, tenant_id: int, uids: Sequence[str]) -> dict[str, list[int]]:
    """This tenant's token ids per uid among `uids` (a uid may name more than one token:
    one per issuing party and type); a uid with none is absent."""
    found: dict[str, list[int]] = {}
    for pk, uid in (
        Token.objects.for_tenant(tenant_id)
        .filter(uid__in=set(uids))
        .order_by("pk")
        .values_list("pk", "uid")
    ):
        found.setdefault(uid, []).append(pk)
    return found


# -- roaming (issue 19, area "emsp"): the tokens an OCPI tokens sender pages ---------------------


def tokens_updated_page(
    *,
    tenant_id: int,
    party_ids: Sequence[int],
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> tuple[int, list[TokenRecord]]:
    """(how many match, one page of them) among the tokens of `party_ids` in this tenant,
    last updated in [date_from, date_to), oldest first then by id (a stable order, as OCPI
    pagination needs)."""
    qs = Token.objects.for_tenant(tenant_id).filter(party_id__in=set(party_ids))
    if date_from is not None:
        qs = qs.filter(updated_at__gte=date_from)
    if date_to is not None:
        qs = qs.filter(updated_at__lt=date_to)
    total = qs.count()
    rows = qs.order_by("updated_at", "id").values(*_FIELDS)[offset : offset + limit]
    return total, [_record(r) for r in rows]


def tokens_by_ids(
    *, tenant_id: int, token_ids: Sequence[int], party_ids: Sequence[int]
) -> list[TokenRecord]:
    """This tenant's tokens among `token_ids` issued by one of `party_ids`, by id (one query
    per 2,000 ids): what the roaming app pushes after a change."""
    ids = sorted(set(token_ids))
    out: list[TokenRecord] = []
    for start in range(0, len(ids), 2000):
        rows = (
            Token.objects.for_tenant(tenant_id)
            .filter(pk__in=ids[start : start + 2000], party_id__in=set(party_ids))
            .order_by("id")
            .values(*_FIELDS)
        )
        out += [_record(r) for r in rows]
    return out
