"""The sign-in forms: e-mail and password, then the authenticator's (or a recovery) code.

Their messages are deliberately not per field: a sign-in page must not say which of the two
was wrong (it would tell who has an account). The throttle (`parties.sign_in_check`) decides
what the page answers; these forms only read the input's shape.
"""

from __future__ import annotations

from typing import Any

from django import forms

MISSING_CREDENTIALS = "Enter your e-mail address and your password."


class SignInForm(forms.Form):
    email = forms.CharField(required=False)
    password = forms.CharField(required=False, strip=False)
    next = forms.CharField(required=False, max_length=2048)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("email") or not data.get("password"):
            raise forms.ValidationError(MISSING_CREDENTIALS)
        return data


class CodeForm(forms.Form):
    """A 6-digit TOTP code or a recovery code; spaces people type are dropped."""

    code = forms.CharField(required=False, max_length=64)

    def clean_code(self) -> str:
        return str(self.cleaned_data.get("code") or "").replace(" ", "")
