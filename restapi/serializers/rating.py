"""Rated lines and the settlement report (scope `rated_lines`), and the report's CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

from apps.rating import api as rating_api
from apps.rating.contracts import (
    EngineTotal,
    LineKind,
    RatedLineRow,
    RatingFlagRow,
    SettlementReport,
    SettlementSide,
)
from apps.tariffs.contracts import BillingEngine
from restapi.json import dumps
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, money, volume

DIMENSIONS = ("fixed", "energy", "time", "parking", "reservation", "adjustment")


class Amounts(serializers.Serializer):
    fixed = money()
    energy = money()
    time = money()
    parking = money()
    reservation = money()
    adjustment = money()  # the rule's mark-up (+) or margin (-)


class ExactAmounts(serializers.Serializer):
    fixed = volume(8)
    energy = volume(8)
    time = volume(8)
    parking = volume(8)
    reservation = volume(8)
    adjustment = volume(8)


class RatedLineOut(serializers.Serializer):
    """One rated line (append-only). A REVERSAL negates the line it `reverses`; the sum of a
    CDR's lines per engine is what it is worth now. `rule_id` / `rule_version` are null on
    a wholesale line the caller's tenant buys on the marketplace (the seller's internals)."""

    id = serializers.IntegerField()
    cdr_id = serializers.IntegerField()
    engine = serializers.ChoiceField(choices=[e.value for e in BillingEngine])
    seq = serializers.IntegerField(help_text="1, 2, ... per CDR and engine")
    kind = serializers.ChoiceField(choices=[k.value for k in LineKind])
    reverses_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    viewer_side = serializers.ChoiceField(
        choices=["SELLER", "BUYER"], help_text="SELLER: your tenant rated it; BUYER: you pay it"
    )
    seller = serializers.CharField(help_text='"NL*AAA" or the payee\'s name')
    seller_party_id = serializers.IntegerField(allow_null=True)
    seller_payee_id = serializers.IntegerField(allow_null=True)
    buyer = serializers.CharField(help_text='"NL*BBB" or the customer\'s name')
    buyer_party_id = serializers.IntegerField(allow_null=True)
    buyer_customer_id = serializers.IntegerField(allow_null=True)
    buyer_tenant_id = serializers.IntegerField(allow_null=True)
    own_charge = serializers.BooleanField(help_text="CPO and eMSP are one: never invoiced")
    rule_id = serializers.IntegerField(allow_null=True)
    rule = serializers.CharField(allow_null=True)
    rule_version = serializers.IntegerField(allow_null=True)
    tariff = serializers.CharField(allow_null=True, help_text="the tariff's OCPI id")
    tariff_version = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()
    rounding_mode = serializers.CharField()
    energy_kwh = volume(6)
    time_hours = volume(6)
    parking_hours = volume(6)
    amounts = Amounts(help_text="rounded to the currency's minor unit")
    exact = ExactAmounts(help_text="before rounding")
    total_excl_vat = money()
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    vat_source = serializers.CharField(help_text="TARIFF, CPO_CONTRACT, PARTY or HCC_EXEMPT")
    vat_exemption_reason = serializers.CharField()
    vat = money()
    total_incl_vat = money()
    hcc = serializers.CharField()
    rated_by = serializers.CharField()
    created_at = serializers.DateTimeField()


def rated_line_object(row: RatedLineRow) -> dict[str, Any]:
    return asdict(row)


class Total(serializers.Serializer):
    currency = serializers.CharField()
    total_excl_vat = money()
    vat = money()
    total_incl_vat = money()


def total_object(t: EngineTotal) -> dict[str, Any]:
    return asdict(t)


class RatingFlagOut(serializers.Serializer):
    id = serializers.IntegerField()
    cdr_id = serializers.IntegerField()
    engine = serializers.CharField()
    reason = serializers.CharField()
    rule_ids = serializers.ListField(child=serializers.IntegerField())
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    flagged_at = serializers.DateTimeField()
    next_retry_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)


def flag_object(f: RatingFlagRow) -> dict[str, Any]:
    return {
        "id": f.id,
        "cdr_id": f.cdr_id,
        "engine": f.engine,
        "reason": f.reason,
        "rule_ids": list(f.rule_ids),
        "status": f.status,
        "attempts": f.attempts,
        "flagged_at": f.flagged_at,
        "next_retry_at": f.next_retry_at,
        "closed_at": f.closed_at,
    }


class EngineViewOut(serializers.Serializer):
    engine = serializers.CharField()
    lines = RatedLineOut(many=True, help_text="oldest first, reversals included")
    totals = Total(many=True, help_text="the sum in force, per currency")
    flags = RatingFlagOut(many=True)


class CdrRatedLinesOut(serializers.Serializer):
    cdr_id = serializers.IntegerField()
    engines = EngineViewOut(
        many=True,
        help_text="only the engines your tenant may see: RETAIL, WHOLESALE, REIMBURSEMENT",
    )


class RatedLineListQuery(PageQuery):
    engine = serializers.ChoiceField(choices=[e.value for e in BillingEngine], required=False)
    cdr_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    # `from` is a Python keyword: declared through the class namespace.
    locals()["from"] = serializers.DateTimeField(
        required=False, help_text="rated (created_at) at or after (UTC)"
    )
    locals()["to"] = serializers.DateTimeField(
        required=False, help_text="rated (created_at) before (UTC)"
    )


class SettlementQuery(serializers.Serializer):
    locals()["from"] = serializers.DateTimeField(help_text="period start, inclusive (UTC)")
    locals()["to"] = serializers.DateTimeField(help_text="period end, exclusive (UTC)")
    emsp = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="one counterparty's party id (the eMSP; the CPO for side=PAYABLE)",
    )
    side = serializers.ChoiceField(
        choices=[s.value for s in SettlementSide],
        required=False,
        default=SettlementSide.RECEIVABLE.value,
    )
    format = serializers.ChoiceField(
        choices=["json", "csv"], required=False, help_text="csv: the report as CSV (or Accept)"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["to"] <= attrs["from"]:
            raise serializers.ValidationError({"to": ["must be after from"]})
        if (attrs["to"] - attrs["from"]).days > 366:
            raise serializers.ValidationError({"to": ["a report covers at most 366 days"]})
        return attrs


class SettlementRowOut(serializers.Serializer):
    party_id = serializers.IntegerField(allow_null=True)
    party = serializers.CharField()
    party_name = serializers.CharField()
    currency = serializers.CharField()
    own_charge = serializers.BooleanField(help_text="apart; in no total, never invoiced")
    cdrs = serializers.IntegerField()
    energy_kwh = volume(6)
    total_excl_vat = money()
    vat = money()
    total_incl_vat = money()


class SettlementOut(serializers.Serializer):
    side = serializers.ChoiceField(choices=[s.value for s in SettlementSide])
    period_from = serializers.DateTimeField()
    period_to = serializers.DateTimeField()
    rows = SettlementRowOut(many=True)
    totals = Total(many=True, help_text="per currency, own charge excluded")


def settlement_object(report: SettlementReport) -> dict[str, Any]:
    return {
        "side": report.side.value,
        "period_from": report.period_from,
        "period_to": report.period_to,
        "rows": [asdict(r) for r in report.rows],
        "totals": [asdict(t) for t in report.totals],
    }


class SettlementCsvRenderer(BaseRenderer):
    """`text/csv` (Accept, or `?format=csv`): the data is the report's rows as lists."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Any = None,
    ) -> bytes:
        if not isinstance(data, list):  # a problem (bad query, no access): problem+json
            return dumps(data)
        buffer = io.StringIO()
        csv.writer(buffer).writerows(data)
        return buffer.getvalue().encode()


def settlement_csv(report: SettlementReport) -> list[list[str]]:
    return list(rating_api.settlement_csv_rows(report))
