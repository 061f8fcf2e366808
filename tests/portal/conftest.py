from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.portal.world import Tenant, make_tenant, now


@pytest.fixture
def world(db: None) -> tuple[Tenant, Tenant]:
    at = now()
    return make_tenant("alpha", "AAA", now=at), make_tenant("beta", "BBB", now=at)


@pytest.fixture(autouse=True)
def _dashboard_uncached(settings) -> None:  # type: ignore[no-untyped-def]
    """Row ids repeat between tests on SQLite: no dashboard figures from an earlier test."""
    settings.PORTAL_DASHBOARD_CACHE_SECONDS = 0


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`collectstatic` as `make run` and the Dockerfile run it (production settings), once
    for the session: the manifest test and the static-serving tests read the same folder
    (each run compresses every file: over a minute on a busy machine)."""
    root = tmp_path_factory.mktemp("collected")
    env = {"DATA_DIR": str(root), "STATIC_ROOT": str(root / "static"), "DEBUG": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=django_settings.BASE_DIR,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return root / "static"
