"""Public functions of the charging app."""

from __future__ import annotations

from apps.charging import ingest, live_cost_feed, ocpi, portal, selectors, services, tasks

cdr_credit = services.cdr_credit
transaction_events_record = ingest.transaction_events_record
status_events_record = ingest.status_events_record
session_get = selectors.session_get
session_ocpp_transaction = selectors.session_ocpp_transaction
session_list = selectors.session_list
cdr_get = selectors.cdr_get
cdr_list = selectors.cdr_list
last_session_start_by_tenant = selectors.last_session_start_by_tenant
# The OCPI 2.2.1 objects the REST API returns and the webhooks send.
session_object = ocpi.session_object
cdr_object = ocpi.cdr_object

# Publish the processing of (station, transaction) pairs (what `transaction_events_record`
# does on commit by default); the gateway calls it from its own publisher thread.
transactions_enqueue = tasks.enqueue_transaction_processing

# The Redis channel on which workers publish the running cost of active sessions (the gateway
# subscribes and sends OCPP 2.0.1 CostUpdated).
live_cost_channel = live_cost_feed.live_cost_channel

# The operator portal (apps.charging.portal).
dashboard_figures = portal.dashboard_figures
session_rows = portal.session_rows
session_detail = portal.session_detail
cdr_rows = portal.cdr_rows
cdr_rows_iter = portal.cdr_rows_iter
cdr_parties = portal.cdr_parties
cdr_pricing = portal.cdr_pricing
flag_rows = portal.flag_rows
flag_dismiss = portal.flag_dismiss
flag_reprice = portal.flag_reprice
station_messages = portal.station_messages
FLAG_REASON_WORDS = portal.REASON_WORDS
