"""The OCPI transport rules both directions share (ROAMING.md "Authorization header",
"Envelope and status codes", "Pagination", "Routing headers"): pure functions, no database.

Inbound lenient: `token_candidates` accepts a token sent raw or Base64-encoded. Outbound
strict: `authorization_header` encodes per the connection's flag, `envelope` writes the
exact shape the spec defines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import simplejson

# Status codes (OCPI 2.2.1 part "Status codes").
OK = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003
HUB_UNKNOWN_RECEIVER = 4001
HUB_TIMEOUT = 4002
HUB_CONNECTION_PROBLEM = 4003

# Routing headers: functional modules only (never versions, credentials, hubclientinfo).
FROM_COUNTRY = "OCPI-from-country-code"
FROM_PARTY = "OCPI-from-party-id"
TO_COUNTRY = "OCPI-to-country-code"
TO_PARTY = "OCPI-to-party-id"
REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
TOTAL_COUNT = "X-Total-Count"
LIMIT = "X-Limit"
CONFIGURATION_MODULES = frozenset({"versions", "credentials", "hubclientinfo"})

TOKEN_BYTES = 32


def new_token() -> str:
    """A token (A, B or C): 32 random bytes, URL-safe text (no padding)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """SHA-256 hex of a token: what is stored for tokens we only compare."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_request_id() -> str:
    return str(uuid.uuid4())


def iso(dt: datetime) -> str:
    """OCPI DateTime (string(25)): UTC, `Z`, seconds, or milliseconds when there is a
    fraction (microseconds would make it 27 characters)."""
    dt = dt.astimezone(UTC)
    spec = "milliseconds" if dt.microsecond else "seconds"
    return dt.isoformat(timespec=spec).replace("+00:00", "Z")


def authorization_header(token: str, *, base64_encoded: bool) -> str:
    """The Authorization value we send: 2.2.1 `Token <base64(utf-8 token)>` (no newline),
    2.1.1 or a partner that wants it raw: `Token <token>`."""
    if base64_encoded:
        return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")
    return "Token " + token


def token_candidates(header: str | None) -> tuple[str, ...]:
    """The tokens an inbound Authorization value may carry, most likely first: the value
    Base64-decoded (2.2.1) and as sent (2.1.1 / partners that send it raw). Empty when the
    header is missing or not `Token ...` (any case; surrounding space and a trailing newline,
    the d2 example's erratum, are tolerated)."""
    if not header:
        return ()
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return ()
    out: list[str] = []
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8").strip()
    except (binascii.Error, ValueError):
        decoded = ""
    if decoded and decoded.isprintable():
        out.append(decoded)
    if value not in out:
        out.append(value)
    return tuple(out)


def envelope(
    data: Any = None,
    *,
    status_code: int = OK,
    status_message: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The response envelope: `data` is left out when None (the spec's `data` is optional),
    `status_message` when None."""
    out: dict[str, Any] = {}
    if data is not None:
        out["data"] = data
    out["status_code"] = status_code
    if status_message is not None:
        out["status_message"] = status_message
    out["timestamp"] = iso(now or datetime.now(UTC))
    return out


def dumps(value: Any) -> str:
    """JSON as we send it: Decimals exact, datetimes as OCPI DateTime, no NaN."""
    return simplejson.dumps(value, use_decimal=True, default=_default, allow_nan=False)


def loads(body: bytes | str) -> Any:
    """JSON as we read it: numbers with a fraction as Decimal. Raises ValueError."""
    return simplejson.loads(body, use_decimal=True)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def next_link(url: str, params: Mapping[str, Any], *, offset: int, limit: int) -> str:
    """`Link: <url?…&offset=…&limit=…>; rel="next"`, keeping every other query parameter."""
    parts = urlsplit(url)
    query = {k: v for k, v in params.items() if k not in ("offset", "limit") and v is not None}
    query["offset"] = offset
    query["limit"] = limit
    target = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return f'<{target}>; rel="next"'


def parse_next_link(header: str | None) -> str | None:
    """The `rel="next"` target of a Link header, or None. Lenient: any case, single or no
    quotes around `next`, several links separated by commas."""
    if not header:
        return None
    for part in header.split(","):
        segs = [s.strip() for s in part.split(";")]
        if not segs or not (segs[0].startswith("<") and segs[0].endswith(">")):
            continue
        for seg in segs[1:]:
            name, _, val = seg.partition("=")
            if name.strip().lower() == "rel" and val.strip().strip("\"'").lower() == "next":
                return segs[0][1:-1].strip()
    return None
