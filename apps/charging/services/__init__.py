"""Writes of the charging app, by role: `intake` (the OCPP transaction and status messages,
stored durably before the station is answered), `processing` (the event log made into
sessions, meter values, flags and CDRs by the workers; with `batch`, `timeline` and
`unknown_stops`), `cdrs` (pricing: live cost, the CDR, the credit CDR), `review` (the
flagged transactions: dismiss, re-price), `webhooks` (the outbox rows of a change) and
`live_cost_feed` (the running cost published to the gateway after commit)."""
