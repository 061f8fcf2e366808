"""Webhook events of the charging worker: `session.started`, `session.ended`, `cdr.created`,
and the internal `session.updated` (a running session's live cost priced again; only the
roaming app's OCPI consumer receives it).

The worker processes transactions in batches, one database transaction per batch, set-based
(`processing.transactions_process`). Events are collected here while the batch runs and
written once at its end, inside the batch's transaction, through the integrations app's
outbox (`webhook_events_emit`: one INSERT, dispatch queued on commit):

* nothing is collected for a tenant that has no subscription for the event type (one
  look-up per tenant per batch, cached here);
* a transaction whose processing fails drops the events it collected (`unit`);
* a batch that rolls back writes nothing and queues nothing;
* payloads are rendered at the end, for all events of the batch at once (one query for the
  sessions, one for the CDRs), in the shape the REST API returns (`apps.charging.ocpi`);
* event ids derive from the fact (`session:<id>`, `cdr:<id>`, `session:<id>:live:<time of
  the pricing>`), so a replay or a redelivered task that reached the same point again
  delivers nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

from apps.charging import ocpi
from apps.charging.selectors.cdrs import cdrs_by_ids
from apps.charging.selectors.sessions import sessions_by_ids
from apps.integrations import api as integrations_api
from apps.integrations.contracts import WebhookEventIn, WebhookEventType

STARTED = WebhookEventType.SESSION_STARTED
ENDED = WebhookEventType.SESSION_ENDED
CDR = WebhookEventType.CDR_CREATED
UPDATED = WebhookEventType.SESSION_UPDATED


class WebhookOutbox:
    """The events of one batch (lives as long as one worker task's `Lookups`)."""

    def __init__(self) -> None:
        self._interest: dict[int, frozenset[str]] = {}
        # (type, tenant, session or CDR id, when it happened)
        self._events: list[tuple[WebhookEventType, int, int, datetime]] = []

    def _wants(self, tenant_id: int, type: WebhookEventType) -> bool:
        if tenant_id not in self._interest:
            found = integrations_api.webhook_interest(tenant_ids=[tenant_id])
            self._interest[tenant_id] = found.get(tenant_id, frozenset())
        return type.value in self._interest[tenant_id]

    def wants_cdr(self, tenant_id: int) -> bool:
        return self._wants(tenant_id, CDR)

    def _add(self, type: WebhookEventType, tenant_id: int, pk: int, at: datetime | None) -> None:
        if self._wants(tenant_id, type):
            self._events.append((type, tenant_id, pk, at or timezone.now()))

    def session_started(self, *, tenant_id: int, session_id: int, at: datetime) -> None:
        self._add(STARTED, tenant_id, session_id, at)

    def session_ended(self, *, tenant_id: int, session_id: int, at: datetime | None) -> None:
        self._add(ENDED, tenant_id, session_id, at)

    def cdr_created(self, *, tenant_id: int, cdr_id: int, at: datetime) -> None:
        self._add(CDR, tenant_id, cdr_id, at)

    def session_updated(self, *, tenant_id: int, session_id: int, at: datetime) -> None:
        """The running session's live cost was priced at `at` (once per live-cost window)."""
        self._add(UPDATED, tenant_id, session_id, at)

    @contextmanager
    def unit(self) -> Iterator[None]:
        """Around one transaction's processing: if an exception leaves the block, the
        events it collected are dropped with it."""
        mark = len(self._events)
        try:
            yield
        except BaseException:
            del self._events[mark:]
            raise

    def emit(self) -> int:
        """Write the collected events (inside the batch's transaction); returns how many
        delivery rows were written."""
        if not self._events:
            return 0
        events, self._events = self._events, []
        session_ids = {pk for type, _, pk, _ in events if type is not CDR}
        cdr_ids = {pk for type, _, pk, _ in events if type is CDR}
        sessions = {
            r.platform_id: ocpi.session_object(r)
            for r in (sessions_by_ids(ids=session_ids) if session_ids else [])
        }
        cdrs = {
            r.platform_id: ocpi.cdr_object(r) for r in (cdrs_by_ids(ids=cdr_ids) if cdr_ids else [])
        }
        out = []
        for type, tenant_id, pk, at in events:
            data = (cdrs if type is CDR else sessions).get(pk)
            if data is None:
                continue
            kind = "cdr" if type is CDR else "session"
            key = f"{kind}:{pk}"
            if type is UPDATED:
                key += ":live:" + at.isoformat().replace("+00:00", "Z")
            out.append(
                WebhookEventIn(
                    tenant_id=tenant_id,
                    type=type,
                    key=key,
                    occurred_at=at,
                    data=data,
                )
            )
        return integrations_api.webhook_events_emit(events=out, now=timezone.now())
