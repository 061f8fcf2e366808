"""A finalized document's files: Factur-X PDF, UBL, CII (area "files", ADR 0035). To be
built."""

from __future__ import annotations


def document_files_render(*, document_id: int) -> None:
    raise NotImplementedError("document files are being built (issue 18)")
