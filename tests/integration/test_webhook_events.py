"""Webhook events from the worker, the status intake and the Authorize answers: written in the
emitter's transaction through the outbox (one INSERT per batch), nothing for a rolled-back
change, nothing twice for a replayed fact, nothing for tenants without a subscription, and
never to another tenant's subscriber."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.charging import api as charging_api
from apps.charging.contracts import EventKind
from apps.charging.models import Cdr, ChargingSession
from apps.charging.selectors.events import events_by_transaction
from apps.charging.services import cdrs, processing
from apps.charging.services.batch import Lookups
from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.integrations.contracts import SUBSCRIBABLE_EVENTS
from apps.integrations.models import WebhookDelivery
from apps.locations import api as locations_api
from apps.locations.contracts import EvseStatusReport
from apps.tokens import api as tokens_api
from apps.tokens.contracts import AuthorizationReport, AuthorizationStatus
from tests.factories import OperatorFactory, TokenFactory
from tests.integration.test_pipeline_batches import T0, event, start

SETUP = Actor.system("test setup")

pytestmark = pytest.mark.django_db


def subscribe(tenant_id: int, events: tuple[str, ...] = SUBSCRIBABLE_EVENTS) -> int:
    sub_id, _ = integrations_api.webhook_subscription_create(
        tenant_id=tenant_id, url="http://127.0.0.1:9/hook", events=events, actor=SETUP
    )
    return sub_id


def stop(st: Any, key: str, txid: str) -> Any:
    return event(st, EventKind.ENDED, key, 60, ocpp_transaction_id=txid, meter_wh=Decimal("9000"))


def record(st: Any, *events: Any, capture: Any) -> list[Any]:
    with capture(execute=False):
        return charging_api.transaction_events_record(events=list(events))


def deliveries(sub_id: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (d.event_type, json.loads(d.body))
        for d in WebhookDelivery.objects.filter(subscription_id=sub_id).order_by("id")
    ]


def delivery_inserts(queries: CaptureQueriesContext) -> int:
    return sum(
        1
        for q in queries.captured_queries
        if q["sql"].startswith("INSERT") and "integrations_webhookdelivery" in q["sql"]
    )


def test_a_batch_emits_each_fact_once_in_one_insert_and_a_replay_emits_nothing(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    sub = subscribe(st.tenant_id)
    other_tenant = OperatorFactory()
    other = subscribe(other_tenant.pk)
    started = record(
        st, start(st, "s1"), start(st, "s2"), capture=django_capture_on_commit_callbacks
    )
    tx1, tx2 = (r.ocpp_transaction_id for r in started)
    record(st, stop(st, "e1", tx1), capture=django_capture_on_commit_callbacks)
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        assert processing.transactions_process([(st.pk, tx1), (st.pk, tx2)]) == []
    assert delivery_inserts(queries) == 1  # the whole batch's events in one INSERT
    dispatches = [c for c in callbacks if "dispatch" in c.__qualname__]
    assert len(dispatches) == 1  # one message queues the dispatch of the whole batch
    got = deliveries(sub)
    assert sorted(t for t, _ in got) == [
        "cdr.created",
        "session.ended",
        "session.started",
        "session.started",
    ]
    by_type = {t: body for t, body in got}
    cdr = charging_api.cdr_get(
        tenant_id=st.tenant_id, cdr_id=by_type["cdr.created"]["data"]["platform_id"]
    )
    assert by_type["cdr.created"]["data"]["id"] == cdr.id
    assert by_type["cdr.created"]["data"]["total_cost"] == {"excl_vat": 3.2, "incl_vat": 3.87}
    ended = by_type["session.ended"]["data"]
    assert (ended["status"], ended["kwh"], ended["auth_method"]) == ("COMPLETED", 9.0, "WHITELIST")
    assert ended["total_cost"] == {"excl_vat": 3.2, "incl_vat": 3.87}  # the CDR's total
    assert ended["charging_periods"] == by_type["cdr.created"]["data"]["charging_periods"]
    assert ended["cdr_token"]["uid"] == "04AA11BB22CC33"
    assert by_type["session.ended"]["created_at"] == "2026-11-20T10:00:00Z"
    assert deliveries(other) == []  # another tenant's subscriber sees nothing

    # Replays: the same transactions again (a redelivered task), with and without the
    # up-to-date check, and the stop message again: nothing new.
    record(st, stop(st, "e1", tx1), capture=django_capture_on_commit_callbacks)
    processing.transactions_process([(st.pk, tx1), (st.pk, tx2)])
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id=tx1)
    events = events_by_transaction([(st.pk, tx1)])
    with transaction.atomic():  # past the up-to-date check: processed again from all events
        processing.process([(st.pk, tx1)], events, Lookups())
    assert len(deliveries(sub)) == 4
    # The outbox itself refuses a second delivery of the same fact.
    (session_event,) = [b for t, b in got if t == "session.ended"]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        again = integrations_api.webhook_events_emit(
            events=[
                integrations_api_event(
                    st.tenant_id, "session.ended", f"session:{ended['platform_id']}"
                )
            ],
            now=T0,
        )
    # Nothing written and nothing queued: a second dispatch of a delivery whose first attempt
    # is under way would send it twice.
    assert again == 0 and len(deliveries(sub)) == 4 and queued == []
    assert session_event["id"] == str(
        integrations_api.webhook_event_id(
            tenant_id=st.tenant_id, type="session.ended", key=f"session:{ended['platform_id']}"
        )
    )


def integrations_api_event(tenant_id: int, type: str, key: str) -> Any:
    from apps.integrations.contracts import WebhookEventIn, WebhookEventType

    return WebhookEventIn(
        tenant_id=tenant_id, type=WebhookEventType(type), key=key, occurred_at=T0, data={}
    )


def test_no_subscription_no_work(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    subscribe(st.tenant_id, ("token.authorized",))  # subscribed, but not to session events
    started = record(st, start(st, "s1"), capture=django_capture_on_commit_callbacks)
    txid = started[0].ocpp_transaction_id
    record(st, stop(st, "e1", txid), capture=django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as queries:
        processing.transactions_process([(st.pk, txid)])
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("integrations_webhooksubscription" in q for q in sql) == 1  # once per tenant
    assert not any("integrations_webhookdelivery" in q for q in sql)
    assert not WebhookDelivery.objects.exists()


def test_a_failed_transaction_or_batch_emits_nothing_of_what_failed(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    st = station["station"]
    sub = subscribe(st.tenant_id)
    started = record(
        st, start(st, "s1"), start(st, "s2"), capture=django_capture_on_commit_callbacks
    )
    tx1, tx2 = (r.ocpp_transaction_id for r in started)
    record(st, stop(st, "e2", tx2), capture=django_capture_on_commit_callbacks)
    real = cdrs.cdr_build

    def broken(session: Any, *args: Any, **kwargs: Any) -> Any:
        real(session, *args, **kwargs)
        raise RuntimeError("a bug while building the CDR")

    # One transaction fails (not the database): its end, CDR and events are left out, the
    # sessions the batch created are kept and announced.
    monkeypatch.setattr(cdrs, "cdr_build", broken)
    assert processing.transactions_process([(st.pk, tx1), (st.pk, tx2)]) == []
    assert sorted(t for t, _ in deliveries(sub)) == ["session.started", "session.started"]
    assert not Cdr.objects.exists()
    assert ChargingSession.objects.get(ocpp_transaction_id=tx2).status == "ACTIVE"

    # A database error fails the batch as a whole: nothing of it is stored or emitted, and
    # every transaction is handed back to be retried on its own.
    WebhookDelivery.objects.all().delete()

    def db_error(*args: Any, **kwargs: Any) -> Any:
        raise IntegrityError("a concurrent worker won")

    monkeypatch.setattr(cdrs, "cdr_build", db_error)
    assert processing.transactions_process([(st.pk, tx1), (st.pk, tx2)]) == [(st.pk, tx2)]
    assert deliveries(sub) == [] and not Cdr.objects.exists()

    # A batch that rolls back as a whole writes no delivery and queues nothing.
    monkeypatch.setattr(cdrs, "cdr_build", real)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            processing.transactions_process([(st.pk, tx2)])
            assert sorted(t for t, _ in deliveries(sub)) == ["cdr.created", "session.ended"]
            transaction.set_rollback(True)
    assert deliveries(sub) == [] and callbacks == []
    # Processed for real: the end and the CDR, once.
    processing.transactions_process([(st.pk, tx2)])
    assert sorted(t for t, _ in deliveries(sub)) == ["cdr.created", "session.ended"]
    assert Cdr.objects.count() == 1


def test_station_status_changes_are_emitted_once_per_change(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    sub = subscribe(st.tenant_id, ("station.status_changed",))
    evse = st.evses.get()
    locations_api.evse_statuses_record(updates=[(st.pk, evse.ocpp_evse_id, "Available")])

    def report(status: str, minutes: int, evse_id: int | None = None) -> EvseStatusReport:
        return EvseStatusReport(
            tenant_id=st.tenant_id,
            station_id=st.pk,
            evse_ocpp_id=evse.ocpp_evse_id if evse_id is None else evse_id,
            connector_ocpp_id=None,
            ocpp_status=status,
            station_timestamp=T0 + timedelta(minutes=minutes),
        )

    batch = [
        report("Available", 0),  # no change
        report("Preparing", 1),  # AVAILABLE -> CHARGING
        report("Charging", 2),  # still CHARGING in OCPI: no event
        report("Faulted", 3),  # CHARGING -> OUTOFORDER
        report("Unavailable", 4, evse_id=0),  # the whole station
    ]
    with django_capture_on_commit_callbacks(execute=False):
        with transaction.atomic():
            locations_api.evse_status_reports_record(reports=batch)
        with transaction.atomic():  # the gateway writing the same batch again
            locations_api.evse_status_reports_record(reports=batch[1:2])
    got = [body["data"] for _, body in deliveries(sub)]
    assert [(d["previous_status"], d["status"], d["ocpp_status"]) for d in got] == [
        ("AVAILABLE", "CHARGING", "Preparing"),
        ("CHARGING", "OUTOFORDER", "Faulted"),
        (None, "INOPERATIVE", "Unavailable"),
    ]
    assert got[0]["evse_uid"] == evse.uid and got[0]["identity"] == st.identity
    assert got[0]["timestamp"] == "2026-11-20T09:01:00Z"
    assert got[2]["evse_uid"] is None
    evse.refresh_from_db()
    # The resent Preparing was applied again (the last write wins); its event, the same fact
    # as the first, was not delivered twice.
    assert evse.status == "CHARGING"


def test_token_authorized_goes_to_the_station_tenant_only(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    own = TokenFactory(tenant=st.tenant, party__tenant=st.tenant, uid="OWN-1")
    foreign = TokenFactory(uid="FOREIGN-1")  # another tenant's token
    sub = subscribe(st.tenant_id, ("token.authorized",))
    foreign_sub = subscribe(foreign.tenant_id, ("token.authorized",))

    def report(uid: str, status: AuthorizationStatus, seconds: int) -> AuthorizationReport:
        return AuthorizationReport(
            tenant_id=st.tenant_id,
            station_id=st.pk,
            identity=st.identity,
            uid=uid,
            status=status,
            answered_at=T0 + timedelta(seconds=seconds),
        )

    with django_capture_on_commit_callbacks(execute=False):
        with transaction.atomic():
            written = tokens_api.token_authorizations_record(
                reports=[
                    report("OWN-1", AuthorizationStatus.ACCEPTED, 0),
                    report("FOREIGN-1", AuthorizationStatus.ACCEPTED, 1),
                    report("NOBODY", AuthorizationStatus.INVALID, 2),
                ]
            )
    assert written == 3
    got = [body["data"] for _, body in deliveries(sub)]
    assert [(d["uid"], d["status"]) for d in got] == [
        ("OWN-1", "Accepted"),
        ("FOREIGN-1", "Accepted"),
        ("NOBODY", "Invalid"),
    ]
    assert got[0]["token"]["platform_id"] == own.pk
    assert got[1]["token"] is None  # another tenant's token is not described
    assert deliveries(foreign_sub) == []
