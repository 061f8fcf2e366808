"""A document's files and deliveries on the REST API (area "files", ADR 0038): the renderers
of the file downloads, the delivery out and the resend body."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

from apps.invoicing.api import DeliveryRow
from restapi.json import dumps
from restapi.pagination import PageQuery


class _FileRenderer(BaseRenderer):
    """The stored bytes as they are; anything else (a problem) as JSON."""

    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        return dumps(data)


class PdfRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class XmlRenderer(_FileRenderer):
    media_type = "application/xml"
    format = "xml"


class DocumentDeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    to_email = serializers.EmailField()
    status = serializers.ChoiceField(choices=["SENT", "FAILED"])
    error = serializers.CharField(help_text="why sending failed (the mail server's answer)")
    actor = serializers.CharField(help_text="who sent it: the worker, a user or an API key")
    created_at = serializers.DateTimeField()


def delivery_out(d: DeliveryRow) -> dict[str, Any]:
    return {
        "id": d.id,
        "to_email": d.to_email,
        "status": d.status,
        "error": d.error,
        "actor": d.actor_name,
        "created_at": d.created_at,
    }


class DeliveryItems:
    """`paginate`'s item: DeliveryRows rendered by `delivery_out`."""

    def __init__(self, rows: list[DeliveryRow], many: bool = True) -> None:
        self.data = [delivery_out(r) for r in rows]


class DeliveryListQuery(PageQuery):
    pass


class ResendIn(serializers.Serializer):
    to_email = serializers.EmailField(
        required=False,
        max_length=254,
        help_text="where to send it; default: the document's own address",
    )
