"""Export files written in chunks (ADR 0039): bytes go in as they are produced, each full chunk
of EXPORT_FILE_CHUNK_BYTES is INSERTed as an `ExportFileChunk` row and dropped from memory, the
size and the SHA-256 of the whole file are computed on the way. No file is ever held whole.

A writer without a batch (a dry run) only counts and hashes: the same bytes, nothing stored.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

from django.conf import settings

from apps.invoicing.models import ExportFileChunk


@dataclass(frozen=True, slots=True)
class WrittenFile:
    kind: str
    filename: str
    size: int
    sha256: str
    chunks: int


class ChunkWriter:
    """A binary sink (`write`) for one file of a batch. `close()` flushes the last partial
    chunk and returns what was written."""

    def __init__(self, *, tenant_id: int, batch_id: int | None, kind: str, filename: str) -> None:
        self.tenant_id, self.batch_id, self.kind, self.filename = (
            tenant_id,
            batch_id,
            kind,
            filename,
        )
        self.chunk_bytes = max(1, int(settings.EXPORT_FILE_CHUNK_BYTES))
        self._buf = bytearray()
        self._hash = hashlib.sha256()
        self._size = 0
        self._seq = 0
        self._closed = False

    def write(self, data: bytes) -> int:
        n = len(data)
        if not n:
            return 0
        self._hash.update(data)
        self._size += n
        self._buf += data
        while len(self._buf) >= self.chunk_bytes:
            self._store(bytes(self._buf[: self.chunk_bytes]))
            del self._buf[: self.chunk_bytes]
        return n

    def flush(self) -> None:  # the gzip module flushes its file object; chunks stay whole
        pass

    def _store(self, piece: bytes) -> None:
        if self.batch_id is not None:
            ExportFileChunk.objects.create(
                tenant_id=self.tenant_id,
                batch_id=self.batch_id,
                kind=self.kind,
                seq=self._seq,
                content=piece,
            )
        self._seq += 1

    def close(self) -> WrittenFile:
        if not self._closed:
            if self._buf:
                self._store(bytes(self._buf))
                self._buf = bytearray()
            self._closed = True
        return WrittenFile(self.kind, self.filename, self._size, self._hash.hexdigest(), self._seq)


class GzipChunkWriter:
    """Deterministic gzip (no name, mtime 0, level 1) into a `ChunkWriter`."""

    def __init__(self, sink: ChunkWriter) -> None:
        self.sink = sink
        self._gz = gzip.GzipFile(filename="", mode="wb", compresslevel=1, fileobj=sink, mtime=0)

    def write(self, data: bytes) -> None:
        self._gz.write(data)

    def close(self) -> WrittenFile:
        self._gz.close()
        return self.sink.close()
