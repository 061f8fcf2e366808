from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from apps.common.errors import Problem


class TokenType(enum.StrEnum):
    """OCPI 2.2.1 TokenType."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(enum.StrEnum):
    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class ProfileType(enum.StrEnum):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


@dataclass(frozen=True, slots=True)
class TokenRef:
    id: int
    tenant_id: int
    party_id: int
    uid: str
    type: TokenType
    contract_id: str
    valid: bool
    whitelist: WhitelistType
    group_id: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token as the REST API shows it: OCPI 2.2.1 Token plus the platform id and version."""

    id: int
    country_code: str
    party_id: str
    uid: str
    type: TokenType
    contract_id: str
    visual_number: str
    issuer: str
    group_id: str
    valid: bool
    whitelist: WhitelistType
    language: str
    default_profile_type: str
    energy_contract: dict[str, str] | None
    last_updated: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class TokenInput:
    """One token to create or upsert (OCPI 2.2.1 Token fields)."""

    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str
    issuer: str
    valid: bool = True
    whitelist: str = WhitelistType.ALLOWED.value
    visual_number: str = ""
    group_id: str = ""
    language: str = ""
    default_profile_type: str = ""
    energy_contract: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class BulkItemResult:
    index: int
    uid: str
    type: str
    result: str  # "created" | "updated" | "invalid"
    id: int | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class BulkReport:
    rejected: bool  # True: some item is invalid and nothing was written
    created: int
    updated: int
    items: tuple[BulkItemResult, ...]


class AuthorizationStatus(enum.StrEnum):
    """OCPP 1.6 AuthorizationStatus / 2.0.1 AuthorizationStatusEnum (common subset)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"


@dataclass(frozen=True, slots=True)
class AuthorizationReport:
    """An Authorize the OCPP gateway answered (from its cache or not): at which station
    (and so which tenant), for which uid, with which answer, when."""

    tenant_id: int  # the station's tenant
    station_id: int
    identity: str
    uid: str
    status: AuthorizationStatus
    answered_at: datetime
