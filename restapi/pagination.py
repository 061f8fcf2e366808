"""Keyset (cursor) pagination: `WHERE id > <cursor> ORDER BY id LIMIT n+1`, never OFFSET.

A page costs the same at any depth, and a page never shifts when rows are inserted: new rows
have higher ids and appear on later pages. The cursor is opaque to clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from rest_framework import serializers
from rest_framework.request import Request

from apps.common import api as common_api
from restapi.problems import QueryInvalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def after_id_of(cursor: str) -> int:
    """The id a `next_cursor` of this API names (apps.common.cursors); QueryInvalid if the
    text is not one."""
    after_id = common_api.decode_id_cursor(cursor)
    if after_id is None:
        raise QueryInvalid({"cursor": ["not a cursor this API returned"]})
    return after_id


class PageQuery(serializers.Serializer):
    cursor = serializers.CharField(
        required=False, max_length=64, help_text="`next_cursor` of the previous page"
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"page size, 1 to {MAX_LIMIT}",
    )


class Rendered:
    """`paginate`'s item for rows rendered by a function, `render` in a subclass (e.g. the
    domain's OCPI objects: the same dicts the webhooks send), without DRF's field machinery
    per row."""

    render: Callable[[Any], dict[str, Any]]

    def __init__(self, rows: Sequence[Any], many: bool = True) -> None:
        self.data = [type(self).render(r) for r in rows]


_PAGE_SERIALIZERS: dict[type, type] = {}


def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The page serializer for items of `item` (one class per item type, for the schema)."""
    if item not in _PAGE_SERIALIZERS:
        name = item.__name__.removesuffix("Out") + "Page"
        _PAGE_SERIALIZERS[item] = type(
            name,
            (serializers.Serializer,),
            {
                "data": item(many=True),
                "next_cursor": serializers.CharField(
                    allow_null=True, help_text="pass as `cursor` for the next page; null: last"
                ),
                "__module__": __name__,
            },
        )
    return _PAGE_SERIALIZERS[item]


def paginate(
    request: Request,
    query: dict[str, Any],
    fetch: Callable[..., Sequence[Any]],
    key: Callable[[Any], int],
    item: Callable[..., Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run `fetch(after_id=, limit=)` for one page; returns the body and a Link header."""
    limit = query.pop("limit", DEFAULT_LIMIT)
    cursor = query.pop("cursor", None)
    after_id = after_id_of(cursor) if cursor else None
    rows = list(fetch(after_id=after_id, limit=limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = common_api.encode_id_cursor(key(rows[-1])) if more and rows else None
    headers = {}
    if next_cursor:
        params = {k: v for k, v in request.query_params.items() if k != "cursor"}
        params["cursor"] = next_cursor
        url = request.build_absolute_uri(request.path) + "?" + urlencode(params)
        headers["Link"] = f'<{url}>; rel="next"'
    return {"data": item(rows, many=True).data, "next_cursor": next_cursor}, headers
