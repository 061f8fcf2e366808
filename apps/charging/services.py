from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from apps.charging.contracts import CdrKind
from apps.charging.models import Cdr
from apps.common.errors import Conflict, NotFound

_AMOUNT_FIELDS = [
    f"total_{part}_{vat}"
    for part in (
        "cost",
        "fixed_cost",
        "energy_cost",
        "time_cost",
        "parking_cost",
        "reservation_cost",
    )
    for vat in ("excl_vat", "incl_vat")
]
_VOLUME_FIELDS = ["total_energy_kwh", "total_time_hours", "total_parking_time_hours"]


def _negate(value: Decimal | None) -> Decimal | None:
    return None if value is None else -value


@transaction.atomic
def cdr_credit(*, tenant_id: int, cdr_id: int, ocpi_id: str) -> int:
    """Cancel a CDR by a CREDIT CDR with every amount and volume negated (OCPI credit CDR).

    The original stays as it was; a CDR can be credited once.
    """
    original = Cdr.objects.for_tenant(tenant_id).select_for_update().filter(pk=cdr_id).first()
    if original is None:
        raise NotFound(f"no CDR {cdr_id} in this tenant")
    if original.kind != CdrKind.ORIGINAL:
        raise Conflict(f"CDR {original.ocpi_id} is a credit CDR; only originals can be credited")
    if Cdr.objects.filter(credits=original).exists():
        raise Conflict(f"CDR {original.ocpi_id} has already been credited")
    credit = Cdr(
        tenant_id=original.tenant_id,
        party_id=original.party_id,
        ocpi_id=ocpi_id,
        kind=CdrKind.CREDIT.value,
        credits=original,
        session_id=original.session_id,
        tariff_version_id=original.tariff_version_id,
        start_date_time=original.start_date_time,
        end_date_time=original.end_date_time,
        currency=original.currency,
        data={
            **original.data,
            "id": ocpi_id,
            "credit": True,
            "credit_reference_id": original.ocpi_id,
        },
        annotations=original.annotations,
    )
    for field in _AMOUNT_FIELDS + _VOLUME_FIELDS:
        setattr(credit, field, _negate(getattr(original, field)))
    credit.save()
    from apps.charging.webhooks import WebhookOutbox

    outbox = WebhookOutbox()
    outbox.cdr_created(tenant_id=credit.tenant_id, cdr_id=credit.pk, at=credit.created_at)
    outbox.emit()
    return credit.pk
