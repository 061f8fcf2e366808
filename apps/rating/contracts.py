"""Public shapes of rating: billing rules, CPO contracts, payees and rated lines
(BILLING.md sections 1 to 3, ADR 0027)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


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
class CpoContractTerms:
    """The CPO contract version in force for a tenant and a CPO party at a moment."""

    contract_id: int
    version_id: int
    vat_country: str
    vat_rate: Decimal | None
    rounding_mode: RoundingMode


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
