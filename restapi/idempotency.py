"""`Idempotency-Key` on POST: the same key with the same request gets the same response;
the same key with another request gets 409. See docs/adr/0008-rest-api.md."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

import simplejson
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request

from apps.integrations import api as integrations_api
from restapi.problems import problem

HEADER = "Idempotency-Key"
_REPLAYED_HEADERS = ("Location", "ETag")


def fingerprint(request: Request) -> str:
    """SHA-256 of method, path, query and body; a JSON body is canonicalised first, so
    whitespace and key order do not count as a different request."""
    raw = request._request.body
    try:
        body = simplejson.dumps(
            simplejson.loads(raw, use_decimal=True), sort_keys=True, use_decimal=True
        ).encode()
    except ValueError:
        body = raw
    h = hashlib.sha256()
    for part in (request.method or "", request.get_full_path()):
        h.update(part.encode())
        h.update(b"\0")
    h.update(body)
    return h.hexdigest()


def idempotent(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a POST handler of an `ApiView`. Without the header the handler just runs."""

    @functools.wraps(handler)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(self, request, *args, **kwargs)
        tenant_id = request.auth.tenant_id
        digest = fingerprint(request)  # read the body before the handler parses it
        with transaction.atomic():
            outcome = integrations_api.idempotency_claim(
                tenant_id=tenant_id, key=key, fingerprint=digest, now=timezone.now()
            )
            if outcome.action == "replay":
                response = HttpResponse(
                    outcome.body, status=outcome.status_code, content_type=outcome.content_type
                )
                for name, value in outcome.headers:
                    response[name] = value
                response["Idempotent-Replayed"] = "true"
                return response
            if outcome.action == "mismatch":
                return problem(
                    409,
                    "Idempotency key reused",
                    f"the {HEADER} {key!r} was used with another request; use a new key",
                    code="idempotency_key_reused",
                    instance=request.path,
                )
            try:
                response = handler(self, request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)
            response = self.finalize_response(request, response, *args, **kwargs)
            response.render()
            if response.status_code >= 500:
                transaction.set_rollback(True)  # nothing kept: the client may retry
                return response
            integrations_api.idempotency_complete(
                tenant_id=tenant_id,
                key=key,
                status_code=response.status_code,
                content_type=response["Content-Type"],
                body=bytes(response.content),
                headers=[(h, response[h]) for h in _REPLAYED_HEADERS if h in response],
            )
        return response

    return wrapper
