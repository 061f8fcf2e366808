"""Outer layers (gateway, roaming, billing, demo, config, restapi, portal) use an app only
through its `api` and `contracts` modules: any other module of an app is its private business."""

from __future__ import annotations

import grimp

OUTER = ["csms_gateway", "roaming", "billing", "demo", "config", "restapi", "portal"]
PUBLIC = {"api", "contracts"}
# The shared kernel also offers its error vocabulary, secret hashing and the fast paths' ASGI
# body helpers to every layer.
COMMON_PUBLIC = {"errors", "secrets", "asgi"}


def test_outer_layers_import_only_api_and_contracts_of_apps() -> None:
    graph = grimp.build_graph("apps", *OUTER, cache_dir=None)
    offending = []
    for outer in OUTER:
        for module in sorted(graph.find_descendants(outer) | {outer}):
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                parts = imported.split(".")
                if parts[0] != "apps" or len(parts) < 3:
                    if parts[0] == "apps" and len(parts) == 2:
                        offending.append(f"{module} -> {imported} (import the api module)")
                    continue
                allowed = PUBLIC | (COMMON_PUBLIC if parts[1] == "common" else set())
                if parts[2] not in allowed:
                    offending.append(f"{module} -> {imported}")
    # config.celery autodiscovers tasks by name, not by import; nothing else is allowed.
    assert offending == []
