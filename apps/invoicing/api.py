"""Public functions of invoicing (none yet)."""
