"""How the extrawest peer's venv is built and reused, and what an unavailable peer does to
a test run (tests/roaming/peers/runtime.py, fixtures.py). No network, no peer started."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.roaming.peers import fixtures, runtime


def test_the_venv_is_named_by_the_lock(tmp_path: Path) -> None:
    digest = hashlib.sha256(runtime.LOCK.read_bytes()).hexdigest()[:16]
    assert runtime.venv_dir(tmp_path) == tmp_path / "peer-venvs" / f"extrawest-{digest}"


def test_the_lock_pins_every_package_with_hashes() -> None:
    lines = runtime.LOCK.read_text().splitlines()
    pins = [line.split(" ")[0] for line in lines if "==" in line and not line.startswith("#")]
    assert "extrawest-ocpi==2025.7.16" in pins and "pydantic==1.10.12" in pins
    assert "fastapi==0.101.1" in pins and "uvicorn==0.22.0" in pins
    hashes = sum(1 for line in lines if line.strip().startswith("--hash=sha256:"))
    assert hashes >= len(pins)


def test_a_complete_venv_is_reused_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = runtime.venv_dir(tmp_path)
    target.mkdir(parents=True)
    (target / ".complete").write_text("x")

    def no_build(cmd: list[str], *, env: dict[str, str]) -> None:
        raise AssertionError(f"built again: {cmd}")

    monkeypatch.setattr(runtime, "_run", no_build)
    assert runtime.ensure_venv(tmp_path) == target / "bin" / "python"


def test_a_half_built_venv_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = runtime.venv_dir(tmp_path)
    target.mkdir(parents=True)
    (target / "leftover").write_text("from an interrupted build")
    ran: list[list[str]] = []

    def record(cmd: list[str], *, env: dict[str, str]) -> None:
        assert not (target / "leftover").exists()
        assert "VIRTUAL_ENV" not in env
        ran.append(cmd)
        if cmd[1] == "venv":
            target.mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(runtime, "_run", record)
    runtime.ensure_venv(tmp_path)
    assert [c[1] for c in ran[:2]] == ["venv", "pip"]
    assert ran[1][-2:] == ["-r", str(runtime.LOCK)] and "--require-hashes" in ran[1]
    assert (target / ".complete").read_text() == runtime.LOCK.read_text()


def test_a_failed_build_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_uv", lambda: str(tmp_path / "no-such-uv"))
    with pytest.raises(runtime.PeerUnavailable, match="no-such-uv"):
        runtime.ensure_venv(tmp_path)
    assert not (runtime.venv_dir(tmp_path) / ".complete").exists()


@pytest.mark.parametrize(("ci", "outcome"), [("true", "failed"), ("", "skipped")])
def test_an_unavailable_peer_fails_under_ci_and_skips_otherwise(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: str
) -> None:
    monkeypatch.setenv("CI", ci)
    expected: Any = pytest.fail.Exception if outcome == "failed" else pytest.skip.Exception
    with pytest.raises(expected, match="no package index"):
        fixtures.unavailable("no package index")
