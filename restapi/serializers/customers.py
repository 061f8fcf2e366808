from __future__ import annotations

from rest_framework import serializers

from apps.customers.contracts import CustomerKind
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, UpdatedSinceQuery

KINDS = [k.value for k in CustomerKind]


class CustomerOut(serializers.Serializer):
    id = serializers.IntegerField()
    country_code = serializers.CharField(help_text="the serving eMSP party")
    party_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    name = serializers.CharField()
    email = serializers.CharField()
    vat_number = serializers.CharField()
    address = serializers.CharField()
    postal_code = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()
    external_ref = serializers.CharField(help_text="your CRM's id of this customer")
    created_at = serializers.DateTimeField()
    last_updated = serializers.DateTimeField()


class _CustomerFields(serializers.Serializer):
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    vat_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=16, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.RegexField(
        r"^[A-Z]{2}$", required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2"
    )
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True)


class CustomerIn(_CustomerFields):
    country_code = serializers.CharField(min_length=2, max_length=2)
    party_id = serializers.CharField(min_length=3, max_length=3)
    kind = serializers.ChoiceField(choices=KINDS)
    name = serializers.CharField(max_length=200)


class CustomerPatchIn(_CustomerFields):
    kind = serializers.ChoiceField(choices=KINDS, required=False)
    name = serializers.CharField(max_length=200, required=False)


class CustomerListQuery(PageQuery, UpdatedSinceQuery):
    external_ref = serializers.CharField(required=False, max_length=64)


class ContractVersionOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="this version's id (GET /contracts/{id})")
    version = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    token_id = serializers.IntegerField()
    retail_package_id = serializers.IntegerField(allow_null=True)
    user_group_id = serializers.IntegerField(allow_null=True)
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True)


class ContractOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="the id of this version of the contract")
    version = serializers.IntegerField(help_text="1, 2, ... per reference")
    customer_id = serializers.IntegerField()
    token_id = serializers.IntegerField(help_text="the token's platform_id")
    token_uid = serializers.CharField()
    reference = serializers.CharField()
    retail_package_id = serializers.IntegerField(allow_null=True)
    user_group_id = serializers.IntegerField(allow_null=True)
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True)
    last_updated = serializers.DateTimeField()


class ContractDetailOut(ContractOut):
    versions = ContractVersionOut(
        many=True, help_text="every version of this reference, oldest first"
    )


class ContractIn(serializers.Serializer):
    customer_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    token_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    reference = serializers.CharField(max_length=64)
    retail_package_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    user_group_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(required=False, allow_null=True)


class ContractPatchIn(serializers.Serializer):
    """A change is a new version from `effective_from` (default: now; never earlier)."""

    effective_from = serializers.DateTimeField(
        required=False, help_text="when the new version starts (default: now)"
    )
    customer_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    token_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    retail_package_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    user_group_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    reference = serializers.CharField(
        max_length=64, required=False, help_text="never changes: only the current one is accepted"
    )
    valid_from = serializers.DateTimeField(
        required=False, help_text="never changes: only the current one is accepted"
    )
    valid_until = serializers.DateTimeField(required=False, allow_null=True)


class ContractListQuery(PageQuery):
    customer_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    token_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    reference = serializers.CharField(required=False, max_length=64)
