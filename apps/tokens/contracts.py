from __future__ import annotations

import enum
from collections.abc import Sequence
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
    hcc: str = ""  # the home-charger flag (apps.common.contracts.HccFlag) or ""


class TokenTier(enum.StrEnum):
    """Where a session's token was found (ADR 0027), in the order they are tried: the
    station tenant's tokens of its own eMSP identities, the tokens it holds of partner eMSPs
    (only where the station admits roaming), the tokens of other marketplace tenants (both
    tenants in the marketplace, the station admits roaming). The values are
    `apps.charging.contracts.TokenSource`'s."""

    OWN = "OWN"
    PARTNER = "PARTNER"
    MARKETPLACE = "MARKETPLACE"


@dataclass(frozen=True, slots=True)
class TokenCandidate:
    """One token with a presented uid, with what resolution needs to know of it."""

    ref: TokenRef
    own_party: bool  # its eMSP party is one of its tenant's own identities (kind OWN)
    marketplace: bool  # its tenant takes part in the platform marketplace


@dataclass(frozen=True, slots=True)
class TokenResolution:
    """The token a uid resolves to at a station, and from which tier; no token when no tier
    has one or when the first tier that has any has two (`ambiguous`: their ids)."""

    token: TokenRef | None
    tier: TokenTier | None
    ambiguous: tuple[int, ...] = ()


NO_TOKEN = TokenResolution(token=None, tier=None)


def token_resolve_among(
    candidates: Sequence[TokenCandidate],
    *,
    tenant_id: int,
    tenant_marketplace: bool,
    roaming: bool,
) -> TokenResolution:
    """The resolution rule (ADR 0027, docs/billing.md "Commercial model") for the tokens
    with one uid, at a station of `tenant_id`: the first tier with any candidate decides;
    within it a valid token is preferred over an invalid one; two left is no token, never a
    guess."""
    tiers: list[tuple[TokenTier, list[TokenRef]]] = [
        (
            TokenTier.OWN,
            [c.ref for c in candidates if c.ref.tenant_id == tenant_id and c.own_party],
        ),
        (
            TokenTier.PARTNER,
            [c.ref for c in candidates if c.ref.tenant_id == tenant_id and not c.own_party]
            if roaming
            else [],
        ),
        (
            TokenTier.MARKETPLACE,
            [
                c.ref
                for c in candidates
                if c.ref.tenant_id != tenant_id and c.own_party and c.marketplace
            ]
            if roaming and tenant_marketplace
            else [],
        ),
    ]
    for tier, refs in tiers:
        if not refs:
            continue
        chosen = [r for r in refs if r.valid] or refs
        if len(chosen) > 1:
            return TokenResolution(
                token=None, tier=None, ambiguous=tuple(sorted(r.id for r in chosen))
            )
        return TokenResolution(token=chosen[0], tier=tier)
    return NO_TOKEN


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
    """OCPP 2.0.1 AuthorizationStatusEnum (the subset the platform answers); `for_ocpp1x`
    is the OCPP 1.5 / 1.6 word for it."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    UNKNOWN = "Unknown"  # no token with this uid in the station's tenant
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"  # valid, but not allowed at this station

    def for_ocpp1x(self) -> AuthorizationStatus:
        """OCPP 1.x has neither Unknown nor NotAtThisLocation: both are Invalid there."""
        if self in (AuthorizationStatus.UNKNOWN, AuthorizationStatus.NOT_AT_THIS_LOCATION):
            return AuthorizationStatus.INVALID
        return self


@dataclass(frozen=True, slots=True)
class TokenAccessFacts:
    """What access control needs to know of one token with the presented uid."""

    valid: bool
    own: bool  # issued by the tenant itself, not a roaming token received from another eMSP
    # Those charge-port groups of the station that an EMAID group of the token is assigned.
    charge_port_group_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class StationAccessFacts:
    roaming: bool  # roaming active: foreign eMSPs' tokens may charge here
    charge_port_group_ids: frozenset[int] = frozenset()  # empty: unrestricted


def access_decision(
    tokens: Sequence[TokenAccessFacts], station: StationAccessFacts
) -> AuthorizationStatus:
    """The access rule (ADR 0015, docs/glossary.md "Access control"), for the tokens of the
    station's tenant with the presented uid: Unknown when there is none, Blocked when none is
    valid, Accepted when some valid one is allowed at the station, else NotAtThisLocation.

    A valid token is allowed when (a) it is the tenant's own, or roaming is active at the
    station, and (b) the station is in no charge-port group, or an EMAID group of the token
    is assigned one of the station's charge-port groups."""
    if not tokens:
        return AuthorizationStatus.UNKNOWN
    valid = [t for t in tokens if t.valid]
    if not valid:
        return AuthorizationStatus.BLOCKED
    for t in valid:
        if not t.own and not station.roaming:
            continue
        if station.charge_port_group_ids and not (
            t.charge_port_group_ids & station.charge_port_group_ids
        ):
            continue
        return AuthorizationStatus.ACCEPTED
    return AuthorizationStatus.NOT_AT_THIS_LOCATION


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
