"""One strict rule for JSON request bodies (issue 15): a value of the wrong JSON type is
refused, never converted. DRF's fields convert (`5` to `"5"`, `"yes"` to `true`, `"7"` to
`7`); this walk over an input serializer's fields finds every value whose JSON type is not the
field's, and every key the serializer does not know, each with its JSON path. The view then
answers 422 listing them with whatever else the serializer found."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rest_framework import serializers


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _wrong(path: str, expected: str, value: Any) -> list[dict[str, str]]:
    return [{"path": path, "message": f"must be {expected}, not {_kind(value)}"}]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _scalar(field: serializers.Field, value: Any, path: str) -> list[dict[str, str]]:
    if isinstance(field, serializers.BooleanField):
        return [] if isinstance(value, bool) else _wrong(path, "true or false", value)
    if isinstance(field, serializers.ChoiceField):
        choices = list(field.choices)
        if choices and all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
            ok = isinstance(value, int) and not isinstance(value, bool)
            return [] if ok else _wrong(path, "an integer", value)
        return [] if isinstance(value, str) else _wrong(path, "a string", value)
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else _wrong(path, "an integer", value)
    if isinstance(field, serializers.DecimalField | serializers.FloatField):
        return [] if _is_number(value) else _wrong(path, "a number", value)
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateTimeField
        | serializers.DateField
        | serializers.TimeField,
    ):
        return [] if isinstance(value, str) else _wrong(path, "a string", value)
    return []  # JSONField, DictField and pass-through fields: any JSON value


def _value(field: serializers.Field, value: Any, path: str) -> list[dict[str, str]]:
    if value is None:
        return []  # null: the field's own allow_null rule answers
    if isinstance(field, serializers.ListSerializer):
        if not isinstance(value, list):
            return _wrong(path, "an array", value)
        if (child := field.child) is None:  # `many=True` always makes one; the type allows None
            return []
        return [e for i, v in enumerate(value) for e in _value(child, v, f"{path}[{i}]")]
    if isinstance(field, serializers.Serializer):
        if not isinstance(value, dict):
            return _wrong(path, "an object", value)
        return body_problems(field, value, path)
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return _wrong(path, "an array", value)
        return [e for i, v in enumerate(value) for e in _value(field.child, v, f"{path}[{i}]")]
    return _scalar(field, value, path)


def body_problems(
    serializer: serializers.Serializer,
    data: Any,
    path: str = "$",
) -> list[dict[str, str]]:
    """Every value of `data` whose JSON type is not its field's, and every unknown key."""
    if not isinstance(data, Mapping):
        return []  # not an object: the serializer says so
    fields = {name: f for name, f in serializer.fields.items() if not f.read_only}
    out = []
    for key, value in data.items():
        if key not in fields:
            out.append({"path": f"{path}.{key}", "message": "unknown field"})
        else:
            out += _value(fields[key], value, f"{path}.{key}")
    return out
