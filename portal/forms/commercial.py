"""Forms of the billing set-up pages: retail packages, user groups, CPO contracts, payees
and their stations, the home-charger flag CSV. The services check the content (IBAN, VAT
rate, overlaps); the forms read what was typed."""

from __future__ import annotations

from django import forms

from apps.rating.contracts import PayeeKind, RoundingMode
from portal.forms.fields import UtcDateTimeField

HCC_IMPORT_LIMIT = 5 * 1024 * 1024


class NameForm(forms.Form):
    name = forms.CharField(max_length=100, label="name")
    description = forms.CharField(max_length=200, required=False, label="description")


class CpoTermsForm(forms.Form):
    effective_from = UtcDateTimeField(required=False, label="from (UTC)")
    vat_country = forms.CharField(max_length=2, required=False, label="VAT country")
    vat_rate = forms.DecimalField(
        required=False, min_value=0, max_value=100, decimal_places=2, label="VAT %"
    )
    rounding_mode = forms.ChoiceField(
        choices=[(m.value, m.name) for m in RoundingMode], label="rounding"
    )
    payee_name = forms.CharField(max_length=200, required=False, label="payee name")
    payee_iban = forms.CharField(max_length=42, required=False, label="payee IBAN")
    payee_bic = forms.CharField(max_length=11, required=False, label="payee BIC")
    payee_address = forms.CharField(max_length=300, required=False, label="payee address")

    def terms(self) -> dict[str, object]:
        data = dict(self.cleaned_data)
        data.pop("effective_from", None)
        data.pop("party", None)
        data.pop("reference", None)
        return data


class CpoContractForm(CpoTermsForm):
    party = forms.IntegerField(label="CPO party")
    reference = forms.CharField(max_length=64, label="reference")


class PayeeForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k.value, k.name.title()) for k in PayeeKind], label="kind")
    name = forms.CharField(max_length=200, label="name")
    email = forms.EmailField(required=False, label="e-mail")
    iban = forms.CharField(max_length=42, required=False, label="IBAN")
    bic = forms.CharField(max_length=11, required=False, label="BIC")
    city = forms.CharField(max_length=100, required=False, label="city")


class PayeeAssignForm(forms.Form):
    station = forms.CharField(max_length=64, label="charge station (identity)")
    payee = forms.IntegerField(required=False, label="payee (empty: none)")
    effective_from = UtcDateTimeField(required=False, label="from (UTC)")


class HccImportForm(forms.Form):
    """The CSV of home-charger flags: an uploaded file (preview) or the text the preview
    carried forward (apply); `text` after validation."""

    file = forms.FileField(required=False, label="CSV file")
    csv_text = forms.CharField(required=False, strip=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        upload = data.get("file")
        text = data.get("csv_text") or ""
        if upload is not None:
            raw = upload.read(HCC_IMPORT_LIMIT + 1)
            if len(raw) > HCC_IMPORT_LIMIT:
                self.add_error("file", "The file is larger than 5 MB; split it.")
                return data
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text: save it as CSV UTF-8.")
                return data
        if not text:
            self.add_error("file", "Choose a CSV file with lines 'target,id,hcc'.")
        data["text"] = text
        return data
