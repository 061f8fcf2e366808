"""Internal event consumers of the integrations app (issue 19: the roaming app's OCPI pushes
and token pushes): registration, the hot-path "does anyone want this" check, and the queueing
of an emitted batch to each interested consumer after commit."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import simplejson
from django.db import connection, transaction

from apps.common.jobs import enqueue
from apps.integrations.contracts import WebhookEventIn, WebhookEventType
from apps.integrations.models import EventConsumer


def event_consumer_set(*, tenant_id: int, name: str, events: Iterable[str]) -> None:
    """Register (or, with no events, remove) the internal consumer `name` (a task name) of
    this tenant's events. Called by the consumer when what it needs changes (the roaming
    app: when a connection is registered, suspended, resumed or closed)."""
    wanted = sorted({WebhookEventType(e).value for e in events})
    if not wanted:
        EventConsumer.objects.filter(tenant_id=tenant_id, name=name).delete()
        return
    EventConsumer.objects.update_or_create(
        tenant_id=tenant_id, name=name, defaults={"events": wanted}
    )


_CONSUMER_EVENTS_SQL = f"SELECT events FROM {EventConsumer._meta.db_table} WHERE tenant_id = %s"


def event_consumer_wants(*, tenant_id: int, type: str) -> bool:
    """Whether an internal consumer of this tenant wants events of `type` (for the internal
    event types, which no subscription can ask for). One small indexed query in plain SQL:
    it guards a hot write path (the token PUT's single statement, ADR 0016), where the ORM's
    query building cost more than the query."""
    with connection.cursor() as cursor:
        cursor.execute(_CONSUMER_EVENTS_SQL, [tenant_id])
        rows = cursor.fetchall()
    for (events,) in rows:
        if isinstance(events, str | bytes):
            events = json.loads(events)
        if type in (events or ()):
            return True
    return False


def event_consumer_tenants(*, name: str) -> set[int]:
    """The tenants for which the internal consumer `name` is registered."""
    return set(EventConsumer.objects.filter(name=name).values_list("tenant_id", flat=True))


def consumers_notify(events: list[WebhookEventIn]) -> None:
    """Queue, after the caller's commit, one task per interested consumer with the events it
    wants (`[{tenant_id, type, key, occurred_at, data}]` as JSON text, Decimals exact). The
    consumer is idempotent by each event's key; nothing is queued if the caller rolls back."""
    wanted: dict[str, list[dict[str, Any]]] = {}
    consumers = EventConsumer.objects.filter(tenant_id__in={e.tenant_id for e in events})
    by_tenant: dict[int, list[tuple[str, frozenset[str]]]] = {}
    for tenant_id, name, types in consumers.values_list("tenant_id", "name", "events"):
        by_tenant.setdefault(tenant_id, []).append((name, frozenset(types)))
    for e in events:
        type = WebhookEventType(e.type).value
        for name, types in by_tenant.get(e.tenant_id, ()):
            if type in types:
                wanted.setdefault(name, []).append(
                    {
                        "tenant_id": e.tenant_id,
                        "type": type,
                        "key": e.key,
                        "occurred_at": e.occurred_at,
                        "data": e.data,
                    }
                )
    for name, batch in wanted.items():
        payload = simplejson.dumps(batch, use_decimal=True, default=_json_default)
        transaction.on_commit(functools.partial(enqueue, name, payload, ignore_result=True))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
