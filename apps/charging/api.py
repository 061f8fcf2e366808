"""Public functions of the charging app."""

from __future__ import annotations

from apps.charging import ingest, selectors, services, tasks

cdr_credit = services.cdr_credit
transaction_events_record = ingest.transaction_events_record
status_events_record = ingest.status_events_record
session_get = selectors.session_get
session_ocpp_transaction = selectors.session_ocpp_transaction
session_list = selectors.session_list
cdr_get = selectors.cdr_get
cdr_list = selectors.cdr_list

# Publish the processing of (station, transaction) pairs (what `transaction_events_record`
# does on commit by default); the gateway calls it from its own publisher thread.
transactions_enqueue = tasks.enqueue_transaction_processing
