"""Durable intake of OCPP transaction messages (called by the gateway's group-commit writer).

A message is stored before the station is answered. Storing is idempotent: the same message
sent again maps to the same key and returns the first result (same transaction id), so a
resent StartTransaction gets the same transactionId and a resent StopTransaction changes
nothing. Processing into sessions and CDRs is queued on commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.charging import jobs
from apps.charging.contracts import (
    EventKind,
    StatusEventIn,
    TransactionEventIn,
    TransactionEventResult,
)
from apps.charging.models import OcppEvent, StatusEvent, TransactionIdAllocation
from apps.common.bulk import insert_rows, insert_rows_returning


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
    row = _event_row(event, txid)
    row.save(force_insert=True)
    return TransactionEventResult(row.pk, txid, duplicate=False)


def _event_row(event: TransactionEventIn, txid: str) -> OcppEvent:
    return OcppEvent(
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
        auth_method=event.auth_method,
        authorization_reference=event.authorization_reference,
    )


def _store_batch(events: Sequence[TransactionEventIn]) -> list[TransactionEventResult]:
    """The whole batch in a few statements: one SELECT of the keys already stored, one of the
    transaction ids already allocated, one multi-row INSERT of the new allocations, one of the
    new events. Raises IntegrityError when another node stored one of them meanwhile."""
    keys = {(e.station_id, e.idempotency_key) for e in events}
    stations = {station for station, _ in keys}
    stored: dict[tuple[int, str], tuple[int, str]] = {
        (station, key): (pk, txid)
        for pk, station, key, txid in OcppEvent.objects.filter(
            charge_station_id__in=stations,
            idempotency_key__in={key for _, key in keys},
        ).values_list("id", "charge_station_id", "idempotency_key", "ocpp_transaction_id")
        if (station, key) in keys
    }
    new: dict[tuple[int, str], TransactionEventIn] = {}
    # Keys are inserted in one global order (station, key), allocations before events, so two
    # nodes storing overlapping batches wait for each other in one direction only: in batch
    # order, three nodes with batches (x, y), (y, z), (z, x) deadlock on the unique index.
    for e in sorted(events, key=lambda e: (e.station_id, e.idempotency_key)):
        key = (e.station_id, e.idempotency_key)
        if key not in stored and key not in new:
            if e.ocpp_transaction_id is None and e.kind is not EventKind.STARTED:
                raise ValueError("only a start may ask for a new transaction id")
            new[key] = e
    txids: dict[tuple[int, str], str] = {
        key: e.ocpp_transaction_id for key, e in new.items() if e.ocpp_transaction_id is not None
    }
    wanted = {key: e for key, e in new.items() if e.ocpp_transaction_id is None}
    if wanted:
        for pk, station, key in TransactionIdAllocation.objects.filter(
            charge_station_id__in={station for station, _ in wanted},
            idempotency_key__in={key for _, key in wanted},
        ).values_list("id", "charge_station_id", "idempotency_key"):
            if (station, key) in wanted:
                txids[(station, key)] = str(pk)
        missing = [key for key in wanted if key not in txids]
        allocations = TransactionIdAllocation.objects.bulk_create(
            [
                TransactionIdAllocation(
                    tenant_id=wanted[key].tenant_id,
                    charge_station_id=key[0],
                    idempotency_key=key[1],
                )
                for key in missing
            ]
        )
        for key, allocation in zip(missing, allocations, strict=True):
            txids[key] = str(allocation.pk)
    rows = [_event_row(e, txids[key]) for key, e in new.items()]
    insert_rows_returning(OcppEvent, rows)
    for key, row in zip(new, rows, strict=True):
        if row.pk is None:  # a backend that cannot return ids from a multi-row INSERT
            row.pk = OcppEvent.objects.get(charge_station_id=key[0], idempotency_key=key[1]).pk
        stored[key] = (row.pk, txids[key])
    results = []
    first = set()
    for e in events:
        key = (e.station_id, e.idempotency_key)
        pk, txid = stored[key]
        duplicate = key not in new or key in first
        first.add(key)
        results.append(TransactionEventResult(pk, txid, duplicate=duplicate))
    return results


def transaction_events_record(
    *,
    events: Sequence[TransactionEventIn],
    enqueue: Callable[[list[tuple[int, str]]], None] | None = None,
) -> list[TransactionEventResult]:
    """Store a batch of transaction messages in one database transaction (group commit).

    The batch is written set-based (`_store_batch`) in a savepoint. When that hits the unique
    index (two gateway nodes storing the same message at once), the savepoint is rolled back
    and the batch is stored one message per savepoint: the loser of the unique index reads the
    winner's row instead of failing the batch.

    On commit, the (station, transaction) pairs with a new event go to `enqueue` (default:
    publish the Celery tasks at once, in the committing thread, `jobs`; the gateway
    passes a non-blocking hand-off to its publisher thread).
    """
    results: list[TransactionEventResult] = []
    with transaction.atomic():
        try:
            with transaction.atomic():
                results = _store_batch(events)
        except IntegrityError:
            # One savepoint per message, in the batch's global key order (see _store_batch).
            by_position: dict[int, TransactionEventResult] = {}
            for i, event in sorted(
                enumerate(events), key=lambda p: (p[1].station_id, p[1].idempotency_key, p[0])
            ):
                try:
                    with transaction.atomic():
                        by_position[i] = _store_one(event)
                except IntegrityError:
                    by_position[i] = _store_one(dataclasses.replace(event))
            results = [by_position[i] for i in range(len(events))]
        touched = sorted(
            {
                (e.station_id, r.ocpp_transaction_id)
                for e, r in zip(events, results, strict=True)
                if not r.duplicate
            }
        )
        if touched:
            publish = enqueue or jobs.transactions_enqueue
            transaction.on_commit(lambda: publish(touched))
    return results


def status_events_record(*, events: Sequence[StatusEventIn]) -> None:
    insert_rows(
        StatusEvent,
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
        ],
    )
