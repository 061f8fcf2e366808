"""Location > EVSE > Connector (OCPI 2.2.1 shape) and charge stations (OCPP identity)."""
