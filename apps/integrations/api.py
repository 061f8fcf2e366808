"""Public functions of the integrations app: API keys, idempotency, webhooks.

The apps that observe events call `webhook_interest` (which tenants want which events, one
query) and `webhook_events_emit` (the outbox: one INSERT per batch, in their own
transaction, queued on commit): charging (`session.started`, `session.ended`,
`cdr.created`), locations (`station.status_changed`), tokens (`token.authorized`). Two
more go to internal consumers only (`contracts.INTERNAL_EVENTS`): charging's
`session.updated` and tokens' `token.changed` (the roaming app's OCPI pushes).
"""

from __future__ import annotations

from apps.integrations import consumers, selectors, services

api_key_create = services.api_key_create
api_key_revoke = services.api_key_revoke
api_key_list = selectors.api_key_list
api_key_authenticate = services.api_key_authenticate
api_key_forget = services.api_key_forget
api_key_revoked_marker = services.revoked_marker

idempotency_claim = services.idempotency_claim
idempotency_complete = services.idempotency_complete

webhook_subscription_create = services.webhook_subscription_create
webhook_subscription_update = services.webhook_subscription_update
webhook_subscription_delete = services.webhook_subscription_delete
webhook_subscription_list = selectors.webhook_subscription_list
webhook_subscription_get = selectors.webhook_subscription_get
webhook_delivery_list = selectors.webhook_delivery_list
webhook_delivery_get = selectors.webhook_delivery_get
webhook_event_emit = services.webhook_event_emit
webhook_events_emit = services.webhook_events_emit
webhook_interest = selectors.webhook_interest
webhook_event_id = services.webhook_event_id
webhook_secrets_reencrypt = services.webhook_secrets_reencrypt
webhook_test_send = services.webhook_test_send
webhook_delivery_attempt = services.webhook_delivery_attempt
webhook_signature = services.webhook_signature

# Internal consumers of the events (issue 19: the roaming app's OCPI pushes).
event_consumer_set = consumers.event_consumer_set
event_consumer_tenants = consumers.event_consumer_tenants
event_consumer_wants = consumers.event_consumer_wants
