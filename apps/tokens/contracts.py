from __future__ import annotations

import enum
from dataclasses import dataclass


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


class AuthorizationStatus(enum.StrEnum):
    """OCPP 1.6 AuthorizationStatus / 2.0.1 AuthorizationStatusEnum (common subset)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
