"""The billing rule editor's form (new rule, new version, copy) and the tester's. The form
reads the input; the rating service validates the terms and names the field of each
problem, which the page shows beside that field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from apps.rating.contracts import (
    BillingRuleTerms,
    CpoScope,
    EmspScope,
    RuleException,
    RulePricing,
)
from apps.tariffs.contracts import BillingEngine
from portal.forms.fields import UtcDateTimeField

WEEKDAYS = [
    ("1", "Mon"),
    ("2", "Tue"),
    ("4", "Wed"),
    ("8", "Thu"),
    ("16", "Fri"),
    ("32", "Sat"),
    ("64", "Sun"),
]
ENGINES = [(e.value, e.value.title()) for e in BillingEngine]
CPO_SCOPES = [
    ("ANY", "any"),
    ("COUNTRY", "country"),
    ("CPO_PARTY", "CPO party"),
    ("LOCATION", "location"),
    ("STATION", "charge station"),
    ("TARIFF_CODE", "tariff code"),
]
EMSP_SCOPES = [
    ("ANY", "any"),
    ("EMSP_PARTY", "eMSP party"),
    ("CONTRACT", "contract"),
    ("RETAIL_PACKAGE", "retail package"),
    ("USER_GROUP", "user group"),
]


def _amount(label: str) -> forms.DecimalField:
    return forms.DecimalField(required=False, label=label, max_digits=18, decimal_places=4)


class BillingRuleForm(forms.Form):
    """One form for a new rule (name, engine), a new version and a copy (name)."""

    name = forms.CharField(required=False, max_length=200, label="name")
    engine = forms.ChoiceField(required=False, choices=ENGINES, label="engine")
    effective_from = UtcDateTimeField(required=False, label="applies to sessions from")
    cpo_scope = forms.ChoiceField(choices=CPO_SCOPES, label="CPO scope")
    cpo_scope_value = forms.CharField(required=False, max_length=64, label="CPO scope value")
    emsp_scope = forms.ChoiceField(choices=EMSP_SCOPES, label="eMSP scope")
    emsp_scope_value = forms.CharField(required=False, max_length=64, label="eMSP scope value")
    pricing = forms.ChoiceField(
        choices=[("TARIFF", "with a tariff"), ("COST_PLUS", "cost plus (retail)")],
        label="pricing",
    )
    tariff_id = forms.IntegerField(required=False, min_value=1, label="tariff")
    currency = forms.CharField(required=False, max_length=3, label="currency")
    markup_percent = _amount("mark-up %")
    markup_per_kwh = _amount("mark-up per kWh")
    margin_per_session = _amount("margin per session")
    margin_per_kwh = _amount("margin per kWh")
    valid_from = UtcDateTimeField(required=False, label="valid from")
    valid_until = UtcDateTimeField(required=False, label="valid until")
    weekdays = forms.MultipleChoiceField(
        required=False, choices=WEEKDAYS, label="weekdays", widget=forms.CheckboxSelectMultiple
    )
    time_from = forms.TimeField(required=False, label="from (local time)")
    time_until = forms.TimeField(required=False, label="until (local time)")
    exceptions = forms.CharField(
        required=False,
        label="exceptions",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='one a line: "cpo STATION 12" or "emsp USER_GROUP 3"',
    )
    reason = forms.CharField(required=False, max_length=200, label="reason")
    confirm_overlaps = forms.BooleanField(required=False, label="save despite the overlaps")

    def clean_exceptions(self) -> tuple[RuleException, ...]:
        out = []
        for n, line in enumerate(str(self.cleaned_data["exceptions"]).splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise forms.ValidationError(
                    f'line {n}: write side, scope and value, e.g. "cpo STATION 12"'
                )
            out.append(RuleException(side=parts[0].lower(), scope=parts[1].upper(), value=parts[2]))
        return tuple(out)

    def terms(self) -> BillingRuleTerms:
        d = self.cleaned_data
        mask = sum(int(v) for v in d["weekdays"]) or 127
        return BillingRuleTerms(
            cpo_scope=CpoScope(d["cpo_scope"]),
            cpo_scope_value="" if d["cpo_scope"] == "ANY" else d["cpo_scope_value"].strip(),
            emsp_scope=EmspScope(d["emsp_scope"]),
            emsp_scope_value="" if d["emsp_scope"] == "ANY" else d["emsp_scope_value"].strip(),
            pricing=RulePricing(d["pricing"]),
            tariff_id=d["tariff_id"] if d["pricing"] == "TARIFF" else None,
            currency=d["currency"].strip().upper(),
            markup_percent=d["markup_percent"],
            markup_per_kwh=d["markup_per_kwh"],
            margin_per_session=d["margin_per_session"],
            margin_per_kwh=d["margin_per_kwh"],
            valid_from=d["valid_from"],
            valid_until=d["valid_until"],
            weekdays=mask,
            time_from=d["time_from"],
            time_until=d["time_until"],
            exceptions=d["exceptions"],
        )


def initial_of(terms: BillingRuleTerms) -> dict[str, Any]:
    """The form's initial values from a version's terms (a new version, a copy)."""

    def dec(v: Decimal | None) -> str:
        return "" if v is None else f"{v.normalize():f}"

    return {
        "cpo_scope": terms.cpo_scope.value,
        "cpo_scope_value": terms.cpo_scope_value,
        "emsp_scope": terms.emsp_scope.value,
        "emsp_scope_value": terms.emsp_scope_value,
        "pricing": terms.pricing.value,
        "tariff_id": terms.tariff_id,
        "currency": terms.currency,
        "markup_percent": dec(terms.markup_percent),
        "markup_per_kwh": dec(terms.markup_per_kwh),
        "margin_per_session": dec(terms.margin_per_session),
        "margin_per_kwh": dec(terms.margin_per_kwh),
        "valid_from": terms.valid_from,
        "valid_until": terms.valid_until,
        "weekdays": [v for v, _ in WEEKDAYS if terms.weekdays & int(v)],
        "time_from": terms.time_from,
        "time_until": terms.time_until,
        "exceptions": "\n".join(f"{e.side} {e.scope} {e.value}" for e in terms.exceptions),
    }


class RuleRetireForm(forms.Form):
    effective_from = UtcDateTimeField(required=False, label="from")
    reason = forms.CharField(required=False, max_length=200, label="reason")


class RuleTesterForm(forms.Form):
    station_id = forms.IntegerField(min_value=1, label="charge station")
    token_id = forms.IntegerField(min_value=1, label="token")
    at = UtcDateTimeField(label="session start")
    engine = forms.ChoiceField(
        required=False, choices=[("", "all three"), *ENGINES], label="engine"
    )
