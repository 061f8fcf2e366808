"""Builds the extrawest-ocpi peer's own virtual environment and runs the peer.

The venv lives under `<DATA_DIR>/peer-venvs/extrawest-<hash of the lock>`: a second run (or
another test module) reuses it, a change to extrawest.lock builds a new one. It is created
with the project's `uv` and installed from the hashed lock only (`--require-hashes`), under
a file lock so parallel test workers build it once; a `.complete` stamp is written last, so
a half-built venv is rebuilt, never used.

The peer process prints `PEER READY <port>` once it listens; `start_peer` waits for that
line (bounded), never for a fixed time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import selectors
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOCK = HERE / "extrawest.lock"
LAUNCHER = HERE / "extrawest_cpo.py"
BUILD_TIMEOUT = 600.0
START_TIMEOUT = 60.0


class PeerUnavailable(Exception):
    """The peer's venv could not be built or the peer did not start (with the reason)."""


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if not found:
        raise PeerUnavailable("uv not found (the project's .venv/bin/uv)")
    return found


def venv_dir(data_dir: Path) -> Path:
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    return data_dir / "peer-venvs" / f"extrawest-{digest}"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: list[str], *, env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerUnavailable(f"{' '.join(cmd[:3])}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise PeerUnavailable(f"{' '.join(cmd[:3])} failed: " + " | ".join(tail))


def ensure_venv(data_dir: Path) -> Path:
    """The peer venv's python, built from extrawest.lock when missing."""
    target = venv_dir(data_dir)
    python = target / "bin" / "python"
    stamp = target / ".complete"
    if stamp.exists():
        return python
    with _file_lock(target.parent / f"{target.name}.lock"):
        if stamp.exists():
            return python
        if target.exists():
            shutil.rmtree(target)
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        uv = _uv()
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(target)], env=env)
        _run(
            [uv, "pip", "install", "--quiet", "--require-hashes", "--python", str(python)]
            + ["-r", str(LOCK)],
            env=env,
        )
        _run([str(python), "-c", "import py_ocpi, uvicorn"], env=env)
        stamp.write_text(LOCK.read_text())
    return python


@dataclass
class PeerProcess:
    """A running peer: where it listens and the tokens it was given."""

    process: subprocess.Popen[str]
    port: int
    token_a: str
    token_c: str  # the token C it accepts from a registration done beforehand
    client_token: str  # the token (B) it sends to us with that registration
    country_code: str
    party_id: str
    log_path: Path
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def module_url(self, module: str) -> str:
        return f"{self.base_url}/ocpi/cpo/2.2.1/{module}/"

    def state(self) -> dict[str, Any]:
        """What the peer received (registrations, commands) via its control route."""
        with urllib.request.urlopen(f"{self.base_url}/peer-control/state", timeout=10) as r:
            return json.loads(r.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


def start_peer(
    python: Path,
    work_dir: Path,
    *,
    locations: int = 7,
    country_code: str = "NL",
    party_id: str = "EXW",
) -> PeerProcess:
    """Start the peer on a free loopback port; returns once it listens."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "token_a": secrets.token_urlsafe(24),
        "token_c": secrets.token_urlsafe(24),
        "client_token": secrets.token_urlsafe(24),
        "locations": locations,
        "country_code": country_code,
        "party_id": party_id,
    }
    cfg = work_dir / "peer-config.json"
    cfg.write_text(json.dumps(config))
    log_path = work_dir / "peer.log"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # cwd: an empty directory (the library reads a `.env` from the working directory).
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(python), str(LAUNCHER), str(cfg)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=work_dir,
            env=env,
        )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT
    port = None
    while port is None and time.monotonic() < deadline:
        if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        line = proc.stdout.readline()
        if not line:  # the process ended
            break
        if line.startswith("PEER READY "):
            port = int(line.split()[2])
    sel.close()
    if port is None:
        proc.kill()
        proc.wait(timeout=10)
        tail = log_path.read_text(errors="replace")[-2000:]
        raise PeerUnavailable(f"the peer did not start within {START_TIMEOUT:.0f}s: {tail}")
    return PeerProcess(
        process=proc,
        port=port,
        token_a=config["token_a"],
        token_c=config["token_c"],
        client_token=config["client_token"],
        country_code=country_code,
        party_id=party_id,
        log_path=log_path,
        config=config,
    )
