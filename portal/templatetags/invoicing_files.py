"""`{% document_files document_id %}`: a document's files (downloads) and deliveries (send,
resend) on the portal's document page. The document page belongs to the documents area; this
tag to the files area (ADR 0035)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("portal/invoicing/_document_files.html", takes_context=True)
def document_files(context: Any, document_id: int) -> dict[str, Any]:
    return {"document_id": document_id, "files": [], "deliveries": []}
