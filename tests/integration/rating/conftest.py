from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.rating.selectors.rule_index import rule_cache_clear
from apps.rating.services.engines import tariff_cache_clear


@pytest.fixture(autouse=True)
def _fresh_rule_cache() -> Iterator[None]:
    """Row ids come back after a rollback (SQLite): no index or tariff of another test."""
    rule_cache_clear()
    tariff_cache_clear()
    yield
    rule_cache_clear()
    tariff_cache_clear()
