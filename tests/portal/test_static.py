"""The vendored front-end files are exactly the npm packages' files, and `collectstatic`
with the production storage (hashed names, compression) accepts them."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

from config.env import BASE_DIR

VENDOR = BASE_DIR / "portal" / "static" / "portal" / "vendor"


def test_vendored_files_match_the_recorded_hashes() -> None:
    table = (VENDOR / "README.md").read_text()
    rows = re.findall(
        r"\| `([\w.\-]+/)` \| `[^`]+` \| `[\w/.]+?([\w.\-]+)` \| `([0-9a-f]{64})` \|", table
    )
    assert len(rows) == 4
    for folder, name, digest in rows:
        assert hashlib.sha256((VENDOR / folder / name).read_bytes()).hexdigest() == digest, name


def test_templates_use_only_vendored_assets_no_cdn() -> None:
    templates = [*(BASE_DIR / "templates").rglob("*.html")]
    assert templates, "the project-level templates folder is empty"
    for template in [*templates, *(BASE_DIR / "portal" / "templates").rglob("*.html")]:
        text = template.read_text()
        assert not re.search(r"(src|href)=\"https?://", text), template


def test_collectstatic_with_the_manifest_storage(tmp_path) -> None:
    env = {
        "DATA_DIR": str(tmp_path),
        "STATIC_ROOT": str(tmp_path / "static"),
        "DEBUG": "0",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert list((tmp_path / "static" / "portal" / "vendor" / "htmx-2.0.11").glob("htmx.min.*.js"))
