"""Forms of the invoices pages: the list's filters, discard (a reason) and credit (a reason,
in full or the chosen lines)."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.invoicing.contracts import DocumentStatus, DocumentType

TYPE_LABELS = {
    DocumentType.CUSTOMER_INVOICE.value: "Customer invoices",
    DocumentType.EMSP_INVOICE.value: "eMSP invoices",
    DocumentType.SELF_BILLING.value: "Self-billing statements",
    DocumentType.CREDIT_NOTE.value: "Credit notes",
}
TYPE_NAMES = {
    DocumentType.CUSTOMER_INVOICE.value: "Customer invoice",
    DocumentType.EMSP_INVOICE.value: "eMSP invoice",
    DocumentType.SELF_BILLING.value: "Self-billing statement",
    DocumentType.CREDIT_NOTE.value: "Credit note",
}


class DocumentFilterForm(forms.Form):
    type = forms.ChoiceField(
        label="type", required=False, choices=[("", "all types"), *TYPE_LABELS.items()]
    )
    status = forms.ChoiceField(
        label="status",
        required=False,
        choices=[("", "any status")] + [(s.value, s.value.lower()) for s in DocumentStatus],
    )
    number = forms.CharField(label="number", required=False, max_length=40)
    counterparty = forms.CharField(label="counterparty", required=False, max_length=100)
    period = forms.RegexField(
        label="period (month)",
        required=False,
        regex=r"^\d{4}-(0[1-9]|1[0-2])$",
        error_messages={"invalid": "give a month as YYYY-MM, e.g. 2026-03"},
    )


class DiscardForm(forms.Form):
    reason = forms.CharField(
        label="reason",
        max_length=300,
        error_messages={"required": "say why the draft is discarded"},
    )


class CreditForm(forms.Form):
    reason = forms.CharField(
        label="reason", max_length=300, error_messages={"required": "say why it is credited"}
    )
    mode = forms.ChoiceField(
        label="what to credit",
        choices=[("full", "every line not credited yet"), ("lines", "the chosen lines")],
    )
    line = forms.TypedMultipleChoiceField(label="lines", required=False, coerce=int, choices=[])

    def __init__(self, *args: Any, line_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [(i, str(i)) for i in line_ids]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == "lines" and not data.get("line"):
            self.add_error("line", "choose at least one line to credit")
        return data
