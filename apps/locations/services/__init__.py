"""Writes of the locations app, by role. Every change goes through one of these functions;
those a person or an API key asks for take the `actor` and write its audit entry in the
change's transaction.

- `locations`: locations, EVSEs and connectors (OCPI-shaped provisioning, seeding upserts);
- `stations`: charge station registration, credentials, security profile, certificates;
- `connectivity`: websocket connects / disconnects, boots, "seen" marks (gateway batches);
- `status`: EVSE statuses from StatusNotifications and their webhook events;
- `hcc`: home-charger flags of charge stations, in bulk (issue 17);
- `commands`: remote commands through the relay to the gateway node holding the station.
"""
