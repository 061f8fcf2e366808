"""Public shapes of rating: billing rules, CPO contracts, payees and rated lines
(BILLING.md sections 1 to 3, ADR 0027)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from apps.tariffs.contracts import BillingEngine


class CpoScope(enum.StrEnum):
    """Which sessions a billing rule covers on the CPO side; the scope value is the
    country code or the id of the party, location, charge station or tariff code."""

    ANY = "ANY"
    COUNTRY = "COUNTRY"
    CPO_PARTY = "CPO_PARTY"
    LOCATION = "LOCATION"
    STATION = "STATION"
    TARIFF_CODE = "TARIFF_CODE"


class EmspScope(enum.StrEnum):
    """Which sessions a billing rule covers on the eMSP side; the value is an id."""

    ANY = "ANY"
    EMSP_PARTY = "EMSP_PARTY"
    CONTRACT = "CONTRACT"
    RETAIL_PACKAGE = "RETAIL_PACKAGE"
    USER_GROUP = "USER_GROUP"


class RulePricing(enum.StrEnum):
    """How a rule prices: with its tariff, or (retail) the wholesale price plus a mark-up."""

    TARIFF = "TARIFF"
    COST_PLUS = "COST_PLUS"


class RoundingMode(enum.StrEnum):
    """Named rounding modes of `decimal` a contract may choose (HALF_UP by default)."""

    HALF_UP = "ROUND_HALF_UP"
    HALF_EVEN = "ROUND_HALF_EVEN"
    HALF_DOWN = "ROUND_HALF_DOWN"
    UP = "ROUND_UP"
    DOWN = "ROUND_DOWN"


class PayeeKind(enum.StrEnum):
    HOME = "HOME"
    WORKPLACE = "WORKPLACE"
    SITE_HOST = "SITE_HOST"


class LineKind(enum.StrEnum):
    LINE = "LINE"
    REVERSAL = "REVERSAL"


class VatSource(enum.StrEnum):
    """Where a rated line's VAT rate came from (tariff > CPO contract > party), or why it
    is 0 % (a home charger excluding VAT)."""

    TARIFF = "TARIFF"
    CPO_CONTRACT = "CPO_CONTRACT"
    PARTY = "PARTY"
    HCC_EXEMPT = "HCC_EXEMPT"


class RatingFlagReason(enum.StrEnum):
    NO_RULE = "NO_RULE"  # no valid rule matches the session for this engine
    AMBIGUOUS_RULES = "AMBIGUOUS_RULES"  # more than one does (the detail names them)
    NO_PACKAGE = "NO_PACKAGE"  # retail: the driver has no contract or no retail package
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"  # the rule's currency is not the CDR's / billed
    NO_VAT_RATE = "NO_VAT_RATE"  # no level (tariff, CPO contract, party) has a VAT rate
    PRICING_FAILED = "PRICING_FAILED"  # the rule's tariff cannot price this CDR


class RatingFlagStatus(enum.StrEnum):
    OPEN = "OPEN"  # retried on a schedule until the retry window ends
    RESOLVED = "RESOLVED"  # rated since
    DROPPED = "DROPPED"  # the retry window ended: never invoiced (shown, not hidden)


# --- rules (billing rules, their versions, overlaps and the tester) ---------------------------


@dataclass(frozen=True, slots=True)
class RuleException:
    """A scope a rule does not cover although its scopes do: `side` "cpo" or "emsp", the
    scope (not ANY) and its value."""

    side: str
    scope: str
    value: str


@dataclass(frozen=True, slots=True)
class BillingRuleTerms:
    """What one version of a billing rule says (the input of the editor and the REST API).
    Money amounts are in `currency` (empty: the tariff's currency)."""

    cpo_scope: CpoScope = CpoScope.ANY
    cpo_scope_value: str = ""
    emsp_scope: EmspScope = EmspScope.ANY
    emsp_scope_value: str = ""
    pricing: RulePricing = RulePricing.TARIFF
    tariff_id: int | None = None
    currency: str = ""
    markup_percent: Decimal | None = None
    markup_per_kwh: Decimal | None = None
    margin_per_session: Decimal | None = None
    margin_per_kwh: Decimal | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    weekdays: int = 127
    time_from: time | None = None
    time_until: time | None = None
    exceptions: tuple[RuleException, ...] = ()


@dataclass(frozen=True, slots=True)
class BillingRuleVersionRecord:
    id: int
    version: int
    effective_from: datetime
    effective_until: datetime | None  # the next version's effective_from
    active: bool
    terms: BillingRuleTerms
    tariff_name: str
    reason: str
    created_by_id: int | None


@dataclass(frozen=True, slots=True)
class BillingRuleRecord:
    """A billing rule with every version (oldest first); `current` is the version in force
    at the moment it was read (the first version while none is yet), `active` its flag."""

    id: int
    engine: BillingEngine
    name: str
    active: bool
    current: BillingRuleVersionRecord
    versions: tuple[BillingRuleVersionRecord, ...]


@dataclass(frozen=True, slots=True)
class RuleOverlap:
    """An existing rule version that may cover a session a draft version covers too."""

    rule_id: int
    rule_name: str
    version_id: int
    version: int
    effective_from: datetime
    effective_until: datetime | None


@dataclass(frozen=True, slots=True)
class RuleTestResult:
    """What the tester found for one engine: the rule that would match (`rule_id`,
    `version_id`), or why none would (`reason`: NO_RULE, AMBIGUOUS_RULES with the rules in
    `candidates`); `facts` are the session facts it matched on, for display."""

    engine: BillingEngine
    rule_id: int | None
    rule_name: str
    version_id: int | None
    reason: str | None
    candidates: tuple[int, ...]
    facts: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RatingOutcome:
    """What a rating run did: rated lines written (reversals included), flags opened, and
    CDR x engine pairs it left alone (already rated or flagged, or rated the same again)."""

    lines_written: int = 0
    flags_opened: int = 0
    skipped: int = 0

    def __add__(self, other: RatingOutcome) -> RatingOutcome:
        return RatingOutcome(
            self.lines_written + other.lines_written,
            self.flags_opened + other.flags_opened,
            self.skipped + other.skipped,
        )


@dataclass(frozen=True, slots=True)
class RuleTerms:
    """How one billing rule version prices (the matcher's `RuleSpec` says whom it covers):
    its tariff, or cost-plus mark-ups, and reimbursement margins, each with its currency."""

    version_id: int
    rule_id: int
    pricing: RulePricing
    tariff_id: int | None
    markup_percent: Decimal | None = None
    markup_per_kwh: Decimal | None = None
    markup_currency: str = ""
    margin_per_session: Decimal | None = None
    margin_per_session_currency: str = ""
    margin_per_kwh: Decimal | None = None
    margin_per_kwh_currency: str = ""


# -- CPO contracts, payees and home-charger flags (area "cust") ---------------------------


@dataclass(frozen=True, slots=True)
class CpoContractTerms:
    """What rating reads of the CPO contract version in force at a session's start."""

    contract_id: int
    version_id: int
    vat_country: str
    vat_rate: Decimal | None  # percent; None: this level has none (fall through to the party)
    rounding_mode: RoundingMode


@dataclass(frozen=True, slots=True)
class CpoContractVersionRecord:
    id: int
    version: int
    effective_from: datetime
    vat_country: str
    vat_rate: Decimal | None
    rounding_mode: RoundingMode
    payee_name: str
    payee_iban: str
    payee_bic: str
    payee_address: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CpoContractRecord:
    id: int
    reference: str
    party_pk: int
    country_code: str
    party_id: str
    party_name: str
    versions: tuple[CpoContractVersionRecord, ...]
    created_at: datetime
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class PayeeRecord:
    id: int
    kind: PayeeKind
    name: str
    email: str
    vat_number: str
    iban: str
    bic: str
    address: str
    postal_code: str
    city: str
    country: str
    external_ref: str
    created_at: datetime
    last_updated: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class PayeeAssignmentRecord:
    """From `effective_from` on, `payee_id` (None: no payee) owns charge station
    `charge_station_id`."""

    id: int
    charge_station_id: int
    payee_id: int | None
    payee_name: str
    effective_from: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HccFlagRow:
    """One row of a bulk home-charger flag change: a charge station (platform id) or a
    token (uid) of the tenant, and its new flag (an `HccFlag` value; None clears it). As
    received: `hcc_rows_problems` checks it."""

    charge_station_id: int | None
    token_uid: str | None
    hcc: str | None
    charge_station_identity: str = ""  # as the CSV named it (for the messages)


@dataclass(frozen=True, slots=True)
class HccFlagOutcome:
    """What a bulk change did: the ids whose flag changed (the rest already had it)."""

    charge_stations_changed: tuple[int, ...]
    tokens_changed: tuple[int, ...]
    rows: int


# --- views: the read side of rated lines, settlement reports and rating flags ---------------


@dataclass(frozen=True)
class RatedLineRow:
    """One rated line as people and the REST API see it. `rule` and `rule_version` are None
    when the viewer is the buyer tenant of another tenant's wholesale line (the seller's
    rules are its internals); `viewer_side` says whether the viewer rated the line
    (SELLER) or pays it as a marketplace buyer (BUYER)."""

    id: int
    cdr_id: int
    engine: str
    seq: int
    kind: str
    reverses_id: int | None
    reason: str
    viewer_side: str
    seller: str  # "NL*AAA" (a party), or the payee's name
    seller_party_id: int | None
    seller_payee_id: int | None
    buyer: str  # "NL*BBB" (a party), or the customer's name
    buyer_party_id: int | None
    buyer_customer_id: int | None
    buyer_tenant_id: int | None
    own_charge: bool
    rule_id: int | None
    rule: str | None
    rule_version: int | None
    tariff: str | None  # the tariff's OCPI id
    tariff_version: int | None
    currency: str
    rounding_mode: str
    energy_kwh: Decimal
    time_hours: Decimal
    parking_hours: Decimal
    amounts: dict[str, Decimal]  # fixed, energy, time, parking, reservation, adjustment
    exact: dict[str, Decimal]  # the same before rounding
    total_excl_vat: Decimal
    vat_rate: Decimal
    vat_source: str
    vat_exemption_reason: str
    vat: Decimal
    total_incl_vat: Decimal
    hcc: str
    rated_by: str
    created_at: datetime


@dataclass(frozen=True)
class EngineTotal:
    """The sum of one engine's lines of a CDR in one currency: what it is worth now."""

    currency: str
    total_excl_vat: Decimal
    vat: Decimal
    total_incl_vat: Decimal


@dataclass(frozen=True)
class RatingFlagRow:
    id: int
    cdr_id: int
    cdr_ocpi_id: str
    engine: str
    reason: str
    detail: dict[str, Any]
    rule_ids: tuple[int, ...]  # the rules an AMBIGUOUS_RULES flag names
    status: str
    attempts: int
    flagged_at: datetime
    last_tried_at: datetime
    next_retry_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class EngineView:
    """One engine's rated view of a CDR: its lines (oldest first, reversals included), the
    sum in force per currency, and its flags."""

    engine: str
    lines: tuple[RatedLineRow, ...]
    totals: tuple[EngineTotal, ...]
    flags: tuple[RatingFlagRow, ...]


@dataclass(frozen=True)
class CdrRatedViews:
    """What the viewer tenant may see of a CDR's rating, engine by engine (only the engines
    it may see are present: retail, wholesale, reimbursement in that order)."""

    cdr_id: int
    views: tuple[EngineView, ...]


class SettlementSide(enum.StrEnum):
    """RECEIVABLE: the wholesale lines the tenant rated as CPO, per eMSP (buyer).
    PAYABLE: the marketplace wholesale lines other tenants rated with this tenant as the
    buyer, per CPO (seller): its cost."""

    RECEIVABLE = "RECEIVABLE"
    PAYABLE = "PAYABLE"


@dataclass(frozen=True)
class SettlementRow:
    """One counterparty x currency x own-charge group of a settlement report."""

    party_id: int | None
    party: str  # "NL*BBB"
    party_name: str
    currency: str
    own_charge: bool
    cdrs: int  # distinct CDRs with a line in the period
    energy_kwh: Decimal  # reversals count negative
    total_excl_vat: Decimal
    vat: Decimal
    total_incl_vat: Decimal


@dataclass(frozen=True)
class SettlementReport:
    """Wholesale settlement for `[period_from, period_to)` by the lines' `created_at`.
    `rows` per counterparty and currency (own-charge rows apart); `totals` per currency over
    the rows that are not own-charge (never across currencies)."""

    tenant_id: int
    side: SettlementSide
    period_from: datetime
    period_to: datetime
    rows: tuple[SettlementRow, ...]
    totals: tuple[EngineTotal, ...]
