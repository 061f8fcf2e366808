"""Real Chromium (Debian's `chromium`, never a browser downloaded by Playwright) against a
live portal server on the test database.

Skipped with a reason only when chromium is absent and CI is not true; under CI=true a
missing chromium fails the run (`.ci/run` installs it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright's sync API runs an event loop in this thread; the test's ORM calls are plain
# synchronous code all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# Module scope, not session: while Playwright's sync API is open it runs an event loop in this
# thread, and later tests that call asyncio.run() (the gateway's) must not find it running.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if _ci():
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium", False)
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); required when CI=true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def artefacts(settings: Any) -> Path:
    path = Path(settings.DATA_DIR) / "artefacts" / "portal"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def sign_in_as(page: Any, live_server: Any, user: Any) -> None:
    """Put a two-factor session's cookie into the browser (the sign-in itself has its own
    browser test)."""
    from urllib.parse import urlparse

    from tests.portal.world import signed_in_client

    client = signed_in_client(user)
    host = urlparse(live_server.url).hostname
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "domain": host,
                "path": "/",
            }
        ]
    )


@pytest.fixture(autouse=True)
def _dashboard_uncached(settings: Any) -> None:
    settings.PORTAL_DASHBOARD_CACHE_SECONDS = 0
