from __future__ import annotations

from django.db import models

from apps.common.contracts import HccFlag
from apps.common.models import TenantOwnedModel, choices, in_enum
from apps.tokens.contracts import ProfileType, TokenType, WhitelistType


class Token(TenantOwnedModel):
    """OCPI 2.2.1 Token. Identified by (issuing eMSP party, uid, type).

    `valid=False` is a blocked token. `uid` is what a station sends as idTag / idToken.
    """

    party = models.ForeignKey("parties.Party", on_delete=models.PROTECT, related_name="+")
    uid = models.CharField(max_length=36)
    type = models.CharField(max_length=12, choices=choices(TokenType))
    contract_id = models.CharField(max_length=36)  # EMAID for RFID/APP tokens
    visual_number = models.CharField(max_length=64, blank=True)
    issuer = models.CharField(max_length=64)
    group_id = models.CharField(max_length=36, blank=True)
    valid = models.BooleanField(default=True)
    whitelist = models.CharField(
        max_length=16, choices=choices(WhitelistType), default=WhitelistType.ALLOWED.value
    )
    language = models.CharField(max_length=2, blank=True)
    default_profile_type = models.CharField(max_length=8, choices=choices(ProfileType), blank=True)
    # OCPI EnergyContract: {"supplier_name": ..., "contract_id": ...}
    energy_contract = models.JSONField(null=True, blank=True)
    # Home-charger flag for this token's sessions (BILLING.md section 3), when its station
    # has none: HCC_E excludes VAT from the reimbursement, HCC_V includes it.
    hcc = models.CharField(
        max_length=8, choices=choices(HccFlag), blank=True, default="", db_default=""
    )

    class Meta:
        ordering = ["uid"]
        constraints = [
            models.UniqueConstraint(fields=["party", "uid", "type"], name="token_identity_unique"),
            models.CheckConstraint(condition=in_enum("type", TokenType), name="token_type_valid"),
            models.CheckConstraint(
                condition=in_enum("whitelist", WhitelistType), name="token_whitelist_valid"
            ),
        ]
        indexes = [models.Index(fields=["uid"], name="token_uid_idx")]

    def __str__(self) -> str:
        return f"{self.uid} ({self.type})"


class ChargePortGroup(TenantOwnedModel):
    """A set of the tenant's charge stations for access control: a station in one or more
    groups admits only tokens whose EMAID group is assigned one of them (ADR 0015)."""

    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "charge-port group"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="charge_port_group_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class ChargePortGroupStation(TenantOwnedModel):
    """A charge station in a charge-port group (same tenant, checked by the services)."""

    group = models.ForeignKey(ChargePortGroup, on_delete=models.CASCADE, related_name="members")
    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["group_id", "charge_station_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "charge_station"], name="charge_port_group_station_once"
            )
        ]
        indexes = [models.Index(fields=["charge_station"], name="cpg_station_idx")]


class EmaidGroup(TenantOwnedModel):
    """A set of the tenant's tokens (EMAIDs) for access control, assigned the charge-port
    groups where its tokens may charge (ADR 0015)."""

    name = models.CharField(max_length=100)
    charge_port_groups: models.ManyToManyField[ChargePortGroup, EmaidGroupAccess] = (
        models.ManyToManyField(
            ChargePortGroup, through="EmaidGroupAccess", related_name="emaid_groups"
        )
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "EMAID group"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="emaid_group_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class EmaidGroupToken(TenantOwnedModel):
    """A token in an EMAID group (same tenant, checked by the services)."""

    group = models.ForeignKey(EmaidGroup, on_delete=models.CASCADE, related_name="members")
    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["group_id", "token_id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "token"], name="emaid_group_token_once")
        ]
        indexes = [models.Index(fields=["token"], name="emaid_group_token_idx")]


class EmaidGroupAccess(TenantOwnedModel):
    """An EMAID group is assigned a charge-port group: its tokens may charge there."""

    emaid_group = models.ForeignKey(EmaidGroup, on_delete=models.CASCADE, related_name="accesses")
    charge_port_group = models.ForeignKey(
        ChargePortGroup, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["emaid_group_id", "charge_port_group_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["emaid_group", "charge_port_group"], name="emaid_group_access_once"
            )
        ]
