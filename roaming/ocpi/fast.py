"""The ASGI fast path of the CDR receive (ADR 0016's pattern, ADR 0042):
`POST /ocpi/{2.2.1,2.1.1}/emsp/cdrs`, what a CPO sends for every finished session.

Through Django the request costs its middleware chain (sessions, CSRF, auth, OTP, messages),
the URL resolver and the one thread-sensitive thread per process on top of the work. This
wrapper around the ASGI application serves the *successful* case (201 stored, 200 a repeat)
in a thread of the default executor with the very functions the view uses: `base.admit`
(the token, the connection's status, the body's JSON, the ids and routing headers),
`emsp.cdr_post` (`cdr_receive`: stored, re-priced, billed), `base.answer` (the envelope, the
headers, the exchange log), and Django's own request object and response middleware for the
headers Django adds. Everything else is handed to Django unchanged, body replayed, before
anything is written: an unknown token, a connection not REGISTERED, a body that is not JSON,
a host not allowed, a refused CDR (2001), an error. `OCPI_FAST_PATHS=0` turns it off.
"""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware

from apps.common.asgi import read_body, replaying
from roaming.ocpi.base import OcpiFailure, admit, answer, call_of
from roaming.ocpi.views.emsp import cdr_post

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
Answered = tuple[int, list[tuple[bytes, bytes]], bytes]

_CDR_POST = re.compile(r"/ocpi/(2\.2\.1|2\.1\.1)/emsp/cdrs")


def _unused(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError


# The response middleware whose headers Django adds to an OCPI answer (settings.MIDDLEWARE;
# the others add nothing to it: no session or CSRF cookie, no Vary), in Django's order.
_MIDDLEWARE = (
    XFrameOptionsMiddleware(_unused),
    CommonMiddleware(_unused),
    SecurityMiddleware(_unused),
)


class OcpiFastPaths:
    def __init__(self, app: App) -> None:
        self.app = app
        self._cdr = sync_to_async(_cdr_post, thread_sensitive=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not settings.OCPI_FAST_PATHS
            or (match := _CDR_POST.fullmatch(scope["path"])) is None
        ):
            await self.app(scope, receive, send)
            return
        body, complete = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        answered = await self._cdr(scope, body, match[1]) if complete else None
        if answered is not None:
            status, headers, content = answered
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})
            return
        replay = replaying(receive, body, complete)
        await self.app(scope, replay, send)


def _cdr_post(scope: Scope, body: bytes, version: str) -> Answered | None:
    """The CDR stored (or answered as a repeat) with the view's response; None, with nothing
    written, to hand the request to Django. Runs in a thread of the default executor."""
    request = ASGIRequest(scope, io.BytesIO(body))
    try:
        request.get_host()  # ALLOWED_HOSTS, which the exchange log's URL needs
    except SuspiciousOperation:
        return None
    close_old_connections()  # what Django's request_started signal does
    try:
        admission = admit(request, "cdrs")
        if admission.refused is not None:
            return None
        try:
            result = cdr_post(call_of(admission, "cdrs", version), body)
        except OcpiFailure:
            return None  # refused before anything was written: the view answers
        response = answer(request, "cdrs", admission, result)
        for middleware in _MIDDLEWARE:
            processed = middleware.process_response(request, response)
            assert isinstance(processed, HttpResponse)
            response = processed
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
        return response.status_code, headers, response.content
    finally:
        close_old_connections()  # request_finished: the connection back to the pool
