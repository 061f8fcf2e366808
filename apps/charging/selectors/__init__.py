"""Reads of the charging app, by role: `sessions` and `cdrs` (one object, a page of records
or of list rows), `dashboard` (the day and month figures), `flags` (the review queue),
`messages` (a station's OCPP message log), `events` (the transaction event log as the worker
reads it) and `backlog` (which transactions the worker has still to process)."""
