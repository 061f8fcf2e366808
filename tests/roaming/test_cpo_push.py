"""What we push as CPO, end to end with a loopback receiver: the OCPP StatusNotification ->
station.status_changed -> the integrations app's internal consumer -> roaming.ocpi_events
-> the push outbox -> PATCH at the partner; sessions PUT then PATCH; CDRs POSTed once even
when the event repeats; 500 then success is retried; a 2xxx refusal is FAILED. Time is
controlled: the outbox's clock is fixed and `push_drain` gets `now=`."""

from __future__ import annotations

import functools
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from apps.charging.models import ChargingSession
from apps.charging.services.webhooks import WebhookOutbox
from apps.integrations import api as integrations_api
from apps.integrations import consumers as integrations_consumers
from apps.locations import api as locations_api
from apps.locations.contracts import EvseStatusReport
from apps.roaming import api as roaming_api
from apps.roaming.models import OcpiPush
from apps.roaming.services import cpo_push, push
from tests.factories import (
    T0,
    CdrFactory,
    ChargeStationFactory,
    ChargingSessionFactory,
    ConnectorFactory,
    EvseFactory,
    LocationFactory,
    OperatorFactory,
    TokenFactory,
)
from tests.roaming.cpo_fixtures import (
    OcpiReceiver,
    connect,
    ocpi_receiver,  # noqa: F401  (fixture)
    own_cpo,
    partner_emsp,
)

pytestmark = pytest.mark.django_db

NOW = T0 + timedelta(days=1)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The tasks the integrations app queues for internal consumers (name, payload); the
    outbox's drains are not queued (the test drains), its clock reads NOW."""
    calls: list[tuple[str, str]] = []

    def record(name: str, payload: str, **kwargs: Any) -> None:
        calls.append((name, payload))

    monkeypatch.setattr(integrations_consumers, "enqueue", record)
    monkeypatch.setattr(push, "drain_enqueue", lambda *a, **k: None)
    monkeypatch.setattr(push, "timezone", SimpleNamespace(now=lambda: NOW))
    return calls


@pytest.fixture
def setup(ocpi_receiver: OcpiReceiver) -> Any:  # noqa: F811
    tenant = OperatorFactory()
    cpo = own_cpo(tenant)
    emsp = partner_emsp(tenant)
    loc = LocationFactory(party=cpo, ocpi_id="LOC1")
    station = ChargeStationFactory(location=loc)
    evse = EvseFactory(charge_station=station, uid="EVSE-1", ocpp_evse_id=1)
    connector = ConnectorFactory(evse=evse)
    base = ocpi_receiver.url
    conn = connect(
        tenant,
        token="push-token-000000000000000000000000000000",
        endpoints={
            ("locations", "RECEIVER"): f"{base}/locations",
            ("sessions", "RECEIVER"): f"{base}/sessions",
            ("cdrs", "RECEIVER"): f"{base}/cdrs",
        },
    )
    roaming_api.cpo_interest_sync(tenant_id=tenant.pk)
    return SimpleNamespace(
        tenant=tenant, cpo=cpo, emsp=emsp, station=station, connector=connector, conn=conn
    )


def _run(queued: list[tuple[str, str]]) -> int:
    """What the worker does with the queued `roaming.ocpi_events` tasks."""
    names = {name for name, _ in queued}
    assert names <= {"roaming.ocpi_events"}
    n = sum(cpo_push.ocpi_events_handle(payload=p) for _, p in queued)
    queued.clear()
    return n


def test_interest_follows_the_registered_connections(setup: Any) -> None:
    interest = integrations_api.webhook_interest(tenant_ids=[setup.tenant.pk])
    assert interest[setup.tenant.pk] >= set(cpo_push.EVENTS)
    setup.conn.status = "CLOSED"
    setup.conn.save()
    roaming_api.cpo_interest_sync(tenant_id=setup.tenant.pk)
    assert integrations_api.webhook_interest(tenant_ids=[setup.tenant.pk]) == {}


def test_status_change_is_patched_to_the_partner(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    report = EvseStatusReport(
        tenant_id=setup.tenant.pk,
        station_id=setup.station.pk,
        evse_ocpp_id=1,
        connector_ocpp_id=1,
        ocpp_status="Charging",
        station_timestamp=T0 + timedelta(seconds=5),
    )
    with django_capture_on_commit_callbacks(execute=True):
        locations_api.evse_status_reports_record(reports=[report])
    assert _run(queued) == 1
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 1
    [req] = ocpi_receiver.requests
    assert (req.method, req.path) == ("PATCH", "/ocpi/emsp/2.2.1/locations/NL/CPO/LOC1/EVSE-1")
    assert req.body == {"status": "CHARGING", "last_updated": "2026-03-02T08:00:05Z"}
    assert (req.headers["OCPI-to-country-code"], req.headers["OCPI-to-party-id"]) == ("DE", "EMS")
    assert (req.headers["OCPI-from-country-code"], req.headers["OCPI-from-party-id"]) == (
        "NL",
        "CPO",
    )
    # The same notification again: no new event, no new push.
    with django_capture_on_commit_callbacks(execute=True):
        locations_api.evse_status_reports_record(reports=[report])
    _run(queued)
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 0
    assert len(ocpi_receiver.requests) == 1


def test_home_charger_status_is_never_pushed(
    setup: Any, queued: list[tuple[str, str]], django_capture_on_commit_callbacks: Any
) -> None:
    setup.station.hcc = "HCC_E"
    setup.station.save()
    report = EvseStatusReport(
        tenant_id=setup.tenant.pk,
        station_id=setup.station.pk,
        evse_ocpp_id=1,
        connector_ocpp_id=1,
        ocpp_status="Faulted",
        station_timestamp=T0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        locations_api.evse_status_reports_record(reports=[report])
    assert _run(queued) == 0
    assert not OcpiPush.objects.exists()


def _session(setup: Any) -> Any:
    token = TokenFactory(party=setup.emsp, tenant=setup.tenant, uid="TOK1", contract_id="C-1")
    return ChargingSessionFactory(
        connector=setup.connector, token=token, emsp_party=setup.emsp, currency="EUR"
    )


def _emit(tenant_id: int, *adds: Any) -> None:
    outbox = WebhookOutbox()
    for add in adds:
        add(outbox)
    outbox.emit()


def test_session_put_at_start_then_final_patch(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = _session(setup)
    t = setup.tenant.pk
    with django_capture_on_commit_callbacks(execute=True):
        _emit(t, lambda o: o.session_started(tenant_id=t, session_id=session.pk, at=T0))
    _run(queued)
    type(session).objects.filter(pk=session.pk).update(
        status="COMPLETED", ended_at=T0 + timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        _emit(t, lambda o: o.session_ended(tenant_id=t, session_id=session.pk, at=T0))
    _run(queued)
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 2
    put, patch = ocpi_receiver.requests
    path = f"/ocpi/emsp/2.2.1/sessions/NL/CPO/{session.pk}"
    assert (put.method, put.path, patch.method, patch.path) == ("PUT", path, "PATCH", path)
    assert put.body["status"] == "ACTIVE" and "end_date_time" not in put.body
    assert put.body["cdr_token"]["uid"] == "TOK1"
    assert patch.body["status"] == "COMPLETED"
    assert patch.body["end_date_time"] == "2026-03-02T09:00:00Z"
    assert set(patch.body) <= {
        "status",
        "end_date_time",
        "kwh",
        "total_cost",
        "charging_periods",
        "last_updated",
    }


def test_session_of_another_emsp_is_not_pushed(
    setup: Any, queued: list[tuple[str, str]], django_capture_on_commit_callbacks: Any
) -> None:
    stranger = partner_emsp(setup.tenant, party_id="XYZ")
    token = TokenFactory(party=stranger, tenant=setup.tenant, uid="OTHER")
    session = ChargingSessionFactory(connector=setup.connector, token=token, emsp_party=stranger)
    t = setup.tenant.pk
    with django_capture_on_commit_callbacks(execute=True):
        _emit(t, lambda o: o.session_started(tenant_id=t, session_id=session.pk, at=T0))
    assert _run(queued) == 0
    assert not OcpiPush.objects.exists()


def test_a_marketplace_emsp_is_never_pushed_what_it_sees_inside_the_platform(
    setup: Any, queued: list[tuple[str, str]], django_capture_on_commit_callbacks: Any
) -> None:
    """The connection's eMSP runs on this platform too (a marketplace tenant): its drivers'
    sessions and CDRs reach it inside the platform, so OCPI sends them no second copy (it
    would bill the driver twice)."""
    other = OperatorFactory(marketplace=True)
    cdr = _cdr(setup, emsp_tenant=other, token_source="MARKETPLACE")
    ChargingSession.objects.filter(pk=cdr.session_id).update(emsp_tenant=other)
    t = setup.tenant.pk
    with django_capture_on_commit_callbacks(execute=True):
        _emit(t, lambda o: o.session_started(tenant_id=t, session_id=cdr.session_id, at=T0))
        _emit(t, lambda o: o.cdr_created(tenant_id=t, cdr_id=cdr.pk, at=T0))
    assert _run(queued) == 0
    assert not OcpiPush.objects.exists()


def _cdr(setup: Any, **kw: Any) -> Any:
    session = _session(setup)
    data = {
        "id": "CDR1",
        "session_id": str(session.pk),
        "cdr_token": {
            "country_code": "DE",
            "party_id": "EMS",
            "uid": "TOK1",
            "type": "RFID",
            "contract_id": "C-1",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {"id": "LOC1", "evse_uid": "EVSE-1", "connector_id": "1"},
        "charging_periods": [
            {
                "start_date_time": "2026-03-02T08:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 10}],
            }
        ],
    }
    return CdrFactory(
        session=session, party=setup.cpo, emsp_party=setup.emsp, ocpi_id="CDR1", data=data, **kw
    )


def test_cdr_posted_once_even_when_the_event_repeats(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    cdr = _cdr(setup)
    t = setup.tenant.pk
    add = functools.partial(WebhookOutbox.cdr_created, tenant_id=t, cdr_id=cdr.pk, at=T0)
    for _ in range(2):  # a redelivered task / replayed batch
        with django_capture_on_commit_callbacks(execute=True):
            _emit(t, add)
    assert _run(queued) == 1
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 1
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 0
    [req] = ocpi_receiver.requests
    assert (req.method, req.path) == ("POST", "/ocpi/emsp/2.2.1/cdrs")
    assert req.body["id"] == "CDR1"
    assert req.body["cdr_token"]["country_code"] == "DE"
    assert req.body["total_cost"] == {"excl_vat": Decimal("2.5000"), "incl_vat": Decimal("3.0300")}


def test_500_then_success_is_retried(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    ocpi_receiver.script = [(500, 3000)]
    cdr = _cdr(setup)
    t = setup.tenant.pk
    with django_capture_on_commit_callbacks(execute=True):
        _emit(t, lambda o: o.cdr_created(tenant_id=t, cdr_id=cdr.pk, at=T0))
    _run(queued)
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 0
    row = OcpiPush.objects.get()
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "PENDING",
        1,
        NOW + timedelta(seconds=2),
    )
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW + timedelta(seconds=1)) == 0
    assert len(ocpi_receiver.requests) == 1  # not due yet: nothing sent
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW + timedelta(seconds=2)) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("SENT", 2)
    assert [r.method for r in ocpi_receiver.requests] == ["POST", "POST"]


def test_2xxx_refusal_is_failed_and_not_retried(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    ocpi_receiver.script = [(200, 2001)]
    cdr = _cdr(setup)
    t = setup.tenant.pk
    with django_capture_on_commit_callbacks(execute=True):
        _emit(t, lambda o: o.cdr_created(tenant_id=t, cdr_id=cdr.pk, at=T0))
    _run(queued)
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 0
    row = OcpiPush.objects.get()
    assert (row.status, row.attempts) == ("FAILED", 1)
    assert "OCPI 2001" in row.last_error
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW + timedelta(hours=2)) == 0
    assert len(ocpi_receiver.requests) == 1


def test_location_put_once_per_version(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
) -> None:
    assert roaming_api.location_push(tenant_id=setup.tenant.pk, location_id="LOC1") == 1
    assert roaming_api.location_push(tenant_id=setup.tenant.pk, location_id="LOC1") == 0
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 1
    [req] = ocpi_receiver.requests
    assert (req.method, req.path) == ("PUT", "/ocpi/emsp/2.2.1/locations/NL/CPO/LOC1")
    assert req.body["id"] == "LOC1" and req.body["publish"] is True
    assert [e["uid"] for e in req.body["evses"]] == ["EVSE-1"]


def test_via_a_hub_locations_go_once_to_the_hub_and_cdrs_to_the_emsp(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
) -> None:
    setup.conn.status = "CLOSED"  # only the hub connection now
    setup.conn.save()
    base = ocpi_receiver.url
    hub = connect(
        setup.tenant,
        token="hub-token-0000000000000000000000000000000",
        roles=(("HUB", "NL", "HUB"), ("EMSP", "DE", "EMS"), ("EMSP", "FR", "ABC")),
        endpoints={
            ("locations", "RECEIVER"): f"{base}/locations",
            ("cdrs", "RECEIVER"): f"{base}/cdrs",
        },
        is_hub=True,
    )
    assert roaming_api.location_push(tenant_id=setup.tenant.pk, location_id="LOC1") == 1
    cdr = _cdr(setup)
    assert cpo_push.cdr_push(tenant_id=setup.tenant.pk, cdr_id=cdr.pk) == 1
    assert push.push_drain(connection_id=hub.pk, now=NOW) == 2
    put, post = ocpi_receiver.requests
    assert (put.headers["OCPI-to-country-code"], put.headers["OCPI-to-party-id"]) == ("NL", "HUB")
    assert (post.headers["OCPI-to-country-code"], post.headers["OCPI-to-party-id"]) == ("DE", "EMS")


def test_interest_sweep_heals_a_missed_sync(setup: Any) -> None:
    other = OperatorFactory()
    connect(other, token="sweep-token-00000000000000000000000000000")  # nobody synced it
    setup.conn.status = "SUSPENDED"
    setup.conn.save()  # nobody synced this either
    assert cpo_push.cpo_interest_sweep() == 2
    assert integrations_api.event_consumer_tenants(name="roaming.ocpi_events") == {other.pk}
    assert cpo_push.cpo_interest_sweep() == 0


def test_locations_sync_puts_changed_published_locations_once(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
) -> None:
    from tests.roaming.cpo_fixtures import stamp

    hidden = LocationFactory(party=setup.cpo, ocpi_id="HIDDEN", publish=False)
    old = LocationFactory(party=setup.cpo, ocpi_id="OLD")
    for row in (hidden, setup.station.location):
        stamp(row, NOW - timedelta(minutes=1))
    stamp(old, NOW - timedelta(hours=1))  # outside the window: pushed when it last changed
    for row in (setup.connector, setup.station.evses.get()):
        stamp(row, NOW - timedelta(minutes=2))
    assert cpo_push.cpo_locations_sync(now=NOW) == 1
    assert cpo_push.cpo_locations_sync(now=NOW) == 0  # same version: no second PUT
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 1
    [req] = ocpi_receiver.requests
    assert (req.method, req.path) == ("PUT", "/ocpi/emsp/2.2.1/locations/NL/CPO/LOC1")
