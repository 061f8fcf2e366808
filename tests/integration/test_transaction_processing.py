"""Event log → session → CDR without a gateway or worker: idempotency and the sweeper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging import api as charging_api
from apps.charging.contracts import EventKind, MeterSampleIn, TransactionEventIn
from apps.charging.models import Cdr, ChargingSession, MeterValue, OcppEvent, ReviewFlag
from apps.charging.selectors import backlog
from apps.charging.services import processing

pytestmark = pytest.mark.django_db

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


def record(events: list[TransactionEventIn], capture: Any) -> list[Any]:
    with capture(execute=False):  # no worker here: process by hand
        return charging_api.transaction_events_record(events=events)


def test_events_are_stored_once_and_the_cdr_is_written_once(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    start = event(
        st,
        EventKind.STARTED,
        "s",
        0,
        evse_ocpp_id=1,
        id_tag="04AA11BB22CC33",
        meter_wh=Decimal(1000),
    )
    (first,) = record([start], django_capture_on_commit_callbacks)
    (again,) = record([start], django_capture_on_commit_callbacks)
    assert (again.ocpp_transaction_id, again.duplicate) == (first.ocpp_transaction_id, True)
    txid = first.ocpp_transaction_id
    sample = MeterSampleIn(timestamp=T0 + timedelta(minutes=30), energy_wh=Decimal(8000))
    update = event(st, EventKind.UPDATED, "u", 30, ocpp_transaction_id=txid, samples=(sample,))
    stop = event(st, EventKind.ENDED, "e", 60, ocpp_transaction_id=txid, meter_wh=Decimal(10000))
    record([update, stop], django_capture_on_commit_callbacks)

    for _ in range(3):  # redelivered tasks
        processing.transaction_process(station_id=st.pk, ocpp_transaction_id=txid)
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    assert OcppEvent.objects.filter(charge_station=st).count() == 3
    assert MeterValue.objects.filter(session=session).count() == 1
    assert Cdr.objects.filter(session=session).count() == 1
    cdr = Cdr.objects.get(session=session)
    assert cdr.total_energy_kwh == Decimal("9.0000")
    assert cdr.total_cost_excl_vat == Decimal("3.20")  # 9 × 0.30 + 0.50, no parking
    assert cdr.tariff_version_id == session.tariff_version_id


def test_sweeper_finds_what_was_stored_but_never_processed(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    (started,) = record(
        [event(st, EventKind.STARTED, "s", 0, evse_ocpp_id=1, meter_wh=Decimal(0))],
        django_capture_on_commit_callbacks,
    )
    txid = started.ocpp_transaction_id
    window = {"older_than": RECEIVED + timedelta(minutes=1), "newer_than": T0}
    assert backlog.unprocessed_transactions(**window) == [(st.pk, txid)]
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id=txid)
    assert backlog.unprocessed_transactions(**window) == []
    record(
        [event(st, EventKind.ENDED, "e", 60, ocpp_transaction_id=txid, meter_wh=Decimal(10))],
        django_capture_on_commit_callbacks,
    )
    assert backlog.unprocessed_transactions(**window) == [(st.pk, txid)]
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id=txid)
    assert backlog.unprocessed_transactions(**window) == []


def test_an_unknown_stop_is_flagged_once_and_not_swept_again(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    record(
        [event(st, EventKind.ENDED, "x", 0, ocpp_transaction_id="0", meter_wh=Decimal(5))],
        django_capture_on_commit_callbacks,
    )
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id="0")
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id="0")
    assert ReviewFlag.objects.filter(reason="UNKNOWN_TRANSACTION").count() == 1
    window = {"older_than": RECEIVED + timedelta(minutes=1), "newer_than": T0}
    assert backlog.unprocessed_transactions(**window) == []
    assert not ChargingSession.objects.exists()


def test_a_session_without_tariff_is_flagged_and_gets_no_guessed_cdr(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tests.factories import ConnectorFactory

    st = ConnectorFactory().evse.charge_station
    (started,) = record(
        [event(st, EventKind.STARTED, "s", 0, evse_ocpp_id=1, meter_wh=Decimal(0))],
        django_capture_on_commit_callbacks,
    )
    txid = started.ocpp_transaction_id
    record(
        [event(st, EventKind.ENDED, "e", 30, ocpp_transaction_id=txid, meter_wh=Decimal(500))],
        django_capture_on_commit_callbacks,
    )
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id=txid)
    assert list(ReviewFlag.objects.values_list("reason", flat=True)) == ["NO_TARIFF"]
    assert not Cdr.objects.exists()
