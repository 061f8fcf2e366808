"""Public functions of the customers app."""

from __future__ import annotations

from apps.customers import services

customer_upsert = services.customer_upsert
contract_upsert = services.contract_upsert
