"""Rating is queued right after CDRs are stored: on commit of the batch that wrote them,
by name, to the billing queue, and only when RATING_ENABLED (the pipeline benchmark
compares both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from apps.charging import api as charging_api
from apps.charging import jobs as charging_jobs
from apps.charging.contracts import EventKind, TransactionEventIn
from apps.charging.models import Cdr
from apps.charging.services import processing
from apps.rating import jobs, tasks
from config.celery import app

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _event(st: Any, kind: EventKind, key: str, minutes: int, **kw: Any) -> TransactionEventIn:
    return TransactionEventIn(
        tenant_id=st.tenant_id,
        station_id=st.pk,
        kind=kind,
        idempotency_key=key,
        protocol="1.6",
        action=kind.value,
        station_timestamp=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(hours=3),
        **kw,
    )


def _complete_sessions(st: Any, capture: Any, n: int) -> list[tuple[int, str]]:
    txids = []
    for i in range(n):
        with capture(execute=False):
            (r,) = charging_api.transaction_events_record(
                events=[
                    _event(
                        st,
                        EventKind.STARTED,
                        f"s{i}",
                        0,
                        evse_ocpp_id=1,
                        id_tag="04AA11BB22CC33",
                        meter_wh=Decimal(0),
                    )
                ]
            )
        txids.append(r.ocpp_transaction_id)
    with capture(execute=False):
        charging_api.transaction_events_record(
            events=[
                _event(
                    st, EventKind.ENDED, f"e{t}", 60, ocpp_transaction_id=t, meter_wh=Decimal(9000)
                )
                for t in txids
            ]
        )
    return [(st.pk, t) for t in txids]


def _sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append((name, options)))
    return sent


def test_the_cdrs_a_batch_stores_are_queued_for_rating_on_commit(
    station: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pairs = _complete_sessions(station["station"], django_capture_on_commit_callbacks, 3)
    sent = _sent(monkeypatch)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert processing.transactions_process(pairs) == []
        assert [n for n, _ in sent if n == jobs.RATE_CDRS] == []  # not before the commit
    for callback in callbacks:
        callback()

    rating = [options for name, options in sent if name == jobs.RATE_CDRS]
    ids = sorted(Cdr.objects.values_list("pk", flat=True))
    assert len(ids) == 3
    assert rating == [{"args": (ids,), "ignore_result": True}]
    assert charging_jobs.RATING_RATE_CDRS == jobs.RATE_CDRS == tasks.rate_cdrs.name
    assert app.amqp.router.route({}, jobs.RATE_CDRS)["queue"].name == "billing"
    for name in (jobs.RETRY_FLAGS, jobs.SWEEP_UNRATED):
        assert app.amqp.router.route({}, name)["queue"].name == "billing"


@override_settings(RATING_ENABLED=False)
def test_nothing_is_queued_when_rating_is_off(
    station: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pairs = _complete_sessions(station["station"], django_capture_on_commit_callbacks, 2)
    sent = _sent(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        assert processing.transactions_process(pairs) == []
    assert Cdr.objects.count() == 2
    assert [name for name, _ in sent if name == jobs.RATE_CDRS] == []
