"""Billing rules on the REST API: the terms of a version in (flat: the service names problems
by these field names), rules with their versions out, overlaps and the tester."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from rest_framework import serializers

from apps.rating.contracts import (
    BillingRuleRecord,
    BillingRuleTerms,
    BillingRuleVersionRecord,
    CpoScope,
    EmspScope,
    RuleException,
    RuleOverlap,
    RulePricing,
    RuleTestResult,
)
from apps.tariffs.contracts import BillingEngine
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, array_of

_ENGINES = [e.value for e in BillingEngine]
TERM_FIELDS = [f.name for f in fields(BillingRuleTerms)]


def _decimal(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=18,
        decimal_places=4,
        coerce_to_string=False,
        allow_null=True,
        required=False,
        help_text=help_text,
    )


class RuleExceptionIn(serializers.Serializer):
    side = serializers.ChoiceField(choices=["cpo", "emsp"])
    scope = serializers.CharField(max_length=16, help_text="a CPO or eMSP scope, not ANY")
    value = serializers.CharField(max_length=64, allow_blank=True)


class RuleTermsIn(serializers.Serializer):
    """What a version of a rule says. Defaults: ANY scopes, TARIFF pricing, every day."""

    cpo_scope = serializers.ChoiceField(choices=[s.value for s in CpoScope], default="ANY")
    cpo_scope_value = serializers.CharField(
        max_length=64,
        allow_blank=True,
        default="",
        help_text="COUNTRY: ISO 3166-1 alpha-3 (the location's country, e.g. NLD); else the "
        "platform id of the CPO party, location, charge station or tariff code",
    )
    emsp_scope = serializers.ChoiceField(choices=[s.value for s in EmspScope], default="ANY")
    emsp_scope_value = serializers.CharField(
        max_length=64,
        allow_blank=True,
        default="",
        help_text="the platform id of the eMSP party, contract (version), retail package or "
        "user group",
    )
    pricing = serializers.ChoiceField(choices=[p.value for p in RulePricing], default="TARIFF")
    tariff_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        default=None,
        help_text="a tariff of the rule's engine",
    )
    currency = serializers.CharField(
        max_length=3,
        allow_blank=True,
        default="",
        help_text="of the amounts below (default: the tariff's; it must be the tariff's)",
    )
    markup_percent = _decimal("RETAIL COST_PLUS: percent added to the wholesale price")
    markup_per_kwh = _decimal("RETAIL COST_PLUS: amount added per kWh")
    margin_per_session = _decimal("REIMBURSEMENT: the payer's margin per session")
    margin_per_kwh = _decimal("REIMBURSEMENT: the payer's margin per kWh")
    valid_from = serializers.DateTimeField(allow_null=True, default=None)
    valid_until = serializers.DateTimeField(allow_null=True, default=None, help_text="exclusive")
    weekdays = serializers.IntegerField(
        default=127,
        min_value=-(2**31),
        max_value=2**31 - 1,
        help_text="bit mask, Monday 1 ... Sunday 64 (127: every day)",
    )
    time_from = serializers.TimeField(
        allow_null=True, default=None, help_text="local time of the location"
    )
    time_until = serializers.TimeField(
        allow_null=True,
        default=None,
        help_text="exclusive; not after time_from: the window runs over midnight",
    )
    exceptions = array_of(RuleExceptionIn, required=False, max_length=100)


def terms_dict(terms: BillingRuleTerms) -> dict[str, Any]:
    """The terms as a body would give them (for a copy: the source's, then the changes)."""
    return {**asdict(terms), "exceptions": [asdict(e) for e in terms.exceptions]}


def terms_of(data: dict[str, Any]) -> BillingRuleTerms:
    """The terms in a validated body (other keys ignored)."""
    values = {k: data[k] for k in TERM_FIELDS if k in data}
    if "exceptions" in values:
        values["exceptions"] = tuple(RuleException(**e) for e in values["exceptions"])
    for key, enum in (("cpo_scope", CpoScope), ("emsp_scope", EmspScope), ("pricing", RulePricing)):
        if key in values:
            values[key] = enum(values[key])
    return BillingRuleTerms(**values)


class _Change(serializers.Serializer):
    effective_from = serializers.DateTimeField(
        required=False,
        help_text="sessions that start at or after it (default: now); a new version must "
        "start after the rule's latest",
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    confirm_overlaps = serializers.BooleanField(
        default=False,
        help_text="save although other rules may cover the same sessions (else 409 naming them)",
    )


class BillingRuleIn(RuleTermsIn, _Change):
    engine = serializers.ChoiceField(choices=_ENGINES)
    name = serializers.CharField(max_length=200)


class BillingRuleVersionIn(RuleTermsIn, _Change):
    pass


class BillingRuleRetireIn(serializers.Serializer):
    effective_from = serializers.DateTimeField(required=False, help_text="default: now")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class BillingRuleCopyIn(_Change):
    """A new rule from the version in force of another; any terms given replace that
    version's."""

    name = serializers.CharField(max_length=200)

    def get_fields(self) -> dict[str, serializers.Field]:
        out = super().get_fields()
        for name, field in RuleTermsIn().get_fields().items():
            field.required = False
            field.default = serializers.empty
            out[name] = field
        return out


class BillingRuleOverlapsIn(RuleTermsIn):
    engine = serializers.ChoiceField(choices=_ENGINES)
    effective_from = serializers.DateTimeField(required=False, help_text="default: now")
    rule_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="the draft is a new version of this rule (its own versions are not compared)",
    )


class BillingRuleTestIn(serializers.Serializer):
    station_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    token_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    at = serializers.DateTimeField(help_text="the session start")
    engine = serializers.ChoiceField(
        choices=_ENGINES, required=False, help_text="default: all three"
    )


class BillingRuleListQuery(PageQuery):
    engine = serializers.ChoiceField(choices=_ENGINES, required=False)
    include_retired = serializers.BooleanField(
        required=False, default=False, help_text="also list retired rules"
    )


# --- out -------------------------------------------------------------------------------------


class RuleExceptionOut(serializers.Serializer):
    side = serializers.CharField()
    scope = serializers.CharField()
    value = serializers.CharField()


class BillingRuleVersionOut(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    effective_from = serializers.DateTimeField()
    effective_until = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()
    tariff_name = serializers.CharField()
    reason = serializers.CharField()
    cpo_scope = serializers.CharField()
    cpo_scope_value = serializers.CharField()
    emsp_scope = serializers.CharField()
    emsp_scope_value = serializers.CharField()
    pricing = serializers.CharField()
    tariff_id = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()
    markup_percent = _decimal("")
    markup_per_kwh = _decimal("")
    margin_per_session = _decimal("")
    margin_per_kwh = _decimal("")
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    weekdays = serializers.IntegerField()
    time_from = serializers.TimeField(allow_null=True)
    time_until = serializers.TimeField(allow_null=True)
    exceptions = RuleExceptionOut(many=True)


class BillingRuleOut(serializers.Serializer):
    id = serializers.IntegerField()
    engine = serializers.CharField()
    name = serializers.CharField()
    active = serializers.BooleanField(help_text="the version in force now is active")
    current_version = serializers.IntegerField()
    versions = BillingRuleVersionOut(many=True)


def version_out(v: BillingRuleVersionRecord) -> dict[str, Any]:
    terms = asdict(v.terms)
    return BillingRuleVersionOut(
        {
            "id": v.id,
            "version": v.version,
            "effective_from": v.effective_from,
            "effective_until": v.effective_until,
            "active": v.active,
            "tariff_name": v.tariff_name,
            "reason": v.reason,
            **terms,
        }
    ).data


def rule_out(record: BillingRuleRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "engine": record.engine.value,
        "name": record.name,
        "active": record.active,
        "current_version": record.current.version,
        "versions": [version_out(v) for v in record.versions],
    }


class RuleItems:
    """`paginate`'s item for rules."""

    def __init__(self, rows: list[BillingRuleRecord], many: bool = True) -> None:
        self.data = [rule_out(r) for r in rows]


class RuleOverlapOut(serializers.Serializer):
    rule_id = serializers.IntegerField()
    rule_name = serializers.CharField()
    version_id = serializers.IntegerField()
    version = serializers.IntegerField()
    effective_from = serializers.DateTimeField()
    effective_until = serializers.DateTimeField(allow_null=True)


class RuleOverlapsOut(serializers.Serializer):
    overlaps = RuleOverlapOut(many=True)


def overlaps_out(found: tuple[RuleOverlap, ...]) -> dict[str, Any]:
    return {"overlaps": RuleOverlapOut([asdict(o) for o in found], many=True).data}


class RuleFactOut(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField()


class RuleTestResultOut(serializers.Serializer):
    engine = serializers.CharField()
    rule_id = serializers.IntegerField(allow_null=True)
    rule_name = serializers.CharField()
    version_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_null=True, help_text="NO_RULE or AMBIGUOUS_RULES")
    candidates = serializers.ListField(child=serializers.IntegerField())


class RuleTestOut(serializers.Serializer):
    facts = RuleFactOut(many=True)
    results = RuleTestResultOut(many=True)


def tester_out(results: tuple[RuleTestResult, ...]) -> dict[str, Any]:
    facts = results[0].facts if results else ()
    return {
        "facts": [{"name": n, "value": v} for n, v in facts],
        "results": [
            {
                "engine": r.engine.value,
                "rule_id": r.rule_id,
                "rule_name": r.rule_name,
                "version_id": r.version_id,
                "reason": r.reason,
                "candidates": list(r.candidates),
            }
            for r in results
        ],
    }
