"""Shapes other apps and outer layers see of parties."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


class PartyRole(enum.StrEnum):
    """OCPI 2.2.1 Role (credentials module)."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class PartyKind(enum.StrEnum):
    """A tenant's own identity (its CPO / eMSP party ids: unique on the platform) or a
    partner it deals with (unique in the tenant; another tenant may know the same partner,
    or hold that identity as its own: then it is a marketplace partner). ADR 0027."""

    OWN = "OWN"
    PARTNER = "PARTNER"


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
    kind: PartyKind = PartyKind.OWN


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    """A partner party (kind PARTNER) as its tenant knows it: a counterparty with its OCPI
    identity and terms. `marketplace_tenant`: the identity is another marketplace tenant's
    own (the platform roams its tokens inside the platform)."""

    id: int
    role: PartyRole
    country_code: str
    party_id: str
    name: str
    website: str
    vat_rate: Decimal | None
    marketplace_tenant: bool
    created_at: datetime
    last_updated: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class PartnerInput:
    """The fields of a partner a caller may set. The identity (role, country code, party
    id) is fixed once created: tokens, tariffs and CDRs name the row."""

    role: str
    country_code: str
    party_id: str
    name: str
    website: str = ""
    vat_rate: Decimal | None = None


class Capability(enum.StrEnum):
    """What a role may do in a tenant. Every interface (the portal first) checks one of
    these before it shows a page or performs an action; reading is `VIEW`."""

    VIEW = "view"  # every page of the tenant, read only
    STATIONS_COMMAND = "stations.command"  # remote commands to charge stations
    LOCATIONS_EDIT = "locations.edit"  # locations, EVSEs, connectors
    TARIFFS_EDIT = "tariffs.edit"  # tariffs, versions, codes, assignments, CSV import
    CDRS_REVIEW = "cdrs.review"  # flagged CDR queue: re-price, dismiss
    CDRS_EXPORT = "cdrs.export"  # CSV export of CDRs
    TOKENS_EDIT = "tokens.edit"  # block / unblock tokens
    AUDIT_VIEW = "audit.view"  # the audit log
    SIGN_IN_UNLOCK = "sign_in.unlock"  # unlock members' sign-in after failed attempts
    API_KEYS_MANAGE = "api_keys.manage"  # REST API keys: create, revoke
    PARTNERS_EDIT = "partners.edit"  # partner parties, the marketplace setting
    # Billing rules, CPO contracts, payees, home-charger flags, retail packages, user groups.
    BILLING_EDIT = "billing.edit"
    # Billing runs, finalize / discard drafts, credit notes, resend, billing profiles and
    # invoicing settings (ADR 0035).
    INVOICING_EDIT = "invoicing.edit"
    # Finance: chart-of-accounts mapping, exclusions, adjustments, posting export batches.
    FINANCE_POST = "finance.post"
    # OCPI roaming connections: connect, invite, rotate, suspend / resume, close (issue 19).
    ROAMING_EDIT = "roaming.edit"


_ALL = frozenset(Capability)

# The roles matrix (docs/portal.md shows it as a table). Support is read-only by design.
ROLE_CAPABILITIES: dict[TenantRole, frozenset[Capability]] = {
    TenantRole.PLATFORM_ADMIN: _ALL,
    TenantRole.CPO_ADMIN: frozenset(
        {
            Capability.VIEW,
            Capability.STATIONS_COMMAND,
            Capability.LOCATIONS_EDIT,
            Capability.TARIFFS_EDIT,
            Capability.CDRS_REVIEW,
            Capability.CDRS_EXPORT,
            Capability.AUDIT_VIEW,
            Capability.SIGN_IN_UNLOCK,
            Capability.API_KEYS_MANAGE,
            Capability.PARTNERS_EDIT,
            Capability.BILLING_EDIT,
            Capability.INVOICING_EDIT,
            Capability.ROAMING_EDIT,
        }
    ),
    TenantRole.EMSP_ADMIN: frozenset(
        {
            Capability.VIEW,
            Capability.TOKENS_EDIT,
            Capability.PARTNERS_EDIT,
            Capability.BILLING_EDIT,
            Capability.CDRS_EXPORT,
            Capability.AUDIT_VIEW,
            Capability.SIGN_IN_UNLOCK,
            Capability.API_KEYS_MANAGE,
            Capability.INVOICING_EDIT,
            Capability.ROAMING_EDIT,
        }
    ),
    TenantRole.FINANCE: frozenset(
        {
            Capability.VIEW,
            Capability.CDRS_REVIEW,
            Capability.CDRS_EXPORT,
            Capability.AUDIT_VIEW,
            Capability.BILLING_EDIT,
            Capability.INVOICING_EDIT,
            Capability.FINANCE_POST,
        }
    ),
    TenantRole.SUPPORT: frozenset({Capability.VIEW}),
}


def role_may(role: TenantRole | str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(TenantRole(role), frozenset())


@dataclass(frozen=True, slots=True)
class MembershipRef:
    """One tenant a user belongs to, with the role there."""

    tenant_id: int
    slug: str
    name: str
    role: TenantRole

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


ROLE_LABELS = {
    TenantRole.PLATFORM_ADMIN: "Platform admin",
    TenantRole.CPO_ADMIN: "CPO admin",
    TenantRole.EMSP_ADMIN: "eMSP admin",
    TenantRole.FINANCE: "Finance",
    TenantRole.SUPPORT: "Support (read-only)",
}


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    tenant_id: int
    actor_id: int | None  # the portal user, if a user made the change
    actor_email: str
    actor_api_key_id: int | None  # the API key, if one made the change
    actor_name: str  # who, in words: the user's e-mail, the API key or the task
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    at: datetime


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """A TOTP secret being enrolled: shown once as a QR code and as text."""

    secret_base32: str
    otpauth_uri: str


@dataclass(frozen=True, slots=True)
class MfaState:
    enrolled: bool
    recovery_codes_left: int


@dataclass(frozen=True, slots=True)
class SignInGate:
    """May this user name try to sign in from this client address now?"""

    wait_until: datetime | None  # no attempt before this: a growing delay, or the lock
    locked: bool  # the wait is the lock (PORTAL_LOCKOUT_FAILURES failed attempts)
    attempts_left: int  # failed attempts left before the lock


@dataclass(frozen=True, slots=True)
class SignInThrottle:
    """Failed sign-ins of one user name from one client address (the portal's unlock page)."""

    username: str
    client: str
    failures: int
    last_failure_at: datetime | None
    wait_until: datetime | None
    locked: bool
