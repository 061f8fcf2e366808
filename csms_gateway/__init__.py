"""OCPP gateway: the asyncio process charge stations connect to (issue: OCPP gateway core)."""
