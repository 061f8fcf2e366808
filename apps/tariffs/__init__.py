"""Tariffs (OCPI-shaped, versioned), tariff codes and their assignment to stations."""
