"""Public functions of the customers app."""

from __future__ import annotations

from apps.customers import selectors, services

customer_upsert = services.customer_upsert
contract_upsert = services.contract_upsert
customer_create = services.customer_create
customer_update = services.customer_update
customer_get = selectors.customer_get
customer_list = selectors.customer_list
contract_create = services.contract_create
contract_update = services.contract_update
contract_get = selectors.contract_get
contract_list = selectors.contract_list
customer_search = selectors.customer_search
# The contract version in force for a token at a moment (ADR 0027; area attrib).
contracts_in_force = selectors.contracts_in_force
