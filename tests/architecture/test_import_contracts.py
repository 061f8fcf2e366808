"""The import-linter contracts really fail when a forbidden import is added.

Each case copies the project's packages into a temporary directory, adds one module with a
forbidden import, and runs `lint-imports` there with the project's own configuration.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import BASE_DIR

PACKAGES = ["apps", "billing", "config", "csms_gateway", "roaming", "demo", "restapi", "portal"]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("boundaries")
    for package in PACKAGES:
        shutil.copytree(
            BASE_DIR / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(BASE_DIR / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint(root: Path, contract: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--contract", contract],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


CASES = [
    ("pricing-pure", "billing/pricing/_bad.py", "import django.db\n"),
    ("pricing-pure", "billing/pricing/_bad.py", "from apps.tariffs import api\n"),
    ("pricing-layers", "billing/pricing/model.py", "from billing.pricing import compiled\n"),
    ("pricing-layers", "billing/pricing/ocpi_objects.py", "from billing.pricing import parse\n"),
    ("apps-inward", "apps/tokens/_bad.py", "import csms_gateway\n"),
    ("apps-inward", "apps/charging/_bad.py", "import billing\n"),
    ("apps-inward", "apps/charging/_bad.py", "import billing.engines\n"),
    ("common-leaf", "apps/common/_bad.py", "from apps.parties import contracts\n"),
    ("apps-api-only", "apps/charging/_bad.py", "from apps.tariffs import models\n"),
    ("outer-api-only", "csms_gateway/_bad.py", "from apps.charging import models\n"),
    ("outer-api-only", "restapi/_bad.py", "from apps.tokens import services\n"),
    ("apps-inward", "apps/integrations/_bad.py", "import restapi\n"),
    ("outer-api-only", "portal/_bad.py", "from apps.tariffs import selectors\n"),
    ("apps-inward", "apps/tariffs/_bad.py", "import portal.views\n"),
    ("apps-layers", "apps/parties/_bad.py", "from apps.charging import api\n"),
    ("apps-layers", "apps/tokens/_bad.py", "from apps.tariffs import contracts\n"),
    ("outer-layers", "restapi/_bad.py", "import portal.views\n"),
    ("simulator-network-only", "csms_gateway/simulator/_bad.py", "import django.db\n"),
    (
        "simulator-network-only",
        "csms_gateway/simulator/station.py",
        "from csms_gateway import server\n",
    ),
    ("app-internal-layers", "apps/tokens/selectors.py", "from apps.tokens import services\n"),
    ("app-internal-layers", "apps/tariffs/models.py", "from apps.tariffs import selectors\n"),
    ("restapi-layers", "restapi/operations.py", "from restapi.views import tokens\n"),
    ("restapi-layers", "restapi/json.py", "import restapi.problems\n"),
    ("restapi-layers", "restapi/_bad.py", "import json\n"),  # in no layer (exhaustive)
    (
        "app-internal-layers",
        "apps/charging/selectors/flags.py",
        "from apps.charging.services import review\n",
    ),
    (
        "app-internal-layers",
        "apps/charging/services/intake.py",
        "from apps.charging import tasks\n",
    ),
    (
        "charging-services-order",
        "apps/charging/services/batch.py",
        "from apps.charging.services import processing\n",
    ),
]


@pytest.mark.parametrize(("contract", "path", "source"), CASES)
def test_contract_breaks_on_a_forbidden_import(
    project_copy: Path, contract: str, path: str, source: str
) -> None:
    assert _lint(project_copy, contract).returncode == 0
    bad = project_copy / path
    # A new module `_bad`, or one forbidden line appended to an existing module.
    original = bad.read_text() if bad.exists() else None
    bad.write_text((original or "") + source)
    try:
        result = _lint(project_copy, contract)
    finally:
        if original is None:
            bad.unlink()
        else:
            bad.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert path.removesuffix(".py").replace("/", ".") in result.stdout


@pytest.mark.parametrize(
    ("contract", "source"),
    [
        ("apps-api-only", "from apps.tariffs import api, contracts\n"),
        ("apps-inward", "from billing import pricing\nimport billing.pricing\n"),
    ],
)
def test_allowed_imports_keep_the_contracts(project_copy: Path, contract: str, source: str) -> None:
    ok = project_copy / "apps/charging/_ok.py"
    ok.write_text(source)
    try:
        result = _lint(project_copy, contract)
    finally:
        ok.unlink()
    assert result.returncode == 0, result.stdout
