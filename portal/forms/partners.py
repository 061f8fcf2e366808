"""The partner form (ADR 0027): a counterparty's identity (fixed once created) and terms."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from apps.parties.contracts import PartyRole

ROLE_CHOICES = [(r.value, r.value) for r in PartyRole]


class PartnerEditForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
    website = forms.URLField(max_length=200, required=False, label="Website", assume_scheme="https")
    vat_rate = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_value=Decimal("99.99"),
        max_digits=5,
        decimal_places=2,
        label="Default VAT rate, % (empty: none)",
    )


class PartnerForm(PartnerEditForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES, label="Role")
    country_code = forms.RegexField(
        r"^[A-Za-z]{2}$",
        label="Country code",
        error_messages={"invalid": "two letters (ISO 3166-1 alpha-2), e.g. DE"},
    )
    party_id = forms.RegexField(
        r"^[A-Za-z0-9]{3}$",
        label="Party id",
        error_messages={"invalid": "three letters or digits (the OCPI party id), e.g. XYZ"},
    )
    field_order = ["role", "country_code", "party_id", "name", "website", "vat_rate"]


class MarketplaceForm(forms.Form):
    marketplace = forms.BooleanField(required=False, label="Take part in the marketplace")
