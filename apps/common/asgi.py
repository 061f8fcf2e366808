"""ASGI helpers of the fast paths that serve a route's successful case below Django (ADR
0016, 0042): read the request body once, and hand it on to Django replayed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]


async def read_body(receive: Receive, limit: int | None) -> tuple[bytes, bool]:
    """The request body, up to `limit` bytes (beyond: what was read, and False)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def replaying(receive: Receive, body: bytes, complete: bool) -> Receive:
    """A `receive` that first gives back what `read_body` read, then the rest (if any)."""
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay
