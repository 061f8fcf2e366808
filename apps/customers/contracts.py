from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class CustomerKind(enum.StrEnum):
    PERSON = "person"
    COMPANY = "company"


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    country_code: str
    party_id: str
    kind: CustomerKind
    name: str
    email: str
    vat_number: str
    address: str
    postal_code: str
    city: str
    country: str
    external_ref: str
    created_at: datetime
    last_updated: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class ContractVersionRecord:
    """One version of a contract: who is billed for which token, on which package and in
    which group, over [valid_from, valid_until)."""

    id: int
    version: int
    customer_id: int
    token_id: int
    retail_package_id: int | None
    user_group_id: int | None
    valid_from: datetime
    valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class ContractRecord:
    """A contract version (`id` is the version's), with every version of its reference."""

    id: int
    customer_id: int
    token_id: int
    token_uid: str
    reference: str
    valid_from: datetime
    valid_until: datetime | None
    last_updated: datetime
    etag: str
    version: int = 1
    retail_package_id: int | None = None
    user_group_id: int | None = None
    versions: tuple[ContractVersionRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class RetailPackageRecord:
    id: int
    name: str
    description: str
    created_at: datetime
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class UserGroupRecord:
    id: int
    name: str
    created_at: datetime
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """The contract version in force for a token at a moment (ADR 0027): who is billed (the
    customer) and what the retail engine scopes on (package, user group). Ids only."""

    contract_id: int
    tenant_id: int
    reference: str
    version: int
    customer_id: int
    retail_package_id: int | None
    user_group_id: int | None
    emsp_party_id: int  # the eMSP party the customer belongs to
