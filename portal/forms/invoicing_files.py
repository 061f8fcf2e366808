"""The form of a document's files panel: send it (again), to its own or another address."""

from __future__ import annotations

from django import forms


class ResendForm(forms.Form):
    to_email = forms.EmailField(
        label="address",
        required=False,
        max_length=254,
        error_messages={"invalid": "enter a valid e-mail address, e.g. finance@example.com"},
    )
