"""Domain apps of the modular monolith. Each exposes api.py and contracts.py only."""
