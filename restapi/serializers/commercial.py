"""Retail packages, user groups, CPO contracts, payees and home-charger flags (scope
`billing`; issue 17)."""

from __future__ import annotations

from rest_framework import serializers

from apps.rating.contracts import PayeeKind, RoundingMode
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, array_of

ROUNDING = [m.value for m in RoundingMode]
PAYEE_KINDS = [k.value for k in PayeeKind]


class RetailPackageOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_updated = serializers.DateTimeField()


class RetailPackageIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class RetailPackagePatchIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class UserGroupOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_updated = serializers.DateTimeField()


class UserGroupIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class CpoTermsIn(serializers.Serializer):
    vat_country = serializers.CharField(
        min_length=2, max_length=2, required=False, allow_blank=True, help_text="ISO 3166-1"
    )
    vat_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        allow_null=True,
        coerce_to_string=False,
        help_text="percent, 0 to 100; null: none at this level (the party's applies)",
    )
    rounding_mode = serializers.ChoiceField(choices=ROUNDING, required=False)
    payee_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    payee_iban = serializers.CharField(
        max_length=42, required=False, allow_blank=True, help_text="checked (ISO 13616)"
    )
    payee_bic = serializers.CharField(max_length=11, required=False, allow_blank=True)
    payee_address = serializers.CharField(max_length=300, required=False, allow_blank=True)


class CpoContractIn(CpoTermsIn):
    country_code = serializers.CharField(min_length=2, max_length=2)
    party_id = serializers.CharField(min_length=3, max_length=3, help_text="a CPO party")
    reference = serializers.CharField(max_length=64)
    effective_from = serializers.DateTimeField(help_text="when the first version starts")


class CpoContractVersionIn(CpoTermsIn):
    effective_from = serializers.DateTimeField(
        required=False, help_text="when this version starts (default: now; never earlier)"
    )


class CpoContractVersionOut(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    effective_from = serializers.DateTimeField()
    vat_country = serializers.CharField()
    vat_rate = serializers.DecimalField(
        max_digits=5, decimal_places=2, coerce_to_string=False, allow_null=True
    )
    rounding_mode = serializers.ChoiceField(choices=ROUNDING)
    payee_name = serializers.CharField()
    payee_iban = serializers.CharField()
    payee_bic = serializers.CharField()
    payee_address = serializers.CharField()
    created_at = serializers.DateTimeField()


class CpoContractOut(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    party_name = serializers.CharField()
    versions = CpoContractVersionOut(many=True, help_text="oldest first; append-only")
    created_at = serializers.DateTimeField()
    last_updated = serializers.DateTimeField()


class _PayeeFields(serializers.Serializer):
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    vat_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    iban = serializers.CharField(
        max_length=42, required=False, allow_blank=True, help_text="checked (ISO 13616)"
    )
    bic = serializers.CharField(max_length=11, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=16, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False, allow_blank=True)
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True)


class PayeeIn(_PayeeFields):
    kind = serializers.ChoiceField(choices=PAYEE_KINDS)
    name = serializers.CharField(max_length=200)


class PayeePatchIn(_PayeeFields):
    kind = serializers.ChoiceField(choices=PAYEE_KINDS, required=False)
    name = serializers.CharField(max_length=200, required=False)


class PayeeOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PAYEE_KINDS)
    name = serializers.CharField()
    email = serializers.CharField()
    vat_number = serializers.CharField()
    iban = serializers.CharField()
    bic = serializers.CharField()
    address = serializers.CharField()
    postal_code = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()
    external_ref = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_updated = serializers.DateTimeField()


class PayeeListQuery(PageQuery):
    kind = serializers.ChoiceField(choices=PAYEE_KINDS, required=False)


class PayeeAssignmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    charge_station_id = serializers.IntegerField()
    payee_id = serializers.IntegerField(allow_null=True, help_text="null: no payee from then")
    payee_name = serializers.CharField()
    effective_from = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


class StationPayeeOut(serializers.Serializer):
    charge_station_id = serializers.IntegerField()
    payee_id = serializers.IntegerField(allow_null=True, help_text="the payee in force now")
    history = PayeeAssignmentOut(many=True, help_text="oldest first")


class StationPayeeIn(serializers.Serializer):
    payee_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, allow_null=True, help_text="null: remove the payee"
    )
    effective_from = serializers.DateTimeField(
        required=False, help_text="default: now; never earlier"
    )


class HccFlagIn(serializers.Serializer):
    charge_station = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="a charge station's id"
    )
    token = serializers.CharField(max_length=36, required=False, help_text="a token's uid")
    hcc = serializers.CharField(
        max_length=8, allow_null=True, help_text="HCC_E, HCC_V or null (clear)"
    )


class HccFlagsIn(serializers.Serializer):
    items = array_of(HccFlagIn, min_length=1, max_length=10_000)


class HccFlagsOut(serializers.Serializer):
    rows = serializers.IntegerField()
    charge_stations_changed = serializers.ListField(child=serializers.IntegerField())
    tokens_changed = serializers.ListField(child=serializers.IntegerField())
