"""The exchange log: every OCPI request and response, either direction (ADR 0040)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.conf import settings

from apps.roaming.contracts import ExchangeIn
from apps.roaming.models import OcpiExchange

MAX_BODY_CHARS = 200_000  # a longer body is cut (the log is for people, not a replay)
_REDACTED = frozenset({"authorization", "cookie"})
TOKEN_REDACTED = "(redacted)"


def _redact_credentials(body: str) -> str:
    """A credentials body without its token: the credentials object carries the very token
    the Authorization header would (B or C), so it is never logged either. The object may be
    the body itself (POST / PUT) or an envelope's `data` (the answer). A body that is not
    JSON is kept as it is (it cannot be a credentials object we or the partner accept)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    target = doc.get("data") if isinstance(doc, dict) and "status_code" in doc else doc
    if isinstance(target, dict) and "token" in target:
        target["token"] = TOKEN_REDACTED
        return json.dumps(doc)
    return body


def exchange_log(x: ExchangeIn) -> int:
    """Write one exchange; returns its id. Never stores an Authorization header, nor the
    token of a credentials body."""
    row = _row(x)
    row.save()
    return row.pk


def exchanges_log(entries: list[ExchangeIn]) -> None:
    """Write many exchanges in one statement."""
    if entries:
        OcpiExchange.objects.bulk_create([_row(x) for x in entries])


def _row(x: ExchangeIn) -> OcpiExchange:
    request_body, response_body = x.request_body, x.response_body
    if x.module == "credentials":
        request_body = _redact_credentials(request_body)
        response_body = _redact_credentials(response_body)
    return OcpiExchange(
        tenant_id=x.tenant_id,
        connection_id=x.connection_id,
        direction=x.direction.value,
        method=x.method[:8],
        url=x.url[:1000],
        module=x.module[:32],
        http_status=x.http_status,
        ocpi_status=x.ocpi_status,
        duration_ms=max(0, x.duration_ms),
        request_id=x.request_id[:64],
        correlation_id=x.correlation_id[:64],
        request_headers={k: v for k, v in x.request_headers.items() if k.lower() not in _REDACTED},
        request_body=request_body[:MAX_BODY_CHARS],
        response_body=response_body[:MAX_BODY_CHARS],
        error=x.error,
    )


def exchange_bodies_purge(*, now: datetime) -> int:
    """Blank the bodies of exchanges older than OCPI_EXCHANGE_BODY_DAYS; returns how many."""
    cutoff = now - timedelta(days=settings.OCPI_EXCHANGE_BODY_DAYS)
    return OcpiExchange.objects.filter(created_at__lt=cutoff, bodies_purged=False).update(
        request_body="", response_body="", bodies_purged=True
    )
