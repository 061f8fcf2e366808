"""Shared kernel: tenancy base, secrets, errors. A leaf: imports no other app."""
