"""The work of the two operations the ASGI fast path serves (ADR 0016): one function each,
called by the DRF view and by `restapi.fast` alike, so the two paths cannot answer
differently. Below both: it knows neither a view class nor the ASGI scope."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from apps.charging import api as charging_api
from apps.common.contracts import Actor
from apps.tokens import api as tokens_api
from apps.tokens.contracts import TokenType
from restapi.base import query_of
from restapi.pagination import Rendered, paginate
from restapi.serializers.charging import CdrListQuery
from restapi.serializers.tokens import token_input, token_object


def token_upsert(
    *,
    tenant_id: int,
    sent: dict[str, Any],
    country_code: str,
    party_id: str,
    uid: str,
    if_match: str | None,
    actor: Actor,
) -> tuple[int, dict[str, Any], str]:
    """`PUT /api/v1/tokens/{country_code}/{party_id}/{uid}`: the OCPI Token object as sent
    (type RFID unless given; the tokens service validates every field with JSON paths, one
    rule set with POST and bulk, without DRF's field machinery on this hot path) created or
    updated. Returns the status (201 created, 200 updated), the token's JSON object and its
    ETag; raises the service's DomainError, nothing written."""
    record, created = tokens_api.token_put(
        tenant_id=tenant_id,
        data=token_input(
            {"type": TokenType.RFID.value, **sent},
            country_code=country_code,
            party_id=party_id,
            uid=uid,
        ),
        if_match=if_match,
        actor=actor,
    )
    return (201 if created else 200), token_object(record), record.etag


class _Cdrs(Rendered):
    render = staticmethod(charging_api.cdr_object)


def cdr_page(request: Request, tenant_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    """`GET /api/v1/cdrs`: a page of the tenant's CDRs and its Link header. Raises
    QueryInvalid for a bad filter or cursor."""
    q = query_of(request, CdrListQuery)
    return paginate(
        request,
        q,
        lambda **page: charging_api.cdr_list(tenant_id=tenant_id, **page, **q),
        key=lambda r: r.platform_id,
        item=_Cdrs,
    )
