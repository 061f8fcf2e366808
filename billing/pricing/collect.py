"""Walking a JSON document and collecting every issue with its JSON path (PRICING.md 10).

The bottom of the parsers: shared by the tariff parser (``tariff_parser.py``), the CDR and
meter-values parsers (``parse.py``), the declarative checks (``checks.py``) and the OCPI
object checks (``ocpi_objects.py``), hence public names.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.pricing.model import InputIssue, PricingInputError

TIME_RE = re.compile(r"([0-1][0-9]|2[0-3]):[0-5][0-9]\Z")
DATE_RE = re.compile(r"([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\Z")
DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|\+00:00)?\Z"
)
CURRENCY_RE = re.compile(r"[A-Z]{3}\Z")

VERSIONS = ("2.2.1", "2.1.1")


def check_version(ocpi_version: str) -> None:
    if ocpi_version not in VERSIONS:
        raise PricingInputError([InputIssue("$", f"unsupported OCPI version {ocpi_version!r}")])


def check_time_zone(name: Any, path: str = "$.time_zone") -> str:
    if not isinstance(name, str) or not name:
        raise PricingInputError([InputIssue(path, "an IANA time zone is required")])
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PricingInputError([InputIssue(path, f"unknown IANA time zone {name!r}")]) from None
    return name


class Collector:
    """Collects issues while walking a JSON document."""

    __slots__ = ("issues", "version")

    def __init__(self, version: str) -> None:
        self.issues: list[InputIssue] = []
        self.version = version

    def add(self, path: str, message: str) -> None:
        self.issues.append(InputIssue(path, message))

    def obj(self, value: Any, path: str, allowed: frozenset[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.add(path, f"expected an object, got {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                more = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.add(f"{path}.{key}", f"unknown key{more}")
        return value

    def required(self, data: Mapping[str, Any], key: str, path: str) -> Any:
        value = data.get(key)
        if value is None:
            self.add(f"{path}.{key}", "required")
        return value

    def string(self, value: Any, path: str, max_len: int | None = None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(path, f"expected a string, got {_kind(value)}")
            return None
        if max_len is not None and len(value) > max_len:
            self.add(path, f"longer than {max_len} characters")
        return value

    def number(self, value: Any, path: str, *, minimum: Decimal | None = None) -> Decimal | None:
        if value is None:
            return None
        result: Decimal | None = None
        if isinstance(value, bool):
            result = None
        elif isinstance(value, Decimal):
            result = value
        elif isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, str) and self.version == "2.1.1":
            # The 2.1.1 spec's own CDR example writes a price as a string ("2.00").
            try:
                result = Decimal(value)
            except InvalidOperation:
                result = None
        if result is None or not result.is_finite():
            self.add(path, f"expected a number, got {_kind(value)}")
            return None
        if minimum is not None and result < minimum:
            self.add(path, f"must be >= {minimum}, got {result}")
        return result

    def integer(self, value: Any, path: str, *, minimum: int | None = None) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
            self.add(path, f"expected an integer, got {_kind(value)}")
            return None
        if isinstance(value, float | Decimal):
            if value != int(value):
                self.add(path, f"expected an integer, got {value}")
                return None
            value = int(value)
        if minimum is not None and value < minimum:
            self.add(path, f"must be >= {minimum}, got {value}")
        return int(value)

    def datetime(self, value: Any, path: str) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=dt.UTC)
            return value
        if not isinstance(value, str) or not DATETIME_RE.match(value):
            self.add(
                path, f"expected an OCPI DateTime in UTC (e.g. 2015-06-29T20:39:09Z), got {value!r}"
            )
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.add(path, f"invalid date-time {value!r}")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed

    def list_(self, value: Any, path: str, *, non_empty: bool) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            self.add(path, f"expected a list, got {_kind(value)}")
            return []
        if non_empty and not value:
            self.add(path, "must not be empty")
        return list(value)

    def enum(self, value: Any, path: str, choices: frozenset[str] | tuple[str, ...]) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in choices:
            self.add(path, f"must be one of {', '.join(sorted(choices))}; got {value!r}")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, bool):
            self.add(path, f"expected true or false, got {_kind(value)}")
            return None
        return value

    def raise_if_any(self) -> None:
        if self.issues:
            raise PricingInputError(self.issues)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, int | float | Decimal):
        return f"number {value}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
