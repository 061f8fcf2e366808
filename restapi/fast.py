"""ASGI fast paths for the two hottest requests (ADR 0016): the write
`PUT /api/v1/tokens/{cc}/{party}/{uid}` and the read `GET /api/v1/cdrs`.

An eMSP CRM syncing its cards sends the PUT hundreds of times a second, and billing systems
poll the CDR list page by page. Through Django's middleware chain, URL resolver and DRF's
dispatch each cost several ms of CPU more than the work itself (key check, rate limit, one
statement, the rendering). This wrapper around the Django ASGI application serves the
*successful* case of those requests directly, with the very functions the DRF views use
(API-key authentication and scopes, the per-key rate limit, `token_upsert` and `cdr_page` of
`restapi.operations`, the JSON renderer), and the same response bytes and headers.
Anything else is handed to Django unchanged, body included: no Authorization header or an
unknown key, a missing scope, `If-Match`, a body that is not a JSON object, a validation
error, a bad query parameter or cursor, a refused rate limit. So
every error response still comes from one place (the DRF view and its problem details); a
request handed on after it was counted carries its rate-limit decision in the ASGI scope and
is not counted twice.

`API_FAST_PATHS=0` turns the wrapper off (every request through Django). Imported by
config.asgi once Django is set up: it loads DRF and the API's modules when imported.
"""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from apps.common.asgi import read_body, replaying
from apps.common.errors import DomainError
from apps.integrations import api as integrations_api
from apps.integrations.contracts import ApiPrincipal
from restapi.auth import FAST_PATH_DECISION, ApiKeyRateThrottle, key_actor
from restapi.json import dumps, loads
from restapi.operations import cdr_page, token_upsert

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
# What a fast path returns: (status, body, headers) when it answered; None, or ASGI scope
# additions (the rate-limit decision), to hand the request to Django.
Outcome = tuple[int, bytes, Sequence[tuple[bytes, bytes]]] | dict[str, Any] | None

_JSON = (b"application/json", b"application/json;charset=utf-8")
_TOKEN_PUT = re.compile(r"/api/v1/tokens/([A-Z]{2})/([A-Z0-9]{3})/([^/]{1,36})")
_CDR_LIST = "/api/v1/cdrs"
# What Django's middleware adds to every response (SecurityMiddleware, XFrameOptions): the
# fast path's responses carry the same, and each view's own (Allow, ETag, Link).
_HEADERS = (
    (b"content-type", b"application/json"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class FastPaths:
    def __init__(self, django: App) -> None:
        self.django = django
        self._put = sync_to_async(_token_put, thread_sensitive=False)
        self._cdrs = sync_to_async(_cdr_list, thread_sensitive=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not settings.API_FAST_PATHS:
            await self.django(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        serve: Callable[[Scope, bytes], Awaitable[Outcome]]
        if method == "PUT" and (match := _TOKEN_PUT.fullmatch(path)) is not None:
            serve = partial(self._put, identity=(match[1], match[2], match[3]))
        elif method == "GET" and path == _CDR_LIST:
            serve = self._cdrs
        else:
            await self.django(scope, receive, send)
            return
        body, complete = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        outcome = await serve(scope, body) if complete else None
        if isinstance(outcome, tuple):
            status, payload, extra = outcome
            headers = [
                *_HEADERS,
                *extra,
                (b"content-length", str(len(payload)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        # Handed on to Django: the body as read, then whatever else the client sends.
        replay = replaying(receive, body, complete)
        if outcome is not None:
            scope = {**scope, **outcome}
        await self.django(scope, replay, send)


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


def _admit(key: str, resource: str, action: str) -> tuple[ApiPrincipal, dict[str, Any]] | None:
    """The key's principal when it holds `resource:action`, and the request counted toward
    the key's rate limit (the decision, as ASGI scope additions for the view); None to hand
    the request to the view uncounted."""
    principal = integrations_api.api_key_authenticate(presented=key, now=timezone.now())
    if principal is None or not principal.allows(resource, action):
        return None
    return principal, {FAST_PATH_DECISION: ApiKeyRateThrottle().count(principal)}


def _refused(handed_on: dict[str, Any]) -> bool:
    """Refused by the rate limit, or the key revoked elsewhere: the view answers (429, 401)."""
    allowed, _, revoked = handed_on[FAST_PATH_DECISION]
    return not allowed or revoked


def _token_put(scope: Scope, body: bytes, identity: tuple[str, str, str]) -> Outcome:
    """The upsert when it succeeds; anything else is handed to the view. Runs in a thread
    of the default executor, like a sync view."""
    headers = dict(scope["headers"])
    if b"if-match" in headers:
        return None
    if headers.get(b"content-type", b"").lower().replace(b" ", b"") not in _JSON:
        return None
    if (key := _bearer(headers)) is None:
        return None
    close_old_connections()  # what Django's request_started signal does
    try:
        try:
            data = loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or (admitted := _admit(key, "tokens", "write")) is None:
            return None
        principal, handed_on = admitted
        if _refused(handed_on):
            return handed_on
        country_code, party_id, uid = identity
        try:
            status, token, etag = token_upsert(
                tenant_id=principal.tenant_id,
                sent=data,
                country_code=country_code,
                party_id=party_id,
                uid=uid,
                if_match=None,
                actor=key_actor(principal),
            )
        except DomainError:
            return handed_on  # nothing written: the view says what is wrong, and where
        extra = ((b"allow", b"PUT, OPTIONS"), (b"etag", f'"{etag}"'.encode()))
        return status, dumps(token), extra
    finally:
        close_old_connections()  # request_finished: the connection back to the pool


def _cdr_list(scope: Scope, body: bytes) -> Outcome:
    """A page of CDRs (`GET /api/v1/cdrs`, what a CRM or finance system polls) when the
    query is valid; anything else is handed to the view."""
    if (key := _bearer(dict(scope["headers"]))) is None:
        return None
    close_old_connections()
    try:
        if (admitted := _admit(key, "cdrs", "read")) is None:
            return None
        principal, handed_on = admitted
        if _refused(handed_on):
            return handed_on
        # Django's own request object (query string, host check, absolute URL for the Link
        # header) without the handler, middleware and DRF dispatch around the view.
        request = Request(ASGIRequest(scope, io.BytesIO(body)))
        try:
            page, links = cdr_page(request, principal.tenant_id)
        except (APIException, DomainError, SuspiciousOperation):
            return handed_on  # a bad filter or cursor, a host not allowed: the view answers
        extra = [(b"allow", b"GET, HEAD, OPTIONS")]
        extra.extend((k.lower().encode(), v.encode("latin-1")) for k, v in links.items())
        return 200, dumps(page), extra
    finally:
        close_old_connections()
