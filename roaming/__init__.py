"""Roaming: OCPI 2.2.1 / 2.1.1 and OICP 2.3 (not built yet: this package is empty)."""
