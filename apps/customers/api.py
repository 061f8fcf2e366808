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

# Contract versions, retail packages and user groups (issue 17, area "cust").
contract_version_add = services.contract_version_add
contract_version_at = selectors.contract_version_at
retail_package_create = services.retail_package_create
retail_package_rename = services.retail_package_rename
retail_package_get = selectors.retail_package_get
retail_package_list = selectors.retail_package_list
user_group_create = services.user_group_create
user_group_rename = services.user_group_rename
user_group_get = selectors.user_group_get
user_group_list = selectors.user_group_list
