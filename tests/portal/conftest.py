from __future__ import annotations

import pytest

from tests.portal.world import Tenant, make_tenant, now


@pytest.fixture
def world(db: None) -> tuple[Tenant, Tenant]:
    at = now()
    return make_tenant("alpha", "AAA", now=at), make_tenant("beta", "BBB", now=at)
