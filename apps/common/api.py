"""Public functions of the common app (none yet: it offers modules, not services)."""
