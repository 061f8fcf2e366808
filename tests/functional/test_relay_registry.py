"""The gateway side of the registry against a real Redis: entries written on attach and
refreshed, a refresh racing the registry writer does not mistake its own fresh entry for a
takeover, a takeover by another node closes the stale connection here, a lapsed entry is
written again, and a detach never deletes another node's entry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from csms_gateway.relay import Relay as NodeRelay
from tests.relay_fixtures import Relay


@pytest.fixture
def node(relay_server: Relay) -> Any:
    lost: list[tuple[str, str]] = []

    def make(name: str = "node-x") -> NodeRelay:
        return NodeRelay(
            url=relay_server.url,
            prefix=relay_server.prefix,
            node=name,
            links=lambda identity: None,
            on_lost=lambda identity, token: lost.append((identity, token)),
            registry_ttl=30,
        )

    return make, lost


async def until(predicate: Any, what: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_registry_entries_follow_the_connections(relay_server: Relay, node: Any) -> None:
    make, lost = node
    r = relay_server.redis
    key = f"{relay_server.prefix}:station:"

    async def run() -> None:
        a = make("node-x")
        await a.start()
        try:
            for i in range(600):  # more than one refresh batch
                a.attach(f"S{i}", f"t{i}")
            await a.refresh()  # may run before the writer: its own entries are not "taken"
            await until(lambda: r.get(key + "S599") == b"node-x|t599", "all entries written")
            assert lost == []
            assert r.get(key + "S1") == b"node-x|t1"
            assert 0 < r.ttl(key + "S1") <= 30
            # Another node took S2 (the station reconnected there): closed here, not deleted.
            r.set(key + "S2", "node-y|other")
            # S3's entry lapsed (Redis restarted): written again.
            r.delete(key + "S3")
            await a.refresh()
            assert lost == [("S2", "t2")]
            assert r.get(key + "S2") == b"node-y|other"
            assert r.get(key + "S3") == b"node-x|t3"
            # A detach of the stale connection leaves node-y's entry alone.
            a.detach("S2", "t2")
            a.detach("S4", "t4")
            await until(lambda: r.get(key + "S4") is None, "S4 deleted")
            assert r.get(key + "S2") == b"node-y|other"
            assert r.get(key + "S4") is None
            assert r.exists(f"{relay_server.prefix}:node:node-x")
        finally:
            await a.stop()
        # A node that stops leaves at once: its liveness key and its entries go.
        assert not r.exists(f"{relay_server.prefix}:node:node-x")
        assert r.get(key + "S1") is None
        assert r.get(key + "S2") == b"node-y|other"

    asyncio.run(run())
