"""Form fields the portal's pages share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """An `<input type=datetime-local>` value as a naive datetime (the page says in which
    time zone it is read)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        try:
            return datetime.fromisoformat(str(value).strip()).replace(tzinfo=None)
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcDateTimeField(LocalDateTimeField):
    """An `<input type=datetime-local>` value read as UTC (the portal's forms say "UTC")."""

    def to_python(self, value: Any) -> datetime | None:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value
        parsed = super().to_python(value)
        return None if parsed is None else parsed.replace(tzinfo=UTC)
