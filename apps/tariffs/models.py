from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

from apps.common.json import DecimalJSONEncoder
from apps.common.models import AppendOnlyModel, TenantOwnedModel, choices, in_enum
from apps.tariffs.contracts import BillingEngine, TariffType

currency_validator = RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 currency code, e.g. EUR.")


class Tariff(TenantOwnedModel):
    """A tariff of one of the tenant's parties, for one billing engine (`engine`). Its
    prices live in append-only versions (`TariffVersion`)."""

    party = models.ForeignKey("parties.Party", on_delete=models.PROTECT, related_name="+")
    ocpi_id = models.CharField(max_length=36)
    name = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    type = models.CharField(max_length=16, choices=choices(TariffType), blank=True)
    # Which engine the tariff serves (ADR 0027): a CPO's station / wholesale price (the
    # party is the tenant's CPO identity), an eMSP's retail price (its eMSP identity) or a
    # charger owner's reimbursement rate. Tariff codes put only WHOLESALE tariffs on stations.
    engine = models.CharField(
        max_length=16,
        choices=choices(BillingEngine),
        default=BillingEngine.WHOLESALE.value,
        db_default="WHOLESALE",
    )

    class Meta:
        ordering = ["ocpi_id"]
        constraints = [
            models.CheckConstraint(
                condition=in_enum("engine", BillingEngine), name="tariff_engine_valid"
            ),
            models.UniqueConstraint(fields=["party", "ocpi_id"], name="tariff_ocpi_id_unique"),
            models.CheckConstraint(
                condition=in_enum("type", TariffType) | models.Q(type=""),
                name="tariff_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.ocpi_id


class TariffVersion(AppendOnlyModel):
    """One version of a tariff's prices, effective for sessions starting at or after
    `effective_from` (until the next version). Never changed: a price change is a new version,
    so a session's frozen tariff stays reproducible."""

    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    # The OCPI 2.2.1 Tariff object, validated and normalised by the pricing core's parser.
    ocpi = models.JSONField(encoder=DecimalJSONEncoder)
    created_by = models.ForeignKey(
        "parties.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["tariff_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["tariff", "version"], name="tariff_version_unique"),
            models.UniqueConstraint(
                fields=["tariff", "effective_from"], name="tariff_version_effective_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tariff} v{self.version}"


class TariffCode(TenantOwnedModel):
    """A label put on charge stations (and overridden per connector) that names a tariff."""

    code = models.CharField(
        max_length=64, validators=[RegexValidator(r"^[A-Za-z0-9_.\-]+$", "Letters, digits, _ . -")]
    )
    description = models.CharField(max_length=200, blank=True)
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="codes")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="tariff_code_unique"),
        ]

    def __str__(self) -> str:
        return self.code


class TariffAssignment(TenantOwnedModel):
    """Puts a tariff code on a charge station (connector empty: the station's default) or on
    one connector (an override), from `effective_from` on. Rows are history: the one in force
    for a session is the latest whose `effective_from` is not after the session start, so a
    change applies to future sessions only."""

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    connector = models.ForeignKey(
        "locations.Connector", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tariff_code = models.ForeignKey(TariffCode, on_delete=models.PROTECT, related_name="+")
    effective_from = models.DateTimeField()

    class Meta:
        ordering = ["charge_station_id", "connector_id", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_station", "effective_from"],
                condition=models.Q(connector__isnull=True),
                name="tariff_assignment_station_unique",
            ),
            models.UniqueConstraint(
                fields=["connector", "effective_from"],
                condition=models.Q(connector__isnull=False),
                name="tariff_assignment_connector_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.charge_station_id}/{self.connector_id or '*'} -> {self.tariff_code_id}"


class TariffCodeImport(TenantOwnedModel):
    """A bulk update of stations' default tariff codes from a CSV file, run by a worker.
    Connector overrides are never touched."""

    STATUSES = [
        ("PENDING", "Pending"),
        ("RUNNING", "Running"),
        ("DONE", "Done"),
        ("FAILED", "Failed"),
    ]

    created_by = models.ForeignKey(
        "parties.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=STATUSES, default="PENDING")
    effective_from = models.DateTimeField()
    rows = models.JSONField(default=list)  # [[station_id, identity, code_id, code], ...]
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-id"]
