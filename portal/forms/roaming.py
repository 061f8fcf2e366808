"""The roaming connection forms (issue 19): connect to a partner with its versions URL and
token A, or invite one (we issue token A)."""

from __future__ import annotations

from django import forms


class ConnectForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
    versions_url = forms.URLField(
        max_length=500, label="Partner's versions URL", assume_scheme="https"
    )
    token_a = forms.CharField(
        max_length=255, label="Token A (from the partner)", strip=True, widget=forms.PasswordInput
    )
    auth_base64 = forms.BooleanField(
        required=False,
        initial=True,
        label="Base64 Authorization header (OCPI 2.2.1; the other form is tried if refused)",
    )


class InviteForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
