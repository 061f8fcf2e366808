"""Forms of the eMSP roaming page: a command to a CPO partner, a reconciliation period."""

from __future__ import annotations

from typing import Any

from django import forms

COMMAND_CHOICES = [
    (c, c.replace("_", " ").capitalize())
    for c in (
        "START_SESSION",
        "STOP_SESSION",
        "RESERVE_NOW",
        "CANCEL_RESERVATION",
        "UNLOCK_CONNECTOR",
    )
]


class CommandForm(forms.Form):
    connection = forms.TypedChoiceField(coerce=int, label="CPO partner")
    command = forms.ChoiceField(choices=COMMAND_CHOICES, label="Command")
    token_id = forms.IntegerField(required=False, min_value=1, label="Token (platform id)")
    location_id = forms.CharField(max_length=36, required=False, label="Location id")
    evse_uid = forms.CharField(max_length=36, required=False, label="EVSE uid")
    connector_id = forms.CharField(max_length=36, required=False, label="Connector id")
    session_id = forms.CharField(max_length=36, required=False, label="Session id")
    reservation_id = forms.CharField(max_length=36, required=False, label="Reservation id")
    expiry_date = forms.DateTimeField(required=False, label="Reservation expires (UTC)")

    def __init__(self, *args: object, connections: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["connection"].choices = connections  # type: ignore[attr-defined]


class ReconciliationForm(forms.Form):
    connection = forms.TypedChoiceField(coerce=int, label="CPO partner")
    period_from = forms.DateField(label="Received from (UTC, inclusive)")
    period_to = forms.DateField(label="Received to (UTC, exclusive)")

    def __init__(self, *args: object, connections: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["connection"].choices = connections  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        a, b = data.get("period_from"), data.get("period_to")
        if a and b and b <= a:
            self.add_error("period_to", "must be after the start")
        return data
