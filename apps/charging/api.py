"""Public functions of the charging app."""

from __future__ import annotations

from apps.charging import ingest, services

cdr_credit = services.cdr_credit
transaction_events_record = ingest.transaction_events_record
status_events_record = ingest.status_events_record
