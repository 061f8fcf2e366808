"""Public functions of the roaming app (OCPI connections, ADR 0040). Outer layers (the
`roaming.ocpi` views, the portal, the REST API, the gateway) import only this module and
`contracts`. Each area adds its names in its own section below."""

from __future__ import annotations

from apps.roaming import selectors, transport
from apps.roaming.services import connections, credentials_wire, exchanges, hub_client_info, push

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
# Re-sync when a party behind a hub is CONNECTED again: hook(connection_id, cc, party_id, role).
on_party_connected = hub_client_info.on_party_connected
# The portal's reads.
connection_list = selectors.connection_list
connection_detail = selectors.connection_detail

# -- area "cpo" ----------------------------------------------------------------------------------

# -- area "cpo-receiver" -------------------------------------------------------------------------

# -- area "emsp" ---------------------------------------------------------------------------------
