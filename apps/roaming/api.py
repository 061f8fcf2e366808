"""Public functions of the roaming app (OCPI connections, ADR 0040). Outer layers (the
`roaming.ocpi` views, the portal, the REST API, the gateway) import only this module and
`contracts`. Each area adds its names in its own section below."""

from __future__ import annotations

from apps.roaming import objects, publishing, selectors, transport
from apps.roaming.services import (
    authorize,
    commands_in,
    commands_out,
    connections,
    cpo_push,
    credentials_wire,
    emsp_cdrs,
    emsp_in,
    emsp_pull,
    emsp_tokens,
    exchanges,
    hub_client_info,
    push,
    reconcile,
    tokens_in,
)

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
# The operator's actions (audited with the actor) and the reads other areas use.
connection_invite = connections.connection_invite
connection_register = connections.connection_register
connection_update = connections.connection_update
connection_suspend = connections.connection_suspend
connection_resume = connections.connection_resume
connection_close = connections.connection_close
connection_get = connections.connection_get
connections_registered = connections.connections_registered
ConnectionFailed = credentials_wire.ConnectionFailed
our_versions_url = credentials_wire.our_versions_url
our_version_url = credentials_wire.our_version_url
# The partner's side: our credentials and hubclientinfo endpoints (roaming.ocpi.views.config).
CredentialsRefused = credentials_wire.CredentialsRefused
credentials_get = connections.credentials_get
credentials_receive = connections.credentials_receive
credentials_unregister = connections.credentials_unregister
client_info_get = hub_client_info.client_info_get
client_info_put = hub_client_info.client_info_put
own_role_21 = credentials_wire.own_role_21
# The portal's reads.
connection_list = selectors.connection_list
connection_detail = selectors.connection_detail

# -- area "cpo" ----------------------------------------------------------------------------------
# OCPI renderings of our objects (objects.py), the sender reads (publishing.py), the pushes
# (services/cpo_push.py). The connections area calls `cpo_interest_sync` when a connection is
# registered, suspended, resumed or closed.
PageQuery = publishing.PageQuery
SenderPage = publishing.SenderPage
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
# tokens pushed to us (services/tokens_in.py), commands received (services/commands_in.py),
# real-time authorization and the gateway's Authorize decision (services/authorize.py)
TokenRefused = tokens_in.Refused
token_received_put = tokens_in.token_received_put
token_received_patch = tokens_in.token_received_patch
token_received_get = tokens_in.token_received_get
command_receive = commands_in.command_receive
command_run = commands_in.command_run
command_authorization_references = commands_in.command_authorization_references
AuthorizationInfo = authorize.AuthorizationInfo
StationAuthorization = authorize.StationAuthorization
authorize_realtime = authorize.authorize_realtime
station_authorize = authorize.station_authorize

# -- area "emsp" ---------------------------------------------------------------------------------
# receivers (services/emsp_in.py): locations, tariffs, sessions, CDRs a CPO sends us
EmspRejected = emsp_in.Rejected
emsp_object_put = emsp_in.object_put
emsp_object_patch = emsp_in.object_patch
emsp_object_get = emsp_in.object_get
emsp_location_part_write = emsp_in.location_part_write
emsp_tariff_delete = emsp_in.tariff_delete
emsp_cdr_receive = emsp_cdrs.cdr_receive
emsp_cdr_get = emsp_cdrs.cdr_get
# tokens sender (services/emsp_tokens.py)
emsp_tokens_page = emsp_tokens.tokens_page
emsp_tokens_reader_allowed = emsp_tokens.reader_allowed
emsp_token_authorize = emsp_tokens.token_authorize
EmspAuthorizeInvalid = emsp_tokens.AuthorizeInvalid
tokens_push_all = emsp_tokens.tokens_push_all
# pull as catch-up (services/emsp_pull.py)
emsp_pull_module = emsp_pull.pull_module
EMSP_PULL_MODULES = emsp_pull.PULL_MODULES
# commands sent (services/commands_out.py)
COMMANDS_OUT = commands_out.COMMANDS
CommandInvalid = commands_out.CommandInvalid
command_send = commands_out.command_send
command_result_receive = commands_out.command_result_receive
command_get = commands_out.command_get
commands_sent = commands_out.commands_sent
emsp_cpo_connections = commands_out.cpo_connections
# re-pricing and reconciliation (services/reconcile.py)
reconciliation_report = reconcile.reconciliation_report
