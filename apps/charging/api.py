"""Public functions of the charging app."""

from __future__ import annotations

from apps.charging import ingest, services, tasks

cdr_credit = services.cdr_credit
transaction_events_record = ingest.transaction_events_record
status_events_record = ingest.status_events_record
# Publish the processing of (station, transaction) pairs (what `transaction_events_record`
# does on commit by default); the gateway calls it from its own publisher thread.
transactions_enqueue = tasks.enqueue_transaction_processing
