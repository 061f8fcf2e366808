from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from apps.parties.contracts import PartyRole
from restapi.pagination import PageQuery

ROLES = [r.value for r in PartyRole]


class PartnerOut(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=ROLES)
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    name = serializers.CharField()
    website = serializers.CharField()
    vat_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        help_text="the partner's default VAT rate in percent (the last level of VAT "
        "resolution); null: none",
    )
    marketplace_tenant = serializers.BooleanField(
        help_text="the identity is another marketplace tenant's own: its tokens are roamed "
        "inside the platform"
    )
    created_at = serializers.DateTimeField()
    last_updated = serializers.DateTimeField()


class _PartnerFields(serializers.Serializer):
    website = serializers.URLField(max_length=200, required=False, allow_blank=True)
    vat_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal("99.99"),
        required=False,
        allow_null=True,
    )


class PartnerIn(_PartnerFields):
    role = serializers.ChoiceField(choices=ROLES)
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166-1 alpha-2")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", help_text="the OCPI party id")
    name = serializers.CharField(max_length=200)


class PartnerPatchIn(_PartnerFields):
    name = serializers.CharField(max_length=200, required=False)


class PartnerListQuery(PageQuery):
    role = serializers.ChoiceField(choices=ROLES, required=False)
