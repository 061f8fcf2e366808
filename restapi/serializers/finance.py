"""The finance export (scope `finance`): GL mapping, exclusions, adjustments, the preview and
export batches."""

from __future__ import annotations

from typing import Any

from moneyed import CurrencyDoesNotExist, get_currency
from rest_framework import serializers

from apps.invoicing import api as invoicing_api
from apps.invoicing.contracts import ExclusionKind, ExportFileKind, GlComponent, GlRole
from apps.tariffs.contracts import BillingEngine
from restapi.pagination import PageQuery
from restapi.serializers.common import money, volume

_PERIOD_HELP = "UTC; [period_start, period_end)"


class GlMappingIn(serializers.Serializer):
    engine = serializers.ChoiceField(
        choices=["", *(e.value for e in BillingEngine)], required=False, default=""
    )
    role = serializers.ChoiceField(choices=[r.value for r in GlRole])
    component = serializers.ChoiceField(choices=[c.value for c in GlComponent])
    vat_category = serializers.ChoiceField(
        choices=["", "S", "Z", "E", "AE", "O"], required=False, default=""
    )
    account = serializers.CharField(max_length=32)
    cost_centre = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    description = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True
    )


class GlMappingOut(serializers.Serializer):
    id = serializers.IntegerField()
    engine = serializers.CharField(help_text="empty: any engine")
    role = serializers.CharField()
    component = serializers.CharField()
    vat_category = serializers.CharField(help_text="empty: any category")
    account = serializers.CharField()
    cost_centre = serializers.CharField()
    description = serializers.CharField()


class GlMappingListOut(serializers.Serializer):
    locals()["data"] = GlMappingOut(many=True)  # `data` is a Serializer property


class ExclusionIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in ExclusionKind])
    value = serializers.CharField(
        max_length=64, help_text="the account code, or the customer / party / payee id"
    )
    reason = serializers.CharField(max_length=300)


class ExclusionOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField()
    created_by_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    retired_at = serializers.DateTimeField(allow_null=True)
    retired_by_name = serializers.CharField()


class ExclusionListOut(serializers.Serializer):
    locals()["data"] = ExclusionOut(many=True)  # `data` is a Serializer property


class AdjustmentIn(serializers.Serializer):
    period_start = serializers.DateTimeField(help_text=_PERIOD_HELP)
    period_end = serializers.DateTimeField(help_text=_PERIOD_HELP)
    amount = serializers.DecimalField(
        max_digits=18,
        decimal_places=4,
        coerce_to_string=False,
        help_text="positive: a debit on the account; negative: a credit",
    )
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    account = serializers.CharField(max_length=32)
    cost_centre = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    vat_class = serializers.CharField(max_length=8, required=False, default="", allow_blank=True)
    counterparty = serializers.CharField(
        max_length=100, required=False, default="", allow_blank=True
    )
    reason = serializers.CharField(max_length=300)

    def validate_currency(self, value: str) -> str:
        try:
            get_currency(value)
        except CurrencyDoesNotExist:
            raise serializers.ValidationError("not an ISO 4217 currency code") from None
        return value


class AdjustmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    amount = money()
    currency = serializers.CharField()
    account = serializers.CharField()
    cost_centre = serializers.CharField()
    vat_class = serializers.CharField()
    counterparty = serializers.CharField()
    reason = serializers.CharField()
    author_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    batch_number = serializers.IntegerField(allow_null=True, help_text="null: not exported yet")


class AdjustmentListQuery(PageQuery):
    pass


class PeriodQuery(serializers.Serializer):
    period_start = serializers.DateTimeField(help_text=_PERIOD_HELP)
    period_end = serializers.DateTimeField(help_text=_PERIOD_HELP)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["period_end"] <= attrs["period_start"]:
            raise serializers.ValidationError({"period_end": ["must be after period_start"]})
        return attrs


class PostIn(PeriodQuery):
    dry_run = serializers.BooleanField(required=False, default=False)


class JournalLineOut(serializers.Serializer):
    line = serializers.IntegerField()
    role = serializers.CharField(help_text="REVENUE, COST or MANUAL (an adjustment)")
    component = serializers.CharField()
    account = serializers.CharField()
    cost_centre = serializers.CharField()
    vat_class = serializers.CharField()
    counterparty = serializers.CharField(help_text="CUSTOMER:<id>, PARTY:<id>, PAYEE:<id>")
    currency = serializers.CharField()
    debit = serializers.CharField()
    credit = serializers.CharField()
    kwh = serializers.CharField(help_text="on ENERGY lines only")
    rated_lines = serializers.IntegerField()
    cdr_ids = serializers.ListField(child=serializers.IntegerField())
    adjustment_ids = serializers.ListField(child=serializers.IntegerField())


class TotalOut(serializers.Serializer):
    key = serializers.CharField()
    currency = serializers.CharField()
    debit = money()
    credit = money()
    kwh = volume(6)
    lines = serializers.IntegerField()


class ExcludedOut(serializers.Serializer):
    exclusion_id = serializers.IntegerField()
    kind = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField()
    currency = serializers.CharField()
    amount = money()
    rated_lines = serializers.IntegerField()


class PreviewOut(serializers.Serializer):
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    cutoff = serializers.DateTimeField()
    journal = JournalLineOut(many=True)
    per_account = TotalOut(many=True)
    per_cost_centre = TotalOut(many=True)
    per_vat_class = TotalOut(many=True)
    per_counterparty = TotalOut(many=True)
    totals = serializers.DictField(child=serializers.DictField(child=serializers.CharField()))
    excluded = ExcludedOut(many=True)
    adjustments = AdjustmentOut(many=True)
    own_charge_lines = serializers.IntegerField(help_text="own-charge lines: never revenue")
    rated_lines = serializers.IntegerField()
    cdr_count = serializers.IntegerField()
    unmapped = serializers.BooleanField(help_text="some amounts book to UNMAPPED")


class ExportFileOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in ExportFileKind])
    filename = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()


class ExportBatchOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    cutoff = serializers.DateTimeField()
    posted_by_name = serializers.CharField()
    line_count = serializers.IntegerField()
    cdr_count = serializers.IntegerField()
    energy_kwh = volume(6)
    totals = serializers.DictField()
    created_at = serializers.DateTimeField()
    files = ExportFileOut(many=True)


class ExportBatchListQuery(PageQuery):
    pass


class PostOut(serializers.Serializer):
    dry_run = serializers.BooleanField()
    existing = serializers.BooleanField(help_text="the period was posted before: that batch")
    number = serializers.IntegerField()
    batch = ExportBatchOut(allow_null=True)
    preview = PreviewOut(allow_null=True)
    files = ExportFileOut(many=True)


def _totals(groups: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "key": key,
            "currency": cur,
            "debit": t.debit,
            "credit": t.credit,
            "kwh": t.kwh,
            "lines": t.lines,
        }
        for key, per in groups.items()
        for cur, t in per.items()
    ]


def preview_out(p: Any) -> dict[str, Any]:
    return {
        "period_start": p.period_start,
        "period_end": p.period_end,
        "cutoff": p.cutoff,
        "journal": invoicing_api.finance_journal_json(p),
        "per_account": _totals(p.per_account),
        "per_cost_centre": _totals(p.per_cost_centre),
        "per_vat_class": _totals(p.per_vat_class),
        "per_counterparty": _totals(p.per_counterparty),
        "totals": p.totals,
        "excluded": [vars_of(e) for e in p.excluded],
        "adjustments": [vars_of(a) for a in p.adjustments],
        "own_charge_lines": p.own_charge_lines,
        "rated_lines": p.rated_lines,
        "cdr_count": len(p.cdr_ids),
        "unmapped": p.unmapped,
    }


def vars_of(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}


def batch_out(b: Any) -> dict[str, Any]:
    out = vars_of(b)
    out["files"] = [vars_of(f) for f in b.files]
    return out


def post_out(r: Any) -> dict[str, Any]:
    return {
        "dry_run": r.dry_run,
        "existing": r.existing,
        "number": r.number,
        "batch": batch_out(r.batch) if r.batch is not None else None,
        "preview": preview_out(r.preview) if r.preview is not None else None,
        "files": [
            {"kind": f.kind, "filename": f.filename, "sha256": f.sha256, "size": f.size}
            for f in r.files
        ],
    }
