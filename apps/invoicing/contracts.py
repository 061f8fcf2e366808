"""Public shapes of invoicing (none yet)."""
