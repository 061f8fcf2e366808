"""Operators (tenants), OCPI parties, users and their roles per tenant."""
