"""Static files under Django's ASGI handler (what uvicorn runs in `make run` and production):
the collected, hashed and compressed files are served with their cache headers, and without
Django's warning that a streaming response had to consume a synchronous iterator (WhiteNoise
served files that way: the first stylesheet of `make run` printed that warning)."""

from __future__ import annotations

import gc
import gzip
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from config.env import BASE_DIR
from tests.asgi import asgi_get

IMMUTABLE = "max-age=315360000, public, immutable"


@pytest.fixture
def collected(collected_static: Path) -> Path:
    return collected_static


@pytest.fixture
def production_static(collected: Path, settings: Any) -> dict[str, str]:
    """The production static settings over the collected folder; the manifest's names."""
    from config import settings as project_settings

    settings.DEBUG = False
    settings.STATIC_ROOT = str(collected)
    settings.STORAGES = project_settings.STORAGES
    manifest = json.loads((collected / "staticfiles.json").read_text())
    return dict(manifest["paths"])


Served = tuple[int, dict[str, str], bytes, list[str]]  # status, headers, body, warnings


def _get(path: str, headers: list[tuple[bytes, bytes]]) -> Served:
    # Earlier tests' garbage (their event loops) would warn when the collector happens to run
    # during this request: collect it first, and leave the collector's ResourceWarnings out.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="unclosed event loop", category=ResourceWarning)
        sent = asgi_get(path, headers)
    start = sent[0]
    assert start["type"] == "http.response.start"
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:] if m["type"] == "http.response.body")
    assert sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body", False)
    return start["status"], response_headers, body, [str(w.message) for w in caught]


def test_a_hashed_stylesheet_is_served_whole_with_no_warning(
    collected: Path, production_static: dict[str, str]
) -> None:
    hashed = production_static["portal/portal.css"]
    assert hashed != "portal/portal.css" and hashed.startswith("portal/portal.")
    status, headers, body, caught = _get(f"/static/{hashed}", [])
    assert caught == []
    assert status == 200
    assert body == (collected / hashed).read_bytes() and len(body) > 100
    assert headers["content-type"].startswith("text/css")
    assert headers["content-length"] == str(len(body))
    assert headers["cache-control"] == IMMUTABLE
    assert "content-encoding" not in headers


def test_the_gzip_copy_is_served_to_a_client_that_accepts_it_with_no_warning(
    collected: Path, production_static: dict[str, str]
) -> None:
    hashed = production_static["portal/vendor/htmx-2.0.11/htmx.min.js"]
    status, headers, body, caught = _get(f"/static/{hashed}", [(b"accept-encoding", b"gzip")])
    assert caught == []
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["cache-control"] == IMMUTABLE
    assert "accept-encoding" in headers["vary"].lower()
    source = BASE_DIR / "portal" / "static" / "portal" / "vendor" / "htmx-2.0.11" / "htmx.min.js"
    assert gzip.decompress(body) == source.read_bytes()


def test_an_unhashed_name_is_served_with_a_short_cache_and_a_missing_file_is_a_404(
    collected: Path, production_static: dict[str, str]
) -> None:
    status, headers, body, caught = _get("/static/portal/favicon.svg", [])
    assert caught == []
    assert status == 200
    assert body == (BASE_DIR / "portal" / "static" / "portal" / "favicon.svg").read_bytes()
    assert headers["cache-control"] == "max-age=60, public"
    status, _, _, caught = _get("/static/portal/no-such-file.css", [])
    assert (status, caught) == (404, [])


def test_with_debug_files_come_from_the_app_folders_uncached_with_no_warning(settings) -> None:
    settings.DEBUG = True  # no collectstatic: the conftest's plain storage, the finders
    status, headers, body, caught = _get("/static/portal/portal.css", [])
    assert caught == []
    assert status == 200
    assert body == (BASE_DIR / "portal" / "static" / "portal" / "portal.css").read_bytes()
    assert headers["cache-control"] == "max-age=0, public"
