from __future__ import annotations

from typing import Any

from rest_framework import serializers

# Platform ids are PostgreSQL bigints; a larger number can name nothing (and would overflow
# the database driver), so inputs are bounded by it.
MAX_ID = 2**63 - 1


def money(*, allow_null: bool = False, required: bool | None = None) -> serializers.DecimalField:
    """A money amount: JSON number with 4 decimals, produced from Decimal (never float)."""
    return serializers.DecimalField(
        max_digits=18,
        decimal_places=4,
        coerce_to_string=False,
        allow_null=allow_null,
        required=required,
    )


def volume(decimal_places: int = 4) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=18, decimal_places=decimal_places, coerce_to_string=False
    )


def array_of(
    item: type[serializers.BaseSerializer[Any]], **options: Any
) -> serializers.BaseSerializer[Any]:
    """`item(many=True, **options)`, which is this call: a JSON array of `item` objects, with
    the list's `min_length` / `max_length` (DRF's stubs do not let the item's constructor
    take them)."""
    return item.many_init(**options)


class Price(serializers.Serializer):
    """OCPI 2.2.1 Price."""

    excl_vat = money()
    incl_vat = money(allow_null=True, required=False)


class ErrorItem(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()


class UpdatedSinceQuery(serializers.Serializer):
    updated_since = serializers.DateTimeField(
        required=False, help_text="only objects changed at or after this time (UTC)"
    )
