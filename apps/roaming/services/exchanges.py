"""The exchange log: every OCPI request and response, either direction (ADR 0040)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from apps.roaming.contracts import ExchangeIn
from apps.roaming.models import OcpiExchange

MAX_BODY_CHARS = 200_000  # a longer body is cut (the log is for people, not a replay)
_REDACTED = frozenset({"authorization", "cookie"})


def exchange_log(x: ExchangeIn) -> int:
    """Write one exchange; returns its id. Never stores an Authorization header."""
    row = _row(x)
    row.save()
    return row.pk


def exchanges_log(entries: list[ExchangeIn]) -> None:
    """Write many exchanges in one statement."""
    if entries:
        OcpiExchange.objects.bulk_create([_row(x) for x in entries])


def _row(x: ExchangeIn) -> OcpiExchange:
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
        request_body=x.request_body[:MAX_BODY_CHARS],
        response_body=x.response_body[:MAX_BODY_CHARS],
        error=x.error,
    )


def exchange_bodies_purge(*, now: datetime) -> int:
    """Blank the bodies of exchanges older than OCPI_EXCHANGE_BODY_DAYS; returns how many."""
    cutoff = now - timedelta(days=settings.OCPI_EXCHANGE_BODY_DAYS)
    return OcpiExchange.objects.filter(created_at__lt=cutoff, bodies_purged=False).update(
        request_body="", response_body="", bodies_purged=True
    )
