"""A second, different stop for a transaction that already ended (issue 15, item 22).

The same messages must give the same CDR whatever the worker's runs: the first stop the
gateway received (the event log order) wins; a later one is kept in the log, flagged
CONFLICTING_STOP and never applied (no moved end, no meter values, no second CDR). Every
ordering of worker runs is tested, for OCPP 1.6 StopTransaction and for a 2.0.1
TransactionEvent(Ended) resent with the same seqNo and a later timestamp.

Tariff (tests/journey_fixtures.py): FLAT 0.50 + ENERGY 0.30 / kWh, VAT 21 %; no status
events, so all of it is charging time. The first stop: 10 kWh, 20 minutes:
0.50 + 10 × 0.30 = 3.50 excl; 0.605 + 3.63 = 4.235 → 4.24 incl (ROUND_HALF_UP).
The later stop would have made it 11 kWh / 28 minutes (3.80 excl).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging.contracts import EventKind, FlagReason, MeterSampleIn, TransactionEventIn
from apps.charging.models import Cdr, ChargingSession, MeterValue, OcppEvent, ReviewFlag
from apps.charging.services import processing
from tests.integration.test_transaction_processing import record

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def ev(
    st: Any, protocol: str, kind: EventKind, key: str, minutes: int, **kw: Any
) -> TransactionEventIn:
    return TransactionEventIn(
        tenant_id=st.tenant_id,
        station_id=st.pk,
        kind=kind,
        idempotency_key=key,
        protocol=protocol,
        action=(
            "TransactionEvent"
            if protocol == "2.0.1"
            else {"STARTED": "StartTransaction", "ENDED": "StopTransaction"}[kind.value]
        ),
        station_timestamp=T0 + timedelta(minutes=minutes),
        # Received as they happen (live), the second stop some minutes after the first.
        received_at=T0 + timedelta(minutes=minutes, seconds=2),
        **kw,
    )


def messages_16(st: Any, capture: Any) -> tuple[str, TransactionEventIn, TransactionEventIn]:
    (started,) = record(
        [
            ev(
                st,
                "1.6",
                EventKind.STARTED,
                "start",
                0,
                evse_ocpp_id=1,
                id_tag="04AA11BB22CC33",
                meter_wh=Decimal(0),
            )
        ],
        capture,
    )
    txid = started.ocpp_transaction_id
    first = ev(
        st, "1.6", EventKind.ENDED, "stop-1", 20, ocpp_transaction_id=txid, meter_wh=Decimal(10000)
    )
    # Sent again for the same transaction, later and with a later meter reading (and a sample
    # in its transactionData that must not become a meter value of the session).
    second = ev(
        st,
        "1.6",
        EventKind.ENDED,
        "stop-2",
        28,
        ocpp_transaction_id=txid,
        meter_wh=Decimal(11000),
        samples=(MeterSampleIn(timestamp=T0 + timedelta(minutes=28), energy_wh=Decimal(11000)),),
    )
    return txid, first, second


def messages_201(st: Any, capture: Any) -> tuple[str, TransactionEventIn, TransactionEventIn]:
    txid = "tx-201-a"
    record(
        [
            ev(
                st,
                "2.0.1",
                EventKind.STARTED,
                "te-0",
                0,
                ocpp_transaction_id=txid,
                evse_ocpp_id=1,
                connector_ocpp_id=1,
                id_tag="04AA11BB22CC33",
                meter_wh=Decimal(0),
                seq_no=0,
            )
        ],
        capture,
    )

    def ended(key: str, minutes: int, wh: int) -> TransactionEventIn:
        return ev(
            st,
            "2.0.1",
            EventKind.ENDED,
            key,
            minutes,
            ocpp_transaction_id=txid,
            evse_ocpp_id=1,
            meter_wh=Decimal(wh),
            seq_no=1,  # the same seqNo: the same message, resent with other content
            samples=(
                MeterSampleIn(timestamp=T0 + timedelta(minutes=minutes), energy_wh=Decimal(wh)),
            ),
        )

    return txid, ended("te-1", 20, 10000), ended("te-1-again", 28, 11000)


def one(st: Any, txid: str) -> None:
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id=txid)


def batch(st: Any, txid: str) -> None:
    assert processing.transactions_process([(st.pk, txid)]) == []


# Each ordering: which messages are in the log before each worker run.
ORDERINGS: dict[str, Callable[[Callable[..., None], Any, str, Any, Any, Any], None]] = {}


def ordering(fn: Callable[..., None]) -> Callable[..., None]:
    ORDERINGS[fn.__name__] = fn
    return fn


@ordering
def both_stops_in_one_run(run: Any, st: Any, txid: str, first: Any, second: Any, cap: Any) -> None:
    record([first, second], cap)
    run(st, txid)


@ordering
def both_stored_then_two_runs(
    run: Any, st: Any, txid: str, first: Any, second: Any, cap: Any
) -> None:
    record([first], cap)
    record([second], cap)
    run(st, txid)
    run(st, txid)  # a redelivered task


@ordering
def second_stop_after_the_cdr_exists(
    run: Any, st: Any, txid: str, first: Any, second: Any, cap: Any
) -> None:
    record([first], cap)
    run(st, txid)
    assert Cdr.objects.count() == 1
    record([second], cap)
    run(st, txid)


@ordering
def start_processed_alone_then_both_stops(
    run: Any, st: Any, txid: str, first: Any, second: Any, cap: Any
) -> None:
    run(st, txid)  # the session exists, active
    record([first, second], cap)
    run(st, txid)


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
@pytest.mark.parametrize("run", [one, batch], ids=["task", "batch-task"])
@pytest.mark.parametrize("order", sorted(ORDERINGS))
def test_the_first_stop_received_wins_whatever_the_worker_runs(
    order: str,
    run: Callable[[Any, str], None],
    protocol: str,
    station: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    st = station["station"]
    cap = django_capture_on_commit_callbacks
    messages = messages_16 if protocol == "1.6" else messages_201
    txid, first, second = messages(st, cap)
    ORDERINGS[order](run, st, txid, first, second, cap)

    # Both stops are stored (nothing is dropped) ...
    stops = list(
        OcppEvent.objects.filter(charge_station=st, kind=EventKind.ENDED.value).order_by("id")
    )
    assert [e.idempotency_key for e in stops] == [first.idempotency_key, second.idempotency_key]
    # ... the first ends the session ...
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    assert session.ended_at == T0 + timedelta(minutes=20)
    assert session.meter_stop_wh == Decimal(10000)
    assert session.energy_wh == Decimal(10000)
    assert session.last_event_id == stops[1].id  # seen, so the sweeper does not come back
    # ... the later one adds no meter value ...
    assert not MeterValue.objects.filter(session=session, source_event_id=stops[1].id).exists()
    # ... and the CDR is the first stop's: 10 kWh, 20 minutes, once.
    (cdr,) = Cdr.objects.filter(session=session)
    assert cdr.total_energy_kwh == Decimal("10.0000")
    assert cdr.total_time_hours == Decimal("0.333333")
    assert cdr.total_cost_excl_vat == Decimal("3.50")
    assert cdr.total_cost_incl_vat == Decimal("4.24")
    assert cdr.data["end_date_time"] == "2026-11-20T09:20:00Z"
    # The later stop is flagged for review, naming both.
    (flag,) = ReviewFlag.objects.filter(charge_station=st, ocpp_transaction_id=txid)
    assert flag.reason == FlagReason.CONFLICTING_STOP
    assert (flag.session_id, flag.event_id, flag.status) == (session.pk, stops[1].id, "OPEN")
    assert flag.details["applied"]["event_id"] == stops[0].id
    assert flag.details["applied"]["meter_wh"] == "10000.000"
    assert flag.details["ignored"]["event_id"] == stops[1].id
    assert flag.details["ignored"]["meter_wh"] == "11000.000"
    assert flag.details["ignored"]["station_timestamp"] == "2026-11-20T09:28:00+00:00"
    assert flag.details["same_seq_no"] is (protocol == "2.0.1")


def test_a_single_stop_raises_no_flag(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    txid, first, _ = messages_16(st, django_capture_on_commit_callbacks)
    record([first], django_capture_on_commit_callbacks)
    one(st, txid)
    one(st, txid)
    assert Cdr.objects.get().total_energy_kwh == Decimal("10.0000")
    assert not ReviewFlag.objects.exists()


def test_the_flag_is_in_the_review_queue_with_its_reason_and_both_stops(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from django.urls import reverse

    from tests.factories import MembershipFactory, UserFactory
    from tests.portal.world import signed_in_client

    st = station["station"]
    cap = django_capture_on_commit_callbacks
    txid, first, second = messages_16(st, cap)
    record([first, second], cap)
    one(st, txid)
    user = UserFactory(username="finance@c.test", email="finance@c.test")
    MembershipFactory(user=user, tenant=st.tenant, role="finance")
    page = (
        signed_in_client(user)
        .get(reverse("portal:flags", args=[st.tenant.slug]), {"reason": "CONFLICTING_STOP"})
        .content.decode()
    )
    assert "<strong>CONFLICTING_STOP</strong>" in page
    assert "The first stop received was applied" in page
    assert (
        "applied: stop at 2026-11-20T09:20:00+00:00, meter 10000.000 Wh "
        "(received 2026-11-20T09:20:02+00:00) · ignored: stop at 2026-11-20T09:28:00+00:00, "
        "meter 11000.000 Wh (received 2026-11-20T09:28:02+00:00)"
    ) in page
