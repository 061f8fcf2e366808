"""Public functions of the charging app."""

from __future__ import annotations

from apps.charging import jobs, ocpi
from apps.charging.models import Cdr as _Cdr
from apps.charging.selectors import cdrs as cdr_selectors
from apps.charging.selectors import dashboard, flags, messages, partner_pages
from apps.charging.selectors import rating as rating_selectors
from apps.charging.selectors import sessions as session_selectors
from apps.charging.services import cdrs, intake, live_cost_feed, review, roaming

cdr_credit = cdrs.cdr_credit
# A roaming CPO partner's CDR, for the eMSP tenant's billing engines (ADR 0041).
roaming_cdr_record = roaming.roaming_cdr_record
transaction_events_record = intake.transaction_events_record
status_events_record = intake.status_events_record
session_get = session_selectors.session_get
session_ocpp_transaction = session_selectors.session_ocpp_transaction
session_list = session_selectors.session_list
cdr_get = cdr_selectors.cdr_get
cdr_list = cdr_selectors.cdr_list
# CDRs of any tenant by id, in one query (the webhook outbox; invoicing's universal records).
cdrs_by_ids = cdr_selectors.cdrs_by_ids
last_session_start_by_tenant = session_selectors.last_session_start_by_tenant
# The OCPI 2.2.1 objects the REST API returns and the webhooks send.
session_object = ocpi.session_object
cdr_object = ocpi.cdr_object
# The eMSP tenant's view of its drivers' marketplace sessions and CDRs (ADR 0027; attrib).
emsp_session_list = session_selectors.emsp_session_list
emsp_session_get = session_selectors.emsp_session_get
emsp_cdr_list = cdr_selectors.emsp_cdr_list
emsp_cdr_get = cdr_selectors.emsp_cdr_get
emsp_session_object = ocpi.emsp_session_object
emsp_cdr_object = ocpi.emsp_cdr_object

# Publish the processing of (station, transaction) pairs (what `transaction_events_record`
# does on commit by default); the gateway calls it from its own publisher thread.
transactions_enqueue = jobs.transactions_enqueue

# The Redis channel on which workers publish the running cost of active sessions (the gateway
# subscribes and sends OCPP 2.0.1 CostUpdated).
live_cost_channel = live_cost_feed.live_cost_channel

# Lists, figures and the review queue (the operator portal reads and acts through these).
dashboard_figures = dashboard.dashboard_figures
session_rows = session_selectors.session_rows
session_detail = session_selectors.session_detail
cdr_rows = cdr_selectors.cdr_rows
cdr_rows_iter = cdr_selectors.cdr_rows_iter
cdr_parties = cdr_selectors.cdr_parties
cdr_pricing = cdr_selectors.cdr_pricing
flag_rows = flags.flag_rows
flag_dismiss = review.flag_dismiss
flag_reprice = review.flag_reprice
station_messages = messages.station_messages
FLAG_REASON_WORDS = flags.REASON_WORDS

# The billing engines' reads (apps.rating; area "rate" of issue 17).
cdrs_for_rating = rating_selectors.cdrs_for_rating
cdr_ids_original_since = rating_selectors.cdr_ids_original_since
cdrs_credited = rating_selectors.cdrs_credited

# The CDRs' table, for invoicing's set-based SQL (ADR 0035).
CDR_TABLE: str = _Cdr._meta.db_table

# OCPI sender pages and push routing (issue 19, area "cpo"): a partner's own sessions / CDRs.
ocpi_session_page = session_selectors.ocpi_session_page
ocpi_cdr_page = cdr_selectors.ocpi_cdr_page
session_emsp_party = partner_pages.session_emsp_party
cdr_emsp_party = partner_pages.cdr_emsp_party
