"""Pytest fixtures for the independent OCPI peer (import them into a test module).

Without CI the peer may be skipped with the reason (no package index, no uv); under
CI=true a peer that cannot be built or started FAILS the test, as the browser suites do for
chromium (tests/browser/conftest.py)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.roaming.peers.runtime import PeerProcess, PeerUnavailable, ensure_venv, start_peer


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _data_dir() -> Path:
    from django.conf import settings

    path = Path(getattr(settings, "DATA_DIR", "") or tempfile.gettempdir())
    path.mkdir(parents=True, exist_ok=True)
    return path


def unavailable(reason: str) -> None:
    if _ci():
        pytest.fail(f"the extrawest-ocpi peer is required when CI=true: {reason}", False)
    pytest.skip(f"extrawest-ocpi peer unavailable: {reason}")


@pytest.fixture(scope="module")
def extrawest_python() -> Path:
    """The peer venv's python (built once per lock, cached under DATA_DIR/peer-venvs)."""
    try:
        return ensure_venv(_data_dir())
    except PeerUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: skip / fail raise


@pytest.fixture(scope="module")
def extrawest_peer(extrawest_python: Path) -> Iterator[PeerProcess]:
    """A running extrawest-ocpi 2.2.1 CPO with 7 locations, one session and one CDR."""
    work = Path(tempfile.mkdtemp(prefix="extrawest-", dir=_data_dir()))
    try:
        peer = start_peer(extrawest_python, work)
    except PeerUnavailable as exc:
        unavailable(str(exc))
        raise
    try:
        yield peer
    finally:
        peer.stop()
