from __future__ import annotations

from django.db import models

from apps.common.models import TenantOwnedModel, choices, in_enum
from apps.customers.contracts import CustomerKind


class Customer(TenantOwnedModel):
    """A driver or a company that an eMSP serves and invoices."""

    party = models.ForeignKey("parties.Party", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=choices(CustomerKind))
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    vat_number = models.CharField(max_length=32, blank=True)
    address = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    # The id the eMSP's CRM knows this customer by.
    external_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_ref"],
                condition=~models.Q(external_ref=""),
                name="customer_external_ref_unique",
            ),
            models.CheckConstraint(
                condition=in_enum("kind", CustomerKind), name="customer_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RetailPackage(TenantOwnedModel):
    """An eMSP's retail offer a contract is on (BILLING.md section 1): what the retail
    engine's billing rules scope on (a rule prices the package: cost-plus or a tariff)."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="retail_package_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class UserGroup(TenantOwnedModel):
    """A group of an eMSP's contracts (e.g. a company's drivers) that billing rules scope on."""

    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="user_group_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Contract(TenantOwnedModel):
    """One version of a customer's contract for one token, valid over
    [valid_from, valid_until).

    A contract is its `reference`; a change (another customer, package or group) is a new
    version from a moment on, and the version before it ends there: the bill-to customer of
    any session stays reproducible. One token's versions never overlap (the services check
    it; on PostgreSQL an exclusion constraint as well)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contracts")
    token = models.ForeignKey("tokens.Token", on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1, db_default=1)
    retail_package = models.ForeignKey(
        RetailPackage, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    user_group = models.ForeignKey(
        UserGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-valid_from"]
        indexes = [models.Index(fields=["token", "valid_from"], name="contract_token_from")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "reference", "version"], name="contract_reference_version"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gt=models.F("valid_from")),
                name="contract_validity_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.reference
