from __future__ import annotations

import pytest

from tests.portal.world import Tenant, make_tenant, now


@pytest.fixture
def world(db: None) -> tuple[Tenant, Tenant]:
    at = now()
    return make_tenant("alpha", "AAA", now=at), make_tenant("beta", "BBB", now=at)


@pytest.fixture(autouse=True)
def _dashboard_uncached(settings) -> None:  # type: ignore[no-untyped-def]
    """Row ids repeat between tests on SQLite: no dashboard figures from an earlier test."""
    settings.PORTAL_DASHBOARD_CACHE_SECONDS = 0
