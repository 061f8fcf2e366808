"""The vendored front-end files are exactly the npm packages' files, and `collectstatic`
with the production storage (hashed names, compression) accepts them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

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


def test_collectstatic_with_the_manifest_storage(collected_static: Path) -> None:
    assert list((collected_static / "portal" / "vendor" / "htmx-2.0.11").glob("htmx.min.*.js"))
