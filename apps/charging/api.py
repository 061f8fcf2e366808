"""Public functions of the charging app."""

from __future__ import annotations

from apps.charging import ingest, selectors, services

cdr_credit = services.cdr_credit
transaction_events_record = ingest.transaction_events_record
status_events_record = ingest.status_events_record
session_get = selectors.session_get
session_list = selectors.session_list
cdr_get = selectors.cdr_get
cdr_list = selectors.cdr_list
