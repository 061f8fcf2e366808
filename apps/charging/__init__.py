"""Charging sessions, meter values and immutable CDRs."""
