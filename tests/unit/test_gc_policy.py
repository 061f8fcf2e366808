"""The gateway's garbage-collection policy: surviving objects frozen every tick, a full
collection (unfreeze, collect, freeze) after enough closed connections."""

from __future__ import annotations

import gc

from csms_gateway.metrics import GcPolicy


def test_freezes_and_collects_after_closes() -> None:
    policy = GcPolicy(freeze_seconds=1, full_after_closes=2, full_seconds=3600)
    try:
        policy.tick()
        assert gc.get_freeze_count() > 0
        assert policy.full_collections == 0
        policy.closed()
        policy.tick()
        assert policy.full_collections == 0  # one close: not yet
        policy.closed()
        policy.tick()
        assert (policy.full_collections, policy.closes) == (1, 0)
        assert gc.get_freeze_count() > 0  # frozen again after the full collection
    finally:
        gc.unfreeze()
