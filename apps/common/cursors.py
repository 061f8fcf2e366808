"""Keyset cursors: where the next page of a list starts, as one opaque URL-safe text.

One codec for every interface that pages by keyset: the REST API (a row id) and the portal
(a timestamp and a row id). A cursor is `base64url("v1:" + "|".join(parts))` without padding,
each part an integer or an ISO 8601 datetime. A cursor of one id is `base64url("v1:<id>")`,
the REST API's cursor since issue 7, so every cursor it has handed out still decodes.

Decoding never raises: a text that is not a cursor of the expected shape is None, and each
interface says so its own way (the API: a 400 problem; the portal: the first page).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

_VERSION = "v1"


def _encode(*parts: str) -> str:
    raw = f"{_VERSION}:{'|'.join(parts)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(text: str, count: int) -> list[str] | None:
    """The `count` parts of a cursor, or None when `text` is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    version, _, rest = raw.partition(":")
    parts = rest.split("|")
    if version != _VERSION or len(parts) != count:
        return None
    return parts


def _int(part: str) -> int | None:
    return int(part) if part.isascii() and part.isdigit() else None


def encode_id_cursor(pk: int) -> str:
    """The cursor after the row `pk` of a list ordered by id."""
    return _encode(str(pk))


def decode_id_cursor(text: str) -> int | None:
    """The id an `encode_id_cursor` text names; None when `text` is not such a cursor."""
    parts = _decode(text, 1)
    return _int(parts[0]) if parts is not None else None


def encode_time_cursor(at: datetime, pk: int) -> str:
    """The cursor after the row (`at`, `pk`) of a list ordered by a timestamp, then id."""
    return _encode(at.isoformat(), str(pk))


def decode_time_cursor(text: str) -> tuple[datetime, int] | None:
    """The (timestamp, id) an `encode_time_cursor` text names; None when it is not one."""
    parts = _decode(text, 2)
    if parts is None or (pk := _int(parts[1])) is None:
        return None
    try:
        return datetime.fromisoformat(parts[0]), pk
    except ValueError:
        return None
