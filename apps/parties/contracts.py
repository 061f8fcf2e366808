"""Shapes other apps and outer layers see of parties."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PartyRole(enum.StrEnum):
    """OCPI 2.2.1 Role (credentials module)."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class TenantRole(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    CPO_ADMIN = "cpo_admin"
    EMSP_ADMIN = "emsp_admin"
    FINANCE = "finance"
    SUPPORT = "support"


@dataclass(frozen=True, slots=True)
class OperatorRef:
    id: int
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class PartyRef:
    id: int
    tenant_id: int
    role: PartyRole
    country_code: str
    party_id: str
    name: str
