"""Public functions of the roaming app (OCPI connections, ADR 0040). Outer layers (the
`roaming.ocpi` views, the portal, the REST API, the gateway) import only this module and
`contracts`. Each area adds its names in its own section below."""

from __future__ import annotations

from apps.roaming import selectors, transport
from apps.roaming.services import authorize, commands_in, exchanges, push, tokens_in

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
