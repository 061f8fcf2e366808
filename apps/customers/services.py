from __future__ import annotations

from django.db import transaction

from apps.common.services import upsert
from apps.customers.models import Contract, Customer


@transaction.atomic
def customer_upsert(*, tenant_id: int, external_ref: str, **values: object) -> int:
    """Create or update the customer the CRM knows as `external_ref`."""
    return upsert(
        Customer, lookup={"tenant_id": tenant_id, "external_ref": external_ref}, values=values
    ).pk


@transaction.atomic
def contract_upsert(*, tenant_id: int, reference: str, **values: object) -> int:
    return upsert(
        Contract, lookup={"tenant_id": tenant_id, "reference": reference}, values=values
    ).pk
