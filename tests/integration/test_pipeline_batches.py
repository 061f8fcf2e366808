"""The fast paths of the transaction pipeline keep its guarantees: set-based intake of a
batch (and its per-message fallback), many transactions per task, the live-cost window, the
gateway's publisher thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from apps.charging import api as charging_api
from apps.charging import jobs, tasks
from apps.charging.contracts import EventKind, MeterSampleIn, TransactionEventIn
from apps.charging.models import (
    Cdr,
    ChargingSession,
    MeterValue,
    OcppEvent,
    TransactionIdAllocation,
)
from apps.charging.selectors import backlog
from apps.charging.services import intake, processing
from csms_gateway.backend import TaskPublisher

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
RECEIVED = T0 + timedelta(hours=3)


def event(st: Any, kind: EventKind, key: str, minutes: int, **kw: Any) -> TransactionEventIn:
    return TransactionEventIn(
        tenant_id=st.tenant_id,
        station_id=st.pk,
        kind=kind,
        idempotency_key=key,
        protocol="1.6",
        action=kind.value,
        station_timestamp=T0 + timedelta(minutes=minutes),
        received_at=RECEIVED,
        **kw,
    )


def start(st: Any, key: str) -> TransactionEventIn:
    return event(
        st, EventKind.STARTED, key, 0, evse_ocpp_id=1, id_tag="04AA11BB22CC33", meter_wh=Decimal(0)
    )


def record(events: list[TransactionEventIn], capture: Any) -> tuple[list[Any], list[Any]]:
    with capture(execute=False) as callbacks:
        results = charging_api.transaction_events_record(events=events)
    return results, callbacks


@pytest.mark.django_db
def test_a_batch_is_stored_set_based_with_resends_inside_and_across_batches(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    (first,), _ = record([start(st, "a")], django_capture_on_commit_callbacks)
    sent: list[list[tuple[int, str]]] = []
    with django_capture_on_commit_callbacks(execute=True):
        results = charging_api.transaction_events_record(
            events=[start(st, "a"), start(st, "b"), start(st, "b"), start(st, "c")],
            enqueue=sent.append,
        )
    assert [r.duplicate for r in results] == [True, False, True, False]
    assert results[0].ocpp_transaction_id == first.ocpp_transaction_id
    assert results[0].event_id == first.event_id
    assert results[1].event_id == results[2].event_id
    assert results[1].ocpp_transaction_id == results[2].ocpp_transaction_id
    txids = {first.ocpp_transaction_id, results[1].ocpp_transaction_id}
    assert len(txids | {results[3].ocpp_transaction_id}) == 3
    assert OcppEvent.objects.filter(charge_station=st).count() == 3
    assert TransactionIdAllocation.objects.filter(charge_station=st).count() == 3
    # Only the transactions with a new event are queued, once each.
    assert sent == [
        sorted([(st.pk, results[1].ocpp_transaction_id), (st.pk, results[3].ocpp_transaction_id)])
    ]


@pytest.mark.django_db
def test_a_conflicting_batch_falls_back_to_one_savepoint_per_message(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    st = station["station"]
    (first,), _ = record([start(st, "a")], django_capture_on_commit_callbacks)

    def conflict(events: Any) -> Any:
        raise IntegrityError("another node stored one of these meanwhile")

    monkeypatch.setattr(intake, "_store_batch", conflict)
    results, callbacks = record(
        [start(st, "a"), start(st, "b"), start(st, "b")], django_capture_on_commit_callbacks
    )
    assert [r.duplicate for r in results] == [True, False, True]
    assert results[0].ocpp_transaction_id == first.ocpp_transaction_id
    assert results[1].event_id == results[2].event_id
    assert OcppEvent.objects.filter(charge_station=st).count() == 2
    assert len(callbacks) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_stored_by_two_nodes_at_once(station: dict[str, Any]) -> None:
    st = station["station"]
    batches = [
        [start(st, "x"), start(st, "y")],
        [start(st, "y"), start(st, "z")],
        [start(st, "z"), start(st, "x")],
    ]
    barrier = threading.Barrier(len(batches))
    results: dict[int, list[Any]] = {}
    errors: list[BaseException] = []

    def node(n: int) -> None:
        try:
            barrier.wait(10)
            results[n] = charging_api.transaction_events_record(
                events=batches[n], enqueue=lambda keys: None
            )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=node, args=(n,)) for n in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    by_key: dict[str, set[tuple[int, str]]] = {}
    for n, batch in enumerate(batches):
        for e, r in zip(batch, results[n], strict=True):
            by_key.setdefault(e.idempotency_key, set()).add((r.event_id, r.ocpp_transaction_id))
    assert all(len(v) == 1 for v in by_key.values()), by_key
    assert OcppEvent.objects.filter(charge_station=st).count() == 3
    assert TransactionIdAllocation.objects.filter(charge_station=st).count() == 3
    assert sum(not r.duplicate for rs in results.values() for r in rs) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("fallback", [False, True])
def test_keys_are_inserted_in_one_global_order_whatever_the_batch_order(
    station: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
    fallback: bool,
) -> None:
    """The order that keeps overlapping batches from deadlocking on the unique index (three
    nodes with (x, y), (y, z), (z, x) did in CI): rows are inserted in (station, key) order,
    on the set-based path and on the per-message fallback, and results stay in batch order."""
    st = station["station"]
    if fallback:

        def conflict(events: Any) -> Any:
            raise IntegrityError("another node stored one of these meanwhile")

        monkeypatch.setattr(intake, "_store_batch", conflict)
    batch = [start(st, "z"), start(st, "x"), start(st, "y"), start(st, "x")]
    results, _ = record(batch, django_capture_on_commit_callbacks)
    assert [r.duplicate for r in results] == [False, False, False, True]
    assert results[1].event_id == results[3].event_id
    events = list(
        OcppEvent.objects.filter(charge_station=st)
        .order_by("pk")
        .values_list("idempotency_key", flat=True)
    )
    allocations = list(
        TransactionIdAllocation.objects.filter(charge_station=st)
        .order_by("pk")
        .values_list("idempotency_key", flat=True)
    )
    assert events == ["x", "y", "z"]
    assert allocations == ["x", "y", "z"]
    by_key = {e.idempotency_key: r for e, r in zip(batch, results, strict=True)}
    assert OcppEvent.objects.get(pk=by_key["z"].event_id).idempotency_key == "z"


@pytest.mark.django_db
def test_one_task_processes_many_transactions_and_skips_what_is_done(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    txids = []
    for key in ("p", "q", "r"):
        (r,), _ = record([start(st, key)], django_capture_on_commit_callbacks)
        txids.append(r.ocpp_transaction_id)
    stops = [
        event(st, EventKind.ENDED, f"end-{t}", 60, ocpp_transaction_id=t, meter_wh=Decimal(9000))
        for t in txids
    ]
    record(stops, django_capture_on_commit_callbacks)
    pairs = [(st.pk, t) for t in txids]
    assert processing.transactions_process(pairs) == []
    assert Cdr.objects.filter(session__charge_station=st).count() == 3
    assert all(not todo for todo in backlog.transactions_pending(pairs).values())
    assert processing.transactions_process(pairs) == []  # a redelivery: nothing to do
    assert Cdr.objects.filter(session__charge_station=st).count() == 3
    totals = set(Cdr.objects.values_list("total_cost_excl_vat", flat=True))
    assert totals == {Decimal("3.20")}  # 9 kWh × 0.30 + 0.50


@pytest.mark.django_db
def test_live_cost_is_priced_at_most_once_per_window_and_still_follows(
    station: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    monkeypatch: Any,
) -> None:
    settings.CHARGING_LIVE_COST_SECONDS = 30
    # Only the window's come-back tasks are counted here; publishing each pricing for
    # CostUpdated (another on-commit callback when REDIS_URL is set) has its own test.
    settings.REDIS_URL = ""
    st = station["station"]
    (r,), _ = record([start(st, "live")], django_capture_on_commit_callbacks)
    txid = r.ocpp_transaction_id

    def meter(key: str, minutes: int, wh: int) -> None:
        sample = MeterSampleIn(timestamp=T0 + timedelta(minutes=minutes), energy_wh=Decimal(wh))
        record(
            [
                event(
                    st, EventKind.UPDATED, key, minutes, ocpp_transaction_id=txid, samples=(sample,)
                )
            ],
            django_capture_on_commit_callbacks,
        )

    def process() -> list[Any]:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            processing.transactions_process([(st.pk, txid)])
        return callbacks

    meter("m1", 30, 7000)
    assert process() == []
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    assert session.live_cost_excl_vat == Decimal("2.60")  # 7 kWh × 0.30 + 0.50
    meter("m2", 45, 10000)
    assert process() == []  # inside the window: not priced now, and no task per session
    session.refresh_from_db()
    assert session.energy_wh == Decimal("10000.000")
    assert session.live_cost_excl_vat == Decimal("2.60")
    # Behind, but nothing to do until the window is over: a redelivered task is cheap.
    assert backlog.transactions_pending([(st.pk, txid)]) == {(st.pk, txid): False}
    meter("m3", 50, 10000)
    assert process() == []
    # The live-cost sweep finds the session once its window is over, not before.
    assert backlog.stale_live_costs(older_than=timezone.now()) == []
    later = timezone.now() + timedelta(seconds=31)
    assert backlog.stale_live_costs(older_than=later) == [(st.pk, txid)]
    ChargingSession.objects.filter(pk=session.pk).update(
        live_cost_at=session.live_cost_at - timedelta(seconds=31)
    )
    assert backlog.stale_live_costs(older_than=timezone.now()) == [(st.pk, txid)]
    assert backlog.transactions_pending([(st.pk, txid)]) == {(st.pk, txid): True}
    published: list[list[tuple[int, str]]] = []
    monkeypatch.setattr(jobs, "transactions_enqueue", published.append)
    assert tasks.sweep_live_costs() == 1
    assert published == [[(st.pk, txid)]]
    assert process() == []  # what the swept task does
    session.refresh_from_db()
    assert session.live_cost_excl_vat == Decimal("3.50")  # 10 kWh × 0.30 + 0.50
    assert backlog.transactions_pending([(st.pk, txid)]) == {(st.pk, txid): False}
    assert backlog.stale_live_costs(older_than=later) == []
    assert MeterValue.objects.filter(session=session).count() == 3


def test_the_publisher_merges_what_waits_and_survives_a_broker_error() -> None:
    published: list[list[tuple[int, str]]] = []
    gate = threading.Event()
    publishing = threading.Event()

    def publish(keys: list[tuple[int, str]]) -> None:
        publishing.set()
        gate.wait(5)
        if keys == [(0, "boom")]:
            raise ConnectionError("broker down")
        published.append(keys)

    p = TaskPublisher(publish)
    p.start()
    p.put([(0, "boom")])
    # Wait until the thread is blocked publishing the first batch (not a fixed sleep: under
    # load the thread may start later, and the next puts would join the first batch).
    assert publishing.wait(10)
    p.put([(1, "a"), (2, "b")])
    p.put([(1, "a"), (3, "c")])
    gate.set()
    p.stop()
    assert published == [[(1, "a"), (2, "b"), (3, "c")]]


@pytest.mark.django_db
def test_a_batch_of_statuses_leaves_each_evse_at_its_last_status() -> None:
    from apps.locations import api as locations_api
    from apps.locations.models import Evse
    from tests.factories import ConnectorFactory

    a = ConnectorFactory().evse
    b = ConnectorFactory().evse
    locations_api.evse_statuses_record(
        updates=[
            (a.charge_station_id, a.ocpp_evse_id, "Charging"),
            (b.charge_station_id, b.ocpp_evse_id, "Faulted"),
            (a.charge_station_id, a.ocpp_evse_id, "Available"),
        ]
    )
    assert Evse.objects.get(pk=a.pk).status == "AVAILABLE"
    assert Evse.objects.get(pk=b.pk).status == "OUTOFORDER"


@pytest.mark.django_db
def test_connectors_resolved_in_bulk_as_one_by_one() -> None:
    from apps.locations import api as locations_api
    from tests.factories import ConnectorFactory

    a = ConnectorFactory()
    st = a.evse.charge_station_id
    keys = [(st, a.evse.ocpp_evse_id, None), (st, a.evse.ocpp_evse_id, 1), (st, 99, None)]
    keys.append((st, None, None))
    bulk = locations_api.connectors_resolve(keys=keys)
    for station, evse, connector in keys:
        one = locations_api.connector_resolve(
            station_id=station, evse_ocpp_id=evse, connector_ocpp_id=connector
        )
        assert bulk[(station, evse, connector)] == one
    assert bulk[(st, a.evse.ocpp_evse_id, None)] is not None


@pytest.mark.django_db
def test_live_cost_pricing_tells_internal_consumers_once_per_window(
    station: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    monkeypatch: Any,
) -> None:
    """Each live-cost pricing of a running session emits the internal `session.updated`
    (the OCPI consumer turns it into a Session PATCH): once per window, keyed by the
    pricing's instant, and nothing inside the window. The worker's clock is held."""
    import json
    from types import SimpleNamespace

    from apps.integrations import api as integrations_api
    from apps.integrations import consumers as integrations_consumers

    settings.CHARGING_LIVE_COST_SECONDS = 30
    settings.REDIS_URL = ""
    st = station["station"]
    integrations_api.event_consumer_set(
        tenant_id=st.tenant_id, name="roaming.ocpi_events", events=["session.updated"]
    )
    queued: list[Any] = []
    monkeypatch.setattr(
        integrations_consumers, "enqueue", lambda name, payload, **kw: queued.append(payload)
    )
    clock = [T0 + timedelta(hours=4)]
    monkeypatch.setattr(processing, "timezone", SimpleNamespace(now=lambda: clock[0]))
    (r,), _ = record([start(st, "upd")], django_capture_on_commit_callbacks)
    txid = r.ocpp_transaction_id

    def meter(key: str, minutes: int, wh: int) -> None:
        sample = MeterSampleIn(timestamp=T0 + timedelta(minutes=minutes), energy_wh=Decimal(wh))
        record(
            [
                event(
                    st, EventKind.UPDATED, key, minutes, ocpp_transaction_id=txid, samples=(sample,)
                )
            ],
            django_capture_on_commit_callbacks,
        )

    def process() -> list[dict[str, Any]]:
        with django_capture_on_commit_callbacks(execute=True):
            processing.transactions_process([(st.pk, txid)])
        out = [e for p in queued for e in json.loads(p)]
        queued.clear()
        return out

    assert process() == []  # the start alone: no meter value yet, nothing priced to tell
    meter("u1", 30, 7000)
    [e] = process()
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    assert (e["type"], e["key"]) == (
        "session.updated",
        f"session:{session.pk}:live:2026-11-20T13:00:00Z",
    )
    assert Decimal(str(e["data"]["total_cost"]["excl_vat"])) == Decimal("2.60")
    clock[0] += timedelta(seconds=10)
    meter("u2", 45, 10000)
    assert process() == []  # inside the window: not priced, nobody told
    clock[0] += timedelta(seconds=20)
    meter("u3", 50, 10500)
    [e] = process()
    assert e["key"] == f"session:{session.pk}:live:2026-11-20T13:00:30Z"
