"""Tokens (RFID, app, ad hoc) owned by eMSP parties, in OCPI 2.2.1 shape."""
