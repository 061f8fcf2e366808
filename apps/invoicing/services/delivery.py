"""E-mail delivery of finalized documents (area "files", ADR 0035). To be built."""

from __future__ import annotations

from apps.common.contracts import Actor


def document_deliver(*, document_id: int, actor: Actor, to_email: str | None = None) -> None:
    raise NotImplementedError("document delivery is being built (issue 18)")
