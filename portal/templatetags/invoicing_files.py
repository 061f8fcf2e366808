"""`{% document_files document_id %}`: a document's files (downloads) and deliveries (send,
resend) on the portal's document page. The document page belongs to the documents area; this
tag to the files area (ADR 0035, ADR 0038)."""

from __future__ import annotations

from typing import Any

from django import template

from apps.invoicing import api as invoicing
from apps.parties.contracts import Capability

register = template.Library()


@register.inclusion_tag("portal/invoicing/_document_files.html", takes_context=True)
def document_files(context: Any, document_id: int) -> dict[str, Any]:
    portal = context["portal"]
    panel = invoicing.document_files_panel(tenant_id=portal.tenant_id, document_id=document_id)
    request = context.get("request")
    finalized = panel.status == "FINALIZED"
    return {
        "t": portal.tenant.slug,
        "document_id": document_id,
        "panel": panel,
        "finalized": finalized,
        "files": [
            {
                "kind": f.kind,
                "slug": f.kind.lower(),
                "filename": f.filename,
                "size": f.size,
                "sha256": f.sha256,
                "created_at": f.created_at,
            }
            for f in panel.files
        ],
        "pending": [k for k in ("PDF", "UBL", "CII") if k not in {f.kind for f in panel.files}],
        "deliveries": panel.deliveries,
        "may_send": finalized and panel.own and portal.may(Capability.INVOICING_EDIT),
        "here": request.get_full_path() if request is not None else "",
        "csrf_token": context.get("csrf_token"),
    }
