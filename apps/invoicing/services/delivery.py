"""E-mail delivery of finalized documents (area "files", ADR 0038): Django's mail framework
(console backend by default, SMTP in production: config/settings.py), the PDF and the UBL
attached, subject and body in the document's language. Every attempt is a Delivery row,
SENT or FAILED with the error; a resend is another attempt, audited as `document.resend`.

The mail is sent outside any database transaction and recorded after it: a worker killed
between the two sends the first delivery again when the task is redelivered (at least once,
never silently lost)."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import formats, translation
from django.utils.translation import gettext as _

from apps.common.contracts import Actor
from apps.common.errors import NotFound, Problem, ValidationFailed
from apps.invoicing.contracts import DeliveryStatus, DocumentStatus, FileKind
from apps.invoicing.models import Delivery, Document, InvoicingSettings
from apps.invoicing.render.data import DocumentNotFinalized, PartyData
from apps.invoicing.render.pdf import document_title, money_text
from apps.invoicing.selectors.files import DeliveryRow, delivery_row
from apps.invoicing.services.files import FileContent, document_file_get
from apps.parties import api as parties_api

ATTACHED = (FileKind.PDF, FileKind.UBL)


def _actor_name(actor: Actor) -> str:
    if actor.name:
        return actor.name[:254]
    if actor.user_id is not None:
        return f"user {actor.user_id}"
    return ""


def document_deliver(
    *, document_id: int, actor: Actor, to_email: str | None = None
) -> DeliveryRow | None:
    """The first delivery of a finalized document (the `invoicing.deliver` task, queued
    when its files are stored). Does nothing (None) when a delivery was already SENT or the
    document has no address: a redelivered task never mails twice after it recorded."""
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        raise NotFound(f"No document {document_id}.")
    if document.status != DocumentStatus.FINALIZED:
        raise DocumentNotFinalized(f"Document {document_id} is not finalized: nothing to send.")
    if Delivery.objects.filter(document_id=document_id, status=DeliveryStatus.SENT).exists():
        return None
    address = (to_email or document.email).strip()
    if not address:
        return None
    return _send(document, address, actor, action="document.deliver")


def document_resend(
    *, tenant_id: int, document_id: int, actor: Actor, to_email: str | None = None
) -> DeliveryRow:
    """Send a finalized document of tenant `tenant_id` again, to `to_email` or its own
    address; audited as `document.resend`. Returns the new Delivery (SENT or FAILED)."""
    document = Document.objects.filter(pk=document_id, tenant_id=tenant_id).first()
    if document is None:
        raise NotFound(f"No document {document_id}.")
    if document.status != DocumentStatus.FINALIZED:
        raise DocumentNotFinalized(
            f"Document {document_id} is {document.status.lower()}: only a finalized document "
            "can be sent."
        )
    address = (to_email or document.email or "").strip()
    if not address:
        raise ValidationFailed(
            "This document has no e-mail address.",
            problems=(Problem("to_email", "give the address to send it to"),),
        )
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationFailed(
            f"{address!r} is not an e-mail address.",
            problems=(Problem("to_email", "enter a valid e-mail address"),),
        ) from None
    return _send(document, address, actor, action="document.resend")


def _message(document: Document, files: list[FileContent], address: str) -> EmailMessage:
    seller = PartyData.of(document.seller or {})
    buyer = PartyData.of(document.buyer or {})
    reply_to = seller.email
    if not reply_to:
        own = InvoicingSettings.objects.filter(tenant_id=document.tenant_id).first()
        reply_to = own.email if own else ""
    with translation.override(document.language or "en"):
        title = document_title(document.doc_type)
        words = {
            "title": title,
            "number": document.number,
            "seller": seller.name,
            "name": buyer.name,
            "date": formats.date_format(document.issue_date, "DATE_FORMAT")
            if document.issue_date
            else "",
            "total": money_text(document.total, document.currency),
        }
        subject = (
            _("%(title)s %(number)s from %(seller)s") % words
            if seller.name
            else f"{title} {document.number}"
        )
        body = "\n\n".join(
            [
                _("Hello %(name)s,") % words if buyer.name else "",
                _("Attached: %(title)s %(number)s of %(date)s, total %(total)s.") % words,
                _(
                    "The PDF is for reading; the XML file is the same document as a UBL "
                    "e-invoice for your accounting software."
                ),
                _("Kind regards,") + "\n" + seller.name,
            ]
        ).strip()
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        reply_to=[reply_to] if reply_to else None,
    )
    for f in files:
        message.attach(f.filename, f.content, f.content_type)
    return message


def _send(document: Document, address: str, actor: Actor, *, action: str) -> DeliveryRow:
    files = [
        document_file_get(tenant_id=document.tenant_id, document_id=document.pk, kind=kind)
        for kind in ATTACHED
    ]
    message = _message(document, files, address)
    status, error = DeliveryStatus.SENT, ""
    try:
        message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        status, error = DeliveryStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        row = Delivery.objects.create(
            tenant_id=document.tenant_id,
            document_id=document.pk,
            to_email=address,
            status=status.value,
            error=error,
            actor_name=_actor_name(actor),
        )
        parties_api.audit(
            document.tenant_id,
            actor,
            action,
            "document",
            document.pk,
            after={
                "number": document.number,
                "to": address,
                "status": status.value,
                "error": error,
            },
        )
    return delivery_row(row)
