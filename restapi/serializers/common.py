from __future__ import annotations

from rest_framework import serializers

# Platform ids are PostgreSQL bigints; a larger number can name nothing (and would overflow
# the database driver), so inputs are bounded by it.
MAX_ID = 2**63 - 1


def money(**kwargs: object) -> serializers.DecimalField:
    """A money amount: JSON number with 4 decimals, produced from Decimal (never float)."""
    return serializers.DecimalField(
        max_digits=18, decimal_places=4, coerce_to_string=False, **kwargs
    )


def volume(decimal_places: int = 4, **kwargs: object) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=18, decimal_places=decimal_places, coerce_to_string=False, **kwargs
    )


class Price(serializers.Serializer):  # type: ignore[type-arg]
    """OCPI 2.2.1 Price."""

    excl_vat = money()
    incl_vat = money(allow_null=True, required=False)


class ErrorItem(serializers.Serializer):  # type: ignore[type-arg]
    path = serializers.CharField()
    message = serializers.CharField()


class UpdatedSinceQuery(serializers.Serializer):  # type: ignore[type-arg]
    updated_since = serializers.DateTimeField(
        required=False, help_text="only objects changed at or after this time (UTC)"
    )
