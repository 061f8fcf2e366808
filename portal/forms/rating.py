"""Forms of the rating pages: the settlement report's period and the re-rate button."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from apps.rating.contracts import SettlementSide


class SettlementForm(forms.Form):
    """The report's period `[from, to)` in whole UTC days (to: the day after the last)."""

    date_from = forms.DateField(label="from", error_messages={"required": "give the first day"})
    date_to = forms.DateField(
        label="until (excl.)", error_messages={"required": "give the day after the last"}
    )
    side = forms.ChoiceField(
        label="side",
        choices=[(s.value, s.value.lower()) for s in SettlementSide],
        required=False,
    )
    party = forms.IntegerField(label="eMSP", required=False, min_value=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: date | None = data.get("date_from")
        end: date | None = data.get("date_to")
        if start and end and end <= start:
            self.add_error("date_to", "must be after the first day")
        if start and end and (end - start).days > 366:
            self.add_error("date_to", "a report covers at most 366 days")
        data["side"] = SettlementSide(data.get("side") or SettlementSide.RECEIVABLE.value)
        return data


class RerateForm(forms.Form):
    reason = forms.CharField(
        label="reason",
        max_length=200,
        error_messages={"required": "say why the CDR is re-rated (e.g. rule fixed)"},
    )
    next = forms.CharField(required=False)
