"""Shared fixtures of the pricing unit tests (pure Python, no Django, no database)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billing.pricing import Tariff, parse_tariff

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pricing"


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"), parse_float=Decimal)


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    return load_json


@pytest.fixture
def spec_tariff() -> Callable[[str], Tariff]:
    def load(name: str, version: str = "2.2.1") -> Tariff:
        return parse_tariff(load_json(f"tariffs/{name}"), ocpi_version=version)

    return load
