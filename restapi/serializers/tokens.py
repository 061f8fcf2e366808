from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.tokens.contracts import (
    ProfileType,
    TokenInput,
    TokenRecord,
    TokenType,
    WhitelistType,
)
from restapi.pagination import PageQuery
from restapi.serializers.common import ErrorItem, UpdatedSinceQuery, array_of

LANGUAGE = r"^[A-Za-z]{2}$"  # ISO 639-1 (or "": none), as the tokens service checks


class EnergyContract(serializers.Serializer):
    supplier_name = serializers.CharField(max_length=64)
    contract_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True, allow_null=True
    )


# Optional OCPI fields left out of a token when not set ("" is not a value of theirs).
UNSET_OMITTED = ("language", "default_profile_type")


class TokenOut(serializers.Serializer):
    """OCPI 2.2.1 Token, plus `platform_id` (the number in this API's URLs). `language` and
    `default_profile_type` are left out when not set."""

    platform_id = serializers.IntegerField(source="id")
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    uid = serializers.CharField()
    type = serializers.ChoiceField(choices=[t.value for t in TokenType])
    contract_id = serializers.CharField()
    visual_number = serializers.CharField()
    issuer = serializers.CharField()
    group_id = serializers.CharField()
    valid = serializers.BooleanField()
    whitelist = serializers.ChoiceField(choices=[w.value for w in WhitelistType])
    language = serializers.CharField(required=False, help_text="ISO 639-1; absent when not set")
    default_profile_type = serializers.ChoiceField(
        choices=[p.value for p in ProfileType], required=False, help_text="absent when not set"
    )
    energy_contract = EnergyContract(allow_null=True)
    last_updated = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in UNSET_OMITTED:
            if data.get(name) == "":
                del data[name]
        return data


def token_object(r: TokenRecord) -> dict[str, Any]:
    """A TokenRecord as `TokenOut` documents it, built directly (DRF's field machinery costs
    more than the rest of a single upsert)."""
    out = {
        "platform_id": r.id,
        "country_code": r.country_code,
        "party_id": r.party_id,
        "uid": r.uid,
        "type": r.type.value,
        "contract_id": r.contract_id,
        "visual_number": r.visual_number,
        "issuer": r.issuer,
        "group_id": r.group_id,
        "valid": r.valid,
        "whitelist": r.whitelist.value,
        "language": r.language,
        "default_profile_type": r.default_profile_type,
        "energy_contract": r.energy_contract,
        "last_updated": r.last_updated,
    }
    for name in UNSET_OMITTED:
        if out[name] == "":
            del out[name]
    return out


def token_input(data: dict[str, Any], **identity: str) -> TokenInput:
    """An OCPI Token object as sent (and the identity from the URL, if any) as the tokens
    service takes it: fields left out get their defaults, values are passed on as sent (the
    service validates their shape; bulk items are raw JSON objects)."""
    values = {**data, **identity}
    return TokenInput(
        country_code=values.get("country_code", ""),
        party_id=values.get("party_id", ""),
        uid=values.get("uid", ""),
        type=values.get("type", ""),
        contract_id=values.get("contract_id", ""),
        issuer=values.get("issuer", ""),
        valid=values.get("valid", True),
        whitelist=values.get("whitelist", "ALLOWED"),
        visual_number=values.get("visual_number", ""),
        group_id=values.get("group_id", ""),
        language=values.get("language", ""),
        default_profile_type=values.get("default_profile_type", ""),
        energy_contract=values.get("energy_contract"),
    )


class _TokenFields(serializers.Serializer):
    contract_id = serializers.CharField(max_length=36, help_text="EMAID or other contract id")
    issuer = serializers.CharField(max_length=64)
    visual_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    group_id = serializers.CharField(max_length=36, required=False, allow_blank=True)
    valid = serializers.BooleanField(required=False)
    whitelist = serializers.ChoiceField(choices=[w.value for w in WhitelistType], required=False)
    language = serializers.RegexField(
        LANGUAGE, required=False, allow_blank=True, help_text="ISO 639-1: two letters"
    )
    default_profile_type = serializers.ChoiceField(
        choices=[p.value for p in ProfileType], required=False, allow_blank=True
    )
    energy_contract = EnergyContract(required=False, allow_null=True)


class TokenIn(_TokenFields):
    """OCPI 2.2.1 Token: the issuing eMSP (country_code + party_id, one of your parties),
    the uid the station sends, and its type."""

    country_code = serializers.CharField(min_length=2, max_length=2)
    party_id = serializers.CharField(min_length=3, max_length=3)
    uid = serializers.CharField(max_length=36)
    type = serializers.ChoiceField(choices=[t.value for t in TokenType])


class TokenPutIn(_TokenFields):
    type = serializers.ChoiceField(
        choices=[t.value for t in TokenType], required=False, default=TokenType.RFID.value
    )


class TokenPatchIn(serializers.Serializer):
    contract_id = serializers.CharField(max_length=36, required=False)
    issuer = serializers.CharField(max_length=64, required=False)
    visual_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    group_id = serializers.CharField(max_length=36, required=False, allow_blank=True)
    valid = serializers.BooleanField(required=False)
    whitelist = serializers.ChoiceField(choices=[w.value for w in WhitelistType], required=False)
    language = serializers.RegexField(
        LANGUAGE, required=False, allow_blank=True, help_text="ISO 639-1: two letters"
    )
    default_profile_type = serializers.ChoiceField(
        choices=[p.value for p in ProfileType], required=False, allow_blank=True
    )
    energy_contract = EnergyContract(required=False, allow_null=True)


class _Object(serializers.Field):
    """A JSON object passed on as it is; the tokens service validates every item (one rule
    set for single and bulk writes, paths like $.items[3].uid)."""

    def to_internal_value(self, data: object) -> object:
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an OCPI Token object")
        return data


class TokenBulkIn(serializers.Serializer):
    items = serializers.ListField(
        child=_Object(),
        min_length=1,
        max_length=10_000,
        help_text="up to 10,000 OCPI Token objects (as for POST /tokens)",
    )


class TokenBulkItem(TokenIn):
    """One OCPI Token of a bulk upsert: the fields of POST /tokens; fields this API does not
    keep (e.g. `last_updated`) are ignored."""


class TokenBulkInSchema(serializers.Serializer):
    """The bulk request as the schema describes it (the view passes the items on as sent)."""

    items = array_of(TokenBulkItem, min_length=1, max_length=10_000)


class TokenBulkItemOut(serializers.Serializer):
    index = serializers.IntegerField()
    uid = serializers.CharField()
    type = serializers.CharField()
    result = serializers.ChoiceField(choices=["created", "updated", "invalid", "valid"])
    platform_id = serializers.IntegerField(source="id", allow_null=True)
    # A field named like the Serializer property: DRF's metaclass takes declared fields off
    # the class, so the property stays (the stubs cannot know).
    errors = ErrorItem(many=True, source="problems")  # type: ignore[assignment]


class TokenBulkOut(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    items = TokenBulkItemOut(many=True)


class TokenListQuery(PageQuery, UpdatedSinceQuery):
    country_code = serializers.CharField(required=False, max_length=2)
    party_id = serializers.CharField(required=False, max_length=3)
    uid = serializers.CharField(required=False, max_length=36)
    type = serializers.ChoiceField(choices=[t.value for t in TokenType], required=False)
    valid = serializers.BooleanField(required=False, allow_null=True, default=None)
    contract_id = serializers.CharField(required=False, max_length=36)


class TokenPutQuery(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=[t.value for t in TokenType], required=False, help_text="default RFID"
    )
