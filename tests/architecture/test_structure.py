"""Structure rules a reader relies on (docs/architecture.md, "Structure"):

- imports run one way: no first-party import hidden inside a function to dodge a cycle;
- a module's private names (`_name`) stay in it: nobody imports them;
- no source file over 800 lines outside migrations.

A function-local import is allowed only where an ADR names the reason (LOCAL_IMPORTS_ALLOWED).
"""

from __future__ import annotations

import ast
from pathlib import Path

from config.env import BASE_DIR

PACKAGES = ["apps", "billing", "config", "csms_gateway", "roaming", "demo", "restapi", "portal"]
FIRST_PARTY = set(PACKAGES)
MAX_LINES = 800

# Function-local first-party imports that an ADR names the reason for (module: why).
LOCAL_IMPORTS_ALLOWED: dict[str, str] = {}


def _sources() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((BASE_DIR / package).rglob("*.py")):
            if "migrations" not in path.parts and "node_modules" not in path.parts:
                files.append(path)
    return files


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(BASE_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = _module_of(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    local: set[str] = set()
    private: set[str] = set()
    rel = str(path.relative_to(BASE_DIR))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    names = [alias.name for alias in inner.names]
                elif isinstance(inner, ast.ImportFrom):
                    names = [_absolute(path, inner)]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in FIRST_PARTY:
                        local.add(f"{rel}:{name}")
        if isinstance(node, ast.ImportFrom):
            module = _absolute(path, node)
            if module.split(".")[0] in FIRST_PARTY:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.add(f"{rel}:{module}.{alias.name}")
    return local, private


def test_no_function_local_first_party_imports() -> None:
    found: set[str] = set()
    for path in _sources():
        found |= _imports(path)[0]
    unexpected = sorted(found - set(LOCAL_IMPORTS_ALLOWED))
    assert unexpected == [], "import at module level (or name the reason in an ADR)"
    assert sorted(set(LOCAL_IMPORTS_ALLOWED) - found) == [], "no longer needed: remove it"


def test_no_module_imports_another_modules_private_name() -> None:
    found: set[str] = set()
    for path in _sources():
        found |= _imports(path)[1]
    assert sorted(found) == []


def test_no_source_file_over_800_lines() -> None:
    long = {
        str(path.relative_to(BASE_DIR))
        for path in _sources()
        if len(path.read_text().splitlines()) > MAX_LINES
    }
    assert sorted(long) == []
