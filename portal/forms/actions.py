"""The small forms of the portal's action buttons (block a token, unlock a sign-in, create a
tariff code, copy a tariff, assign a tariff code). Their pages redirect back with a notice,
which names the field that was wrong (`problems_in_words`)."""

from __future__ import annotations

from django import forms

from portal.forms.fields import UtcDateTimeField


def problems_in_words(form: forms.Form) -> str:
    """'<label>: <message>' for every problem of a form, one line."""
    out = [str(e) for e in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name != "__all__":
            out += [f"{form.fields[name].label}: {e}" for e in errors]
    return "; ".join(out)


class TokenValidForm(forms.Form):
    valid = forms.TypedChoiceField(
        choices=[("0", "block"), ("1", "unblock")],
        coerce=lambda v: v == "1",
        label="block or unblock",
    )


class SignInUnlockForm(forms.Form):
    username = forms.CharField(
        label="user",
        error_messages={"required": "give the e-mail address of the member to unlock"},
    )


class TariffCodeForm(forms.Form):
    code = forms.CharField(
        label="code",
        error_messages={"required": "give the code a name (e.g. AC-30)"},
    )
    tariff_id = forms.IntegerField(
        label="tariff", error_messages={"required": "choose the tariff the code stands for"}
    )
    description = forms.CharField(required=False, label="description")


class TariffCopyForm(forms.Form):
    new_id = forms.CharField(
        label="new tariff id",
        error_messages={"required": "give the copy an id (1 to 36 characters)"},
    )


class TariffAssignForm(forms.Form):
    tariff_code = forms.CharField(
        label="tariff code", error_messages={"required": "choose a tariff code"}
    )
    connector = forms.CharField(required=False, label="connector")
    effective_from = UtcDateTimeField(required=False, label="from")


IMPORT_LIMIT = 5_000_000  # bytes of one CSV upload


class TariffImportForm(forms.Form):
    """The CSV of the default tariff codes: an uploaded file (preview) or the text the
    preview carried forward (start); `text` after validation."""

    file = forms.FileField(required=False, label="CSV file")
    csv_text = forms.CharField(required=False, strip=False)
    effective_from = UtcDateTimeField(required=False, label="Applies from")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        upload = data.get("file")
        text = data.get("csv_text") or ""
        if upload is not None:
            raw = upload.read(IMPORT_LIMIT + 1)
            if len(raw) > IMPORT_LIMIT:
                self.add_error("file", "The file is larger than 5 MB; split it.")
                return data
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text: save it as CSV UTF-8.")
                return data
        if not text:
            self.add_error("file", "Choose a CSV file with lines 'station,tariff_code'.")
        data["text"] = text
        return data


class StationCommandForm(forms.Form):
    """A remote command from the station page: its kind and the fields of that kind's form
    (each optional here; the command's own rules say which it needs, naming the field)."""

    command = forms.ChoiceField(label="command")
    type = forms.CharField(required=False, label="type")
    evse_uid = forms.CharField(required=False, label="EVSE")
    operative = forms.CharField(required=False, label="availability")
    token_uid = forms.CharField(required=False, label="token")
    session_id = forms.CharField(required=False, label="session")
    key = forms.CharField(required=False, label="key")
    value = forms.CharField(required=False, label="value")

    def __init__(self, *args: object, commands: dict[str, list[str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands = commands
        self.fields["command"].choices = [(k, k) for k in commands]  # type: ignore[attr-defined]

    def params(self) -> dict[str, str]:
        """The fields of the chosen command's form, as typed (stripped)."""
        return {k: self.cleaned_data[k] for k in self.commands[self.cleaned_data["command"]]}


class FlagNoteForm(forms.Form):
    note = forms.CharField(required=False, strip=False, label="note")
