"""Durable intake of OCPP transaction messages (called by the gateway's group-commit writer).

A message is stored before the station is answered. Storing is idempotent: the same message
sent again maps to the same key and returns the first result (same transaction id), so a
resent StartTransaction gets the same transactionId and a resent StopTransaction changes
nothing. Processing into sessions and CDRs is queued on commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.charging.contracts import (
    EventKind,
    StatusEventIn,
    TransactionEventIn,
    TransactionEventResult,
)
from apps.charging.models import OcppEvent, StatusEvent, TransactionIdAllocation


def _samples_json(event: TransactionEventIn) -> list[dict[str, object]]:
    out = []
    for s in event.samples:
        row: dict[str, object] = {"timestamp": s.timestamp.isoformat()}
        for name in ("energy_wh", "power_w", "current_a", "soc_percent"):
            value: Decimal | None = getattr(s, name)
            if value is not None:
                row[name] = str(value)
        if s.context:
            row["context"] = s.context
        if s.signed_data:
            row["signed_data"] = s.signed_data
        out.append(row)
    return out


def _allocate_transaction_id(event: TransactionEventIn) -> str:
    allocation, _ = TransactionIdAllocation.objects.get_or_create(
        charge_station_id=event.station_id,
        idempotency_key=event.idempotency_key,
        defaults={"tenant_id": event.tenant_id},
    )
    return str(allocation.pk)


def _store_one(event: TransactionEventIn) -> TransactionEventResult:
    existing = (
        OcppEvent.objects.filter(
            charge_station_id=event.station_id, idempotency_key=event.idempotency_key
        )
        .values_list("id", "ocpp_transaction_id")
        .first()
    )
    if existing is not None:
        return TransactionEventResult(existing[0], existing[1], duplicate=True)
    txid = event.ocpp_transaction_id
    if txid is None:
        if event.kind is not EventKind.STARTED:
            raise ValueError("only a start may ask for a new transaction id")
        txid = _allocate_transaction_id(event)
    row = OcppEvent.objects.create(
        tenant_id=event.tenant_id,
        charge_station_id=event.station_id,
        kind=event.kind.value,
        idempotency_key=event.idempotency_key,
        protocol=event.protocol,
        action=event.action,
        ocpp_transaction_id=txid,
        evse_ocpp_id=event.evse_ocpp_id,
        connector_ocpp_id=event.connector_ocpp_id,
        id_tag=event.id_tag,
        station_timestamp=event.station_timestamp,
        received_at=event.received_at,
        seq_no=event.seq_no,
        offline=event.offline,
        meter_wh=event.meter_wh,
        reason=event.reason,
        charging_state=event.charging_state.value if event.charging_state else "",
        samples=_samples_json(event),
        frame=event.frame,
    )
    return TransactionEventResult(row.pk, txid, duplicate=False)


def transaction_events_record(
    *, events: Sequence[TransactionEventIn]
) -> list[TransactionEventResult]:
    """Store a batch of transaction messages in one database transaction (group commit).

    Each message gets its own savepoint: when two gateway nodes store the same message at
    once, the loser of the unique index reads the winner's row instead of failing the batch.
    """
    from apps.charging.tasks import enqueue_transaction_processing

    results: list[TransactionEventResult] = []
    with transaction.atomic():
        for event in events:
            try:
                with transaction.atomic():
                    results.append(_store_one(event))
            except IntegrityError:
                results.append(_store_one(dataclasses.replace(event)))
        touched = {
            (e.station_id, r.ocpp_transaction_id)
            for e, r in zip(events, results, strict=True)
            if not r.duplicate
        }
        if touched:
            transaction.on_commit(lambda: enqueue_transaction_processing(sorted(touched)))
    return results


def status_events_record(*, events: Sequence[StatusEventIn]) -> None:
    StatusEvent.objects.bulk_create(
        [
            StatusEvent(
                tenant_id=e.tenant_id,
                charge_station_id=e.station_id,
                evse_ocpp_id=e.evse_ocpp_id,
                connector_ocpp_id=e.connector_ocpp_id,
                status=e.status,
                charging_state=e.charging_state.value if e.charging_state else "",
                station_timestamp=e.station_timestamp,
                received_at=e.received_at,
            )
            for e in events
        ]
    )
