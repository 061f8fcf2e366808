"""Billing rules, CPO contracts, payees, rated lines and rating flags (BILLING.md sections 1
to 3, ADR 0027). Prices on rules use django-money (ADR 0020); rated lines are written in
bulk and keep plain `Decimal`s beside one `currency` column (ADR 0020, second rule)."""

from __future__ import annotations

from typing import TypedDict

from django.core.validators import RegexValidator
from django.db import models
from djmoney.models.fields import MoneyField

from apps.common.models import AppendOnlyModel, TenantOwnedModel, choices, in_enum
from apps.rating.contracts import (
    CpoScope,
    EmspScope,
    LineKind,
    PayeeKind,
    RatingFlagReason,
    RatingFlagStatus,
    RoundingMode,
    RulePricing,
    VatSource,
)
from apps.tariffs.contracts import BillingEngine


class _Digits(TypedDict):
    max_digits: int
    decimal_places: int


currency_validator = RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 currency code, e.g. EUR.")
PRICE: _Digits = {"max_digits": 18, "decimal_places": 4}  # unit prices keep 4 decimals (OCPI)
EXACT: _Digits = {"max_digits": 22, "decimal_places": 8}  # before its rounding point
AMOUNT: _Digits = {"max_digits": 18, "decimal_places": 4}  # rounded to the minor unit
VAT_RATE: _Digits = {"max_digits": 5, "decimal_places": 2}  # percent


class CpoContract(TenantOwnedModel):
    """The agreement between the tenant and a CPO party (its own identity or a partner):
    VAT country and rate, rounding mode, payee details. Its terms live in append-only
    versions; the one in force for a session is the latest effective at its start."""

    party = models.ForeignKey("parties.Party", on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=64)

    class Meta:
        ordering = ["reference", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "reference"], name="cpo_contract_reference_unique"
            ),
            models.UniqueConstraint(fields=["tenant", "party"], name="cpo_contract_one_per_party"),
        ]

    def __str__(self) -> str:
        return self.reference


class CpoContractVersion(AppendOnlyModel):
    contract = models.ForeignKey(CpoContract, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    vat_country = models.CharField(max_length=2, blank=True)
    vat_rate = models.DecimalField(**VAT_RATE, null=True, blank=True)  # empty: not set here
    rounding_mode = models.CharField(
        max_length=16, choices=choices(RoundingMode), default=RoundingMode.HALF_UP.value
    )
    payee_name = models.CharField(max_length=200, blank=True)
    payee_iban = models.CharField(max_length=34, blank=True)
    payee_bic = models.CharField(max_length=11, blank=True)
    payee_address = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        "parties.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["contract_id", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "version"], name="cpo_contract_version_unique"
            ),
            models.UniqueConstraint(
                fields=["contract", "effective_from"], name="cpo_contract_version_effective"
            ),
            models.CheckConstraint(
                condition=in_enum("rounding_mode", RoundingMode),
                name="cpo_contract_rounding_valid",
            ),
        ]


class Payee(TenantOwnedModel):
    """A charger owner the tenant reimburses (home, workplace, site host)."""

    kind = models.CharField(max_length=12, choices=choices(PayeeKind))
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    vat_number = models.CharField(max_length=32, blank=True)
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)
    address = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    external_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_ref"],
                condition=~models.Q(external_ref=""),
                name="payee_external_ref_unique",
            ),
            models.CheckConstraint(condition=in_enum("kind", PayeeKind), name="payee_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class PayeeAssignment(TenantOwnedModel):
    """Puts a payee on a charge station from `effective_from` on (empty payee: none from
    then). Rows are history: the one in force for a session is the latest whose
    `effective_from` is not after its start."""

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    payee = models.ForeignKey(
        Payee, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments"
    )
    effective_from = models.DateTimeField()

    class Meta:
        ordering = ["charge_station_id", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_station", "effective_from"], name="payee_assignment_unique"
            )
        ]


class BillingRule(TenantOwnedModel):
    """A billing rule of one engine: which tariff (or cost-plus mark-up) prices which
    sessions. Its terms live in append-only versions (`BillingRuleVersion`); a change applies
    to sessions that start at or after the new version's `effective_from`."""

    engine = models.CharField(max_length=16, choices=choices(BillingEngine))
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["engine", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "engine", "name"], name="billing_rule_name_unique"
            ),
            models.CheckConstraint(
                condition=in_enum("engine", BillingEngine), name="billing_rule_engine_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BillingRuleVersion(AppendOnlyModel):
    """One version of a billing rule: tariff x CPO scope x eMSP scope x validity x
    exceptions (BILLING.md section 2). `active` False retires the rule from
    `effective_from` on."""

    rule = models.ForeignKey(BillingRule, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    active = models.BooleanField(default=True)
    pricing = models.CharField(
        max_length=10, choices=choices(RulePricing), default=RulePricing.TARIFF.value
    )
    tariff = models.ForeignKey(
        "tariffs.Tariff", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Retail cost-plus: the wholesale price plus this percentage and this amount per kWh.
    markup_percent = models.DecimalField(**PRICE, null=True, blank=True)
    markup_per_kwh = MoneyField(**PRICE, null=True, blank=True, default_currency=None)
    # Reimbursement: the margin the payer keeps, per session and per kWh.
    margin_per_session = MoneyField(**PRICE, null=True, blank=True, default_currency=None)
    margin_per_kwh = MoneyField(**PRICE, null=True, blank=True, default_currency=None)
    cpo_scope = models.CharField(max_length=12, choices=choices(CpoScope))
    cpo_scope_value = models.CharField(max_length=64, blank=True)
    emsp_scope = models.CharField(max_length=16, choices=choices(EmspScope))
    emsp_scope_value = models.CharField(max_length=64, blank=True)
    # Validity of the sessions it covers, by session start: [valid_from, valid_until), on
    # the weekdays of the bit mask (Monday = 1, ..., Sunday = 64; 127 every day) and between
    # the local times [time_from, time_until) of the location (empty: all day).
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    weekdays = models.PositiveSmallIntegerField(default=127)
    time_from = models.TimeField(null=True, blank=True)
    time_until = models.TimeField(null=True, blank=True)
    # Scopes the rule does not cover although its scopes do:
    # [{"side": "cpo" | "emsp", "scope": <CpoScope | EmspScope>, "value": "..."}, ...]
    exceptions = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        "parties.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["rule_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="billing_rule_version_unique"),
            models.UniqueConstraint(
                fields=["rule", "effective_from"], name="billing_rule_version_effective"
            ),
            models.CheckConstraint(
                condition=in_enum("cpo_scope", CpoScope), name="billing_rule_cpo_scope_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("emsp_scope", EmspScope), name="billing_rule_emsp_scope_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("pricing", RulePricing), name="billing_rule_pricing_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(weekdays__gte=1) & models.Q(weekdays__lte=127),
                name="billing_rule_weekdays_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}"


class RatedLine(AppendOnlyModel):
    """What one engine rated for one CDR between one seller and one buyer (BILLING.md
    section 1). Append-only: re-rating writes a REVERSAL of the line in force (the same
    amounts negated, `reverses` pointing at it) and a new LINE, with the reason; the sum of
    a CDR's lines per engine is what it is worth now.

    `seq` numbers the lines of one CDR and engine from 1; (cdr, engine, seq) is unique, so
    two workers rating the same CDR (a redelivery) cannot both write line 1. `tenant` is the
    tenant that rated it (the CPO tenant for wholesale and reimbursement, the eMSP tenant for
    retail); `buyer_tenant` the platform tenant that pays it, which sees the line as a cost.
    Amounts follow ADR 0020's second rule: `Decimal`s and one `currency`."""

    cdr = models.ForeignKey("charging.Cdr", on_delete=models.PROTECT, related_name="+")
    engine = models.CharField(max_length=16, choices=choices(BillingEngine))
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=choices(LineKind), default=LineKind.LINE.value)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    reason = models.CharField(max_length=200, blank=True)
    seller_party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    seller_payee = models.ForeignKey(
        Payee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    buyer_party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    buyer_customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    buyer_tenant = models.ForeignKey(
        "parties.Operator", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    own_charge = models.BooleanField(default=False)  # CPO and eMSP are one: never invoiced
    rule_version = models.ForeignKey(
        BillingRuleVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tariff_version = models.ForeignKey(
        "tariffs.TariffVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3, validators=[currency_validator])
    rounding_mode = models.CharField(max_length=16, choices=choices(RoundingMode))
    energy_kwh = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    time_hours = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    parking_hours = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    fixed_exact = models.DecimalField(**EXACT, default=0)
    fixed = models.DecimalField(**AMOUNT, default=0)
    energy_exact = models.DecimalField(**EXACT, default=0)
    energy = models.DecimalField(**AMOUNT, default=0)
    time_exact = models.DecimalField(**EXACT, default=0)
    time = models.DecimalField(**AMOUNT, default=0)
    parking_exact = models.DecimalField(**EXACT, default=0)
    parking = models.DecimalField(**AMOUNT, default=0)
    reservation_exact = models.DecimalField(**EXACT, default=0)
    reservation = models.DecimalField(**AMOUNT, default=0)
    # Margins or mark-ups the rule adds (+) or takes (-), already in the dimensions' sum.
    adjustment_exact = models.DecimalField(**EXACT, default=0)
    adjustment = models.DecimalField(**AMOUNT, default=0)
    total_excl_vat = models.DecimalField(**AMOUNT)
    vat_rate = models.DecimalField(**VAT_RATE)
    vat_source = models.CharField(max_length=12, choices=choices(VatSource))
    vat_exemption_reason = models.CharField(max_length=200, blank=True)
    vat = models.DecimalField(**AMOUNT)
    total_incl_vat = models.DecimalField(**AMOUNT)
    hcc = models.CharField(max_length=8, blank=True, default="")
    rated_by = models.CharField(max_length=254, blank=True)  # the actor's name
    # When it was rated (the service's clock, not the database's: tests control time).
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["cdr_id", "engine", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["cdr", "engine", "seq"], name="rated_line_seq_unique"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind=LineKind.REVERSAL.value) & models.Q(reverses__isnull=False)
                )
                | (models.Q(kind=LineKind.LINE.value) & models.Q(reverses__isnull=True)),
                name="rated_line_reversal_points_back",
            ),
            models.CheckConstraint(
                condition=in_enum("engine", BillingEngine), name="rated_line_engine_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("vat_source", VatSource), name="rated_line_vat_source_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "engine", "created_at"], name="rated_line_period"),
            models.Index(
                fields=["buyer_tenant", "engine", "created_at"],
                condition=models.Q(buyer_tenant__isnull=False),
                name="rated_line_buyer_period",
            ),
        ]


class RatingFlag(TenantOwnedModel):
    """A CDR one engine could not rate, and why (`reason`, `detail`: e.g. the ambiguous
    rules). Retried on a schedule (`next_retry_at`) and from the flagged queue; RESOLVED
    once rated, DROPPED when the retry window ends (never invoiced, still listed). At most
    one OPEN flag per CDR and engine."""

    cdr = models.ForeignKey("charging.Cdr", on_delete=models.PROTECT, related_name="+")
    engine = models.CharField(max_length=16, choices=choices(BillingEngine))
    reason = models.CharField(max_length=20, choices=choices(RatingFlagReason))
    detail = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=8, choices=choices(RatingFlagStatus), default=RatingFlagStatus.OPEN.value
    )
    attempts = models.PositiveIntegerField(default=1)
    flagged_at = models.DateTimeField()
    last_tried_at = models.DateTimeField()
    next_retry_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-flagged_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cdr", "engine"],
                condition=models.Q(status="OPEN"),
                name="rating_flag_one_open",
            ),
            models.CheckConstraint(
                condition=in_enum("reason", RatingFlagReason), name="rating_flag_reason_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("status", RatingFlagStatus), name="rating_flag_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_retry_at"],
                condition=models.Q(status="OPEN"),
                name="rating_flag_due",
            ),
            models.Index(fields=["tenant", "status", "-flagged_at"], name="rating_flag_queue"),
        ]
