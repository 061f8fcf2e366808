"""The ASGI fast path of the hottest write: `PUT /api/v1/tokens/{cc}/{party}/{uid}` (ADR 0016).

An eMSP CRM syncing its cards sends this request hundreds of times a second. Through Django's
middleware chain, URL resolver and DRF's dispatch it cost ~8 ms of CPU, of which the work
itself (key check, rate limit, one `INSERT ... ON CONFLICT DO UPDATE`) is a fraction. This
wrapper around the Django ASGI application serves the *successful* case of that one request
directly, with the very functions the DRF view uses (API-key authentication and scopes,
the per-key rate limit, `tokens_api.token_put`, the token's JSON object and renderer), and
the same response bytes and headers. Anything else is handed to Django unchanged, body
included: no Authorization header or an unknown key, a missing scope, `If-Match`, a body
that is not a JSON object, a validation error, a refused rate limit, an exception. So every
error response still comes from one place (the DRF view and its problem details); a request
handed on after it was counted carries its rate-limit decision in the ASGI scope and is not
counted twice.

`API_FAST_PATHS=0` turns the wrapper off (every request through Django).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from apps.common.errors import DomainError
from apps.integrations import api as integrations_api
from apps.tokens import api as tokens_api
from apps.tokens.contracts import TokenType

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = (b"application/json", b"application/json;charset=utf-8")
_TOKEN_PUT = re.compile(r"/api/v1/tokens/([A-Z]{2})/([A-Z0-9]{3})/([^/]{1,36})")
# What Django's middleware adds to every response (SecurityMiddleware, XFrameOptions) and DRF
# to this view's: the fast path's responses carry the same.
_HEADERS = (
    (b"content-type", b"application/json"),
    (b"allow", b"PUT, OPTIONS"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class FastPaths:
    def __init__(self, django: App) -> None:
        self.django = django
        self._put = sync_to_async(_token_put, thread_sensitive=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "PUT"
            or not settings.API_FAST_PATHS
            or (match := _TOKEN_PUT.fullmatch(scope["path"])) is None
        ):
            await self.django(scope, receive, send)
            return
        body, complete = await _read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        outcome = await self._put(scope, match.groups(), body) if complete else None
        if isinstance(outcome, tuple):
            status, payload, etag = outcome
            headers = [
                *_HEADERS,
                (b"etag", f'"{etag}"'.encode()),
                (b"content-length", str(len(payload)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        # Handed on to Django: the body as read, then whatever else the client sends.
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": not complete}
            return await receive()

        if outcome is not None:
            scope = {**scope, **outcome}
        await self.django(scope, replay, send)


async def _read_body(receive: Receive, limit: int | None) -> tuple[bytes, bool]:
    """The request body, up to `limit` bytes (beyond: what was read, and False)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _token_put(
    scope: Scope, identity: tuple[str, str, str], body: bytes
) -> tuple[int, bytes, str] | dict[str, Any] | None:
    """(status, body, etag) when served here; None, or ASGI scope additions, to hand the
    request to Django. Runs in Django's thread for sync code, like a view."""
    from restapi.auth import FAST_PATH_DECISION, ApiKeyRateThrottle
    from restapi.json import dumps, loads
    from restapi.serializers.tokens import token_object
    from restapi.views.tokens import _input

    headers = dict(scope["headers"])
    if b"if-match" in headers:
        return None
    if headers.get(b"content-type", b"").lower().replace(b" ", b"") not in _JSON:
        return None
    scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    close_old_connections()  # what Django's request_started signal does
    try:
        principal = integrations_api.api_key_authenticate(presented=key.strip(), now=timezone.now())
        if principal is None or not principal.allows("tokens", "write"):
            return None
        try:
            data = loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        decision = ApiKeyRateThrottle().count(principal)
        handed_on = {FAST_PATH_DECISION: decision}
        if not decision[0] or decision[2]:
            return handed_on  # refused or revoked: Django answers (429 / 401)
        country_code, party_id, uid = identity
        try:
            record, created = tokens_api.token_put(
                tenant_id=principal.tenant_id,
                data=_input(
                    {"type": TokenType.RFID.value, **data},
                    country_code=country_code,
                    party_id=party_id,
                    uid=uid,
                ),
                if_match=None,
            )
        except DomainError:
            return handed_on  # nothing written: the view says what is wrong, and where
        payload = dumps(token_object(record))
        return (201 if created else 200), payload, record.etag
    finally:
        close_old_connections()  # request_finished: the connection back to the pool
