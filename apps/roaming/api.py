"""Public functions of the roaming app (OCPI connections, ADR 0040). Outer layers (the
`roaming.ocpi` views, the portal, the REST API, the gateway) import only this module and
`contracts`. Each area adds its names in its own section below."""

from __future__ import annotations

from apps.roaming import objects, publishing, selectors, transport
from apps.roaming.services import cpo_push, exchanges, push

# -- groundwork: inbound authentication and the exchange log --------------------------------
inbound_auth = selectors.inbound_auth
exchange_log = exchanges.exchange_log
exchange_bodies_purge = exchanges.exchange_bodies_purge
token_digest = transport.token_digest
# the push outbox (services/push.py): every area owes partners its pushes through it
push_enqueue = push.push_enqueue
pushes_release = push.pushes_release
own_party = push.own_party

# -- area "connections" ------------------------------------------------------------------------

# -- area "cpo" ----------------------------------------------------------------------------------
# OCPI renderings of our objects (objects.py), the sender reads (publishing.py), the pushes
# (services/cpo_push.py). The connections area calls `cpo_interest_sync` when a connection is
# registered, suspended, resumed or closed.
PageQuery = publishing.PageQuery
sender_locations = publishing.sender_locations
sender_location = publishing.sender_location
sender_tariffs = publishing.sender_tariffs
sender_sessions = publishing.sender_sessions
sender_cdrs = publishing.sender_cdrs
cpo_interest_sync = cpo_push.cpo_interest_sync
location_push = cpo_push.location_push
evse_status_push = cpo_push.evse_status_push
location_object = objects.location_object
evse_object = objects.evse_object
connector_object = objects.connector_object
tariff_object = objects.tariff_object
session_object = objects.session_object
cdr_object = objects.cdr_object

# -- area "cpo-receiver" -------------------------------------------------------------------------

# -- area "emsp" ---------------------------------------------------------------------------------
