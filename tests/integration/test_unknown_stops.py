"""OCPP 1.x stops under a transaction id we never issued (-1, 0, a lost Start answer):
matched to the one session they can only belong to, or flagged; never dropped, never a
second CDR (docs/gateway.md "Unknown stops")."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.charging.contracts import EventKind, MeterSampleIn, SessionStatus
from apps.charging.models import Cdr, ChargingSession, OcppEvent, ReviewFlag
from apps.charging.selectors import backlog
from apps.charging.services import processing
from tests.integration.test_pipeline_batches import RECEIVED, T0, event, record

pytestmark = pytest.mark.django_db
TAG = "04AA11BB22CC33"
WINDOW = {"older_than": RECEIVED + timedelta(minutes=1), "newer_than": T0 - timedelta(days=1)}


def begin(st: Any, capture: Any, key: str, *, tag: str = TAG, minutes: int = 0) -> str:
    """A started transaction, processed: an active session. Returns its transaction id."""
    (r,), _ = record(
        [
            event(
                st,
                EventKind.STARTED,
                key,
                minutes,
                evse_ocpp_id=1,
                id_tag=tag,
                meter_wh=Decimal(0),
            )
        ],
        capture,
    )
    assert processing.transactions_process([(st.pk, r.ocpp_transaction_id)]) == []
    return str(r.ocpp_transaction_id)


def unknown_stop(
    st: Any, capture: Any, key: str, *, txid: str = "-1", minutes: int = 60, **kw: Any
) -> None:
    kw.setdefault("id_tag", TAG)
    kw.setdefault("meter_wh", Decimal(9000))
    record([event(st, EventKind.ENDED, key, minutes, ocpp_transaction_id=txid, **kw)], capture)


def flag_of(st: Any, txid: str = "-1") -> ReviewFlag | None:
    return ReviewFlag.objects.filter(
        charge_station=st, ocpp_transaction_id=txid, reason="UNKNOWN_TRANSACTION"
    ).first()


def test_an_unknown_stop_ends_the_one_session_it_fits(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    txid = begin(st, django_capture_on_commit_callbacks, "s")
    unknown_stop(st, django_capture_on_commit_callbacks, "stop", reason="Local")
    assert processing.transactions_process([(st.pk, "-1")]) == []

    session = ChargingSession.objects.get(charge_station=st)
    stop = OcppEvent.objects.get(charge_station=st, ocpp_transaction_id="-1")
    assert (session.ocpp_transaction_id, session.status) == (txid, SessionStatus.COMPLETED)
    assert (session.ended_at, session.meter_stop_wh, session.energy_wh) == (
        T0 + timedelta(minutes=60),
        Decimal(9000),
        Decimal(9000),
    )
    assert (session.stop_reason, session.matched_stop_event_id) == ("Local", stop.pk)
    assert session.last_event_id == stop.pk
    (cdr,) = Cdr.objects.filter(session=session)
    assert cdr.total_cost_excl_vat == Decimal("3.20")  # 9 kWh × 0.30 + 0.50
    assert flag_of(st) is None
    assert not ChargingSession.objects.filter(ocpp_transaction_id="-1").exists()
    # Nothing is left for the sweeper: neither the session nor the stop's own id.
    assert backlog.unprocessed_transactions(**WINDOW) == []


def test_a_start_and_an_unknown_stop_in_one_batch_are_matched(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    (r,), _ = record(
        [event(st, EventKind.STARTED, "s", 0, evse_ocpp_id=1, id_tag=TAG, meter_wh=Decimal(0))],
        django_capture_on_commit_callbacks,
    )
    unknown_stop(st, django_capture_on_commit_callbacks, "stop", txid="0")
    assert processing.transactions_process([(st.pk, r.ocpp_transaction_id), (st.pk, "0")]) == []
    session = ChargingSession.objects.get(charge_station=st)
    assert (session.status, session.meter_stop_wh) == (SessionStatus.COMPLETED, Decimal(9000))
    assert Cdr.objects.filter(session=session).count() == 1
    assert flag_of(st, "0") is None


def test_two_active_sessions_make_an_unknown_stop_ambiguous_for_good(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    first = begin(st, django_capture_on_commit_callbacks, "a")
    second = begin(st, django_capture_on_commit_callbacks, "b", minutes=5)
    unknown_stop(st, django_capture_on_commit_callbacks, "stop")
    assert processing.transactions_process([(st.pk, "-1")]) == []

    flag = flag_of(st)
    assert flag is not None
    assert flag.details["unmatched"] == "ambiguous"
    assert sorted(flag.details["fitting_sessions"]) == sorted([first, second])
    assert flag.event_id == OcppEvent.objects.get(ocpp_transaction_id="-1").pk
    statuses = ChargingSession.objects.filter(charge_station=st).values_list("status", flat=True)
    assert list(statuses) == [SessionStatus.ACTIVE, SessionStatus.ACTIVE]
    assert not Cdr.objects.exists()

    # The second session ends with its own stop, after the unknown one. Processed again,
    # the unknown stop is still ambiguous: both sessions were in progress at its time.
    record(
        [event(st, EventKind.ENDED, "b-end", 70, ocpp_transaction_id=second, meter_wh=Decimal(10))],
        django_capture_on_commit_callbacks,
    )
    assert processing.transactions_process([(st.pk, second)]) == []
    assert processing.transactions_process([(st.pk, "-1")]) == []
    assert ChargingSession.objects.get(ocpp_transaction_id=first).status == SessionStatus.ACTIVE
    assert ChargingSession.objects.filter(matched_stop_event__isnull=False).count() == 0
    assert Cdr.objects.count() == 1  # the second session's own


def test_an_unknown_stop_with_another_id_tag_is_flagged(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    txid = begin(st, django_capture_on_commit_callbacks, "s")
    unknown_stop(st, django_capture_on_commit_callbacks, "stop", id_tag="DEADBEEF")
    assert processing.transactions_process([(st.pk, "-1")]) == []

    flag = flag_of(st)
    assert flag is not None
    assert (flag.details["unmatched"], flag.details["fitting_sessions"]) == (
        "no active session fits",
        [],
    )
    assert flag.details["id_tag"] == "DEADBEEF"
    session = ChargingSession.objects.get(ocpp_transaction_id=txid)
    assert (session.status, session.matched_stop_event_id) == (SessionStatus.ACTIVE, None)
    assert not Cdr.objects.exists()


def test_an_unknown_stop_never_takes_a_session_whose_own_stop_is_queued(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    txid = begin(st, django_capture_on_commit_callbacks, "s")
    # The session's own stop is stored (its processing still queued), then an unknown one.
    record(
        [event(st, EventKind.ENDED, "own", 50, ocpp_transaction_id=txid, meter_wh=Decimal(8000))],
        django_capture_on_commit_callbacks,
    )
    unknown_stop(st, django_capture_on_commit_callbacks, "stop")
    assert processing.transactions_process([(st.pk, "-1")]) == []
    assert flag_of(st) is not None
    assert processing.transactions_process([(st.pk, txid)]) == []
    session = ChargingSession.objects.get()
    assert (session.meter_stop_wh, session.matched_stop_event_id) == (Decimal(8000), None)
    assert Cdr.objects.count() == 1


@pytest.mark.parametrize(
    ("why", "stop"),
    [
        ("before the start", {"minutes": -10}),
        ("meter below the start's", {"meter_wh": Decimal(-1)}),
    ],
)
def test_an_unknown_stop_that_cannot_end_the_session_is_flagged(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any, why: str, stop: Any
) -> None:
    st = station["station"]
    begin(st, django_capture_on_commit_callbacks, "s")
    unknown_stop(st, django_capture_on_commit_callbacks, "stop", **stop)
    assert processing.transactions_process([(st.pk, "-1")]) == []
    assert flag_of(st) is not None, why
    assert ChargingSession.objects.get().status == SessionStatus.ACTIVE
    assert not Cdr.objects.exists()


def test_a_replayed_unknown_stop_makes_no_second_cdr_and_a_late_update_changes_nothing(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    txid = begin(st, django_capture_on_commit_callbacks, "s")
    unknown_stop(st, django_capture_on_commit_callbacks, "stop")
    assert processing.transactions_process([(st.pk, "-1")]) == []
    session = ChargingSession.objects.get()
    ended = (session.ended_at, session.meter_stop_wh, session.energy_wh, session.status)

    # The station resends the stop (same message: stored once) and the work is redelivered.
    results, _ = record(
        [
            event(
                st,
                EventKind.ENDED,
                "stop",
                60,
                ocpp_transaction_id="-1",
                id_tag=TAG,
                meter_wh=Decimal(9000),
            )
        ],
        django_capture_on_commit_callbacks,
    )
    assert [r.duplicate for r in results] == [True]
    assert processing.transactions_process([(st.pk, "-1"), (st.pk, txid)]) == []
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id="-1")
    # A meter value of the session's own id arrives late: the session keeps its matched end.
    record(
        [
            event(
                st,
                EventKind.UPDATED,
                "late",
                30,
                ocpp_transaction_id=txid,
                samples=(
                    MeterSampleIn(timestamp=T0 + timedelta(minutes=30), energy_wh=Decimal(4000)),
                ),
            )
        ],
        django_capture_on_commit_callbacks,
    )
    assert processing.transactions_process([(st.pk, txid)]) == []
    session.refresh_from_db()
    assert (session.ended_at, session.meter_stop_wh, session.energy_wh, session.status) == ended
    assert Cdr.objects.filter(session=session).count() == 1
    assert flag_of(st) is None

    # Another -1 stop later, with no session in progress: flagged, still one CDR.
    unknown_stop(st, django_capture_on_commit_callbacks, "stop-2", minutes=90)
    assert processing.transactions_process([(st.pk, "-1")]) == []
    flag = flag_of(st)
    assert flag is not None and flag.details["unmatched"] == "no active session fits"
    assert Cdr.objects.count() == 1
    assert ChargingSession.objects.get().matched_stop_event_id == (
        OcppEvent.objects.get(idempotency_key="stop").pk
    )


def test_matching_unknown_stops_costs_the_same_queries_for_one_or_three(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Set-based: the queries of a batch do not grow with its unknown stops."""
    st = station["station"]
    capture = django_capture_on_commit_callbacks

    def batch(tags: list[str], txids: list[str], minutes: int) -> int:
        for tag in tags:
            begin(st, capture, f"start-{tag}", tag=tag, minutes=minutes)
        for tag, txid in zip(tags, txids, strict=True):
            unknown_stop(st, capture, f"stop-{tag}", txid=txid, id_tag=tag, minutes=minutes + 60)
        with CaptureQueriesContext(connection) as queries:
            assert processing.transactions_process([(st.pk, t) for t in txids]) == []
        return len(queries)

    one = batch(["A"], ["-1"], 0)
    three = batch(["B", "C", "D"], ["0", "77", "78"], 120)
    assert ChargingSession.objects.filter(status=SessionStatus.COMPLETED).count() == 4
    assert Cdr.objects.count() == 4
    assert not ReviewFlag.objects.filter(reason="UNKNOWN_TRANSACTION").exists()
    assert three == one
