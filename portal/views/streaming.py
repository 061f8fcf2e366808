"""Streamed downloads that stay streamed under both handlers.

Django's ASGI handler buffers a `StreamingHttpResponse` over a synchronous iterator (it reads
it to the end with one `sync_to_async(list)` and warns "must consume synchronous iterators"),
and its WSGI handler buffers an asynchronous one the same way. `streaming_response` gives
each handler the kind it streams: under ASGI every chunk is produced by one
`sync_to_async` call (thread-sensitive: the ORM's connection of the request), so at most one
chunk is in memory between the database and the socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse


def _next_chunk(chunks: Iterator[str]) -> str | None:
    return next(chunks, None)


async def _chunks_async(chunks: Iterator[str]) -> AsyncIterator[str]:
    step = sync_to_async(_next_chunk, thread_sensitive=True)
    while True:
        chunk = await step(chunks)
        if chunk is None:
            return
        yield chunk


def streaming_response(
    request: HttpRequest, chunks: Iterator[str], *, content_type: str
) -> StreamingHttpResponse:
    """`chunks` (a generator that may query the database) as a streamed response: read one
    chunk at a time, whichever server runs the request."""
    if isinstance(request, ASGIRequest):
        return StreamingHttpResponse(_chunks_async(chunks), content_type=content_type)
    return StreamingHttpResponse(chunks, content_type=content_type)
