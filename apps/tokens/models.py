from __future__ import annotations

from django.db import models

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
