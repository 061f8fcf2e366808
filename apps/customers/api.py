"""Public functions of the customers app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from apps.customers import selectors, services
from apps.customers.models import Contract, RetailPackage, UserGroup

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


# rules (issue 17): what a billing rule's eMSP scopes name, and (until
# `contracts_in_force` is merged) the contract version of a token at a moment.
_SCOPE_MODELS: dict[str, type[Contract | RetailPackage | UserGroup]] = {
    "CONTRACT": Contract,
    "RETAIL_PACKAGE": RetailPackage,
    "USER_GROUP": UserGroup,
}


def customer_scope_ids(*, tenant_id: int, scope: str, ids: Iterable[int]) -> set[int]:
    """Those of `ids` that are contracts (any version), retail packages or user groups
    (`scope`: CONTRACT, RETAIL_PACKAGE, USER_GROUP) of this tenant."""
    model = _SCOPE_MODELS[scope]
    return set(
        model.objects.filter(tenant_id=tenant_id, pk__in=set(ids)).values_list("pk", flat=True)
    )


def contract_scope_of_token(
    *, tenant_id: int, token_id: int, at: datetime
) -> tuple[int, int | None, int | None] | None:
    """(contract version id, retail package id, user group id) of the token's contract
    version valid at `at` in this tenant, or None."""
    row = (
        Contract.objects.filter(tenant_id=tenant_id, token_id=token_id, valid_from__lte=at)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .order_by("-valid_from")
        .values_list("pk", "retail_package_id", "user_group_id")
        .first()
    )
    return None if row is None else (row[0], row[1], row[2])


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
# The contract version in force for a token at a moment (ADR 0027; area attrib).
contracts_in_force = selectors.contracts_in_force
