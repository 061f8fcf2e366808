"""HubClientInfo back to CONNECTED (apps.roaming.services.hub_client_info): as eMSP we GET
the returning CPO's locations and tariffs again through the hub (routing TO = that party),
from the earlier of our last successful pull and the moment it went away; as CPO the pushes
held for it are released. Against the hub double, with fixed instants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from apps.roaming import jobs, tasks, transport
from apps.roaming.models import (
    ForeignObject,
    OcpiConnection,
    OcpiPartyRole,
    OcpiPullCursor,
    OcpiPush,
)
from apps.roaming.services import emsp_pull, hub_client_info, push
from tests.factories import OperatorFactory, PartyFactory
from tests.roaming.emsp_world import tariff_doc
from tests.roaming.hub_double import T0, HubDouble
from tests.roaming.peers.world import registered_connection

pytestmark = pytest.mark.django_db

ROLES = (("HUB", "NL", "HUB"), ("CPO", "DE", "AAA"), ("CPO", "FR", "BBB"), ("EMSP", "BE", "MSP"))
PULLED = T0 + timedelta(hours=20)  # our last pull: everything the hub had until then
AWAY = T0 + timedelta(hours=21)  # DE*AAA goes OFFLINE
BACK = T0 + timedelta(hours=23)  # and comes back


@pytest.fixture
def hub() -> Iterator[HubDouble]:
    h = HubDouble().start()
    yield h
    h.stop()


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The tasks hub_client_info queues (name, args), instead of the broker."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        hub_client_info, "enqueue", lambda name, *args, **kw: calls.append((name, *args))
    )
    return calls


def _conn(hub: HubDouble, *, emsp: bool = True) -> OcpiConnection:
    tenant = OperatorFactory()
    PartyFactory(tenant=tenant, role="CPO", country_code="NL", party_id="OUR")
    if emsp:
        PartyFactory(tenant=tenant, role="EMSP", country_code="NL", party_id="OUE")
    token = f"token-{tenant.pk}"
    hub.accept_token(token)
    modules = ("locations", "tariffs", "sessions", "cdrs", "tokens")
    endpoints = {(m, r): hub.module_url(m) for m in modules for r in ("SENDER", "RECEIVER")}
    return registered_connection(
        tenant,
        name="hub",
        versions_url=hub.versions_url,
        their_token=token,
        is_hub=True,
        roles=ROLES,
        endpoints=endpoints,
    )


def _status(conn: OcpiConnection, party: tuple[str, str], status: str, at: Any) -> None:
    hub_client_info.client_info_put(
        connection_id=conn.pk,
        country_code=party[0],
        party_id=party[1],
        body={"country_code": party[0], "party_id": party[1], "role": "CPO", "status": status},
        now=at,
    )


def _location(cc: str, pid: str, oid: str, at: Any) -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "id": oid,
        "publish": True,
        "address": "Hubweg 9",
        "city": "Arnhem",
        "country": "NLD",
        "coordinates": {"latitude": "51.985103", "longitude": "5.898730"},
        "time_zone": "Europe/Amsterdam",
        "last_updated": transport.iso(at),
    }


def test_a_cpo_back_from_offline_is_pulled_again_since_it_went_away(
    hub: HubDouble,
    queued: list[tuple[Any, ...]],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = _conn(hub)
    for module in ("locations", "tariffs"):
        report = emsp_pull.pull_module(connection_id=conn.pk, module=module, now=PULLED)
        assert report.error == ""
    assert ForeignObject.objects.filter(connection=conn, module="locations").count() == 6
    _status(conn, ("DE", "AAA"), "OFFLINE", AWAY)
    # While it was away, both CPOs changed something (the hub has it; we do not).
    changed = AWAY + timedelta(minutes=30)
    hub.add_object("locations", "DE", "AAA", _location("DE", "AAA", "AAA-LOC-9", changed))
    hub.add_object("locations", "FR", "BBB", _location("FR", "BBB", "BBB-LOC-9", changed))
    tariff = tariff_doc(country_code="DE", party_id="AAA", id="AAA-T1")
    tariff = json.loads(transport.dumps({**tariff, "last_updated": changed}))  # no Decimals
    hub.add_object("tariffs", "DE", "AAA", tariff)
    assert queued == []  # OFFLINE: nothing to re-sync

    seen = len(hub.requests)
    with django_capture_on_commit_callbacks(execute=True):
        _status(conn, ("DE", "AAA"), "CONNECTED", BACK)
    assert queued == [(jobs.EMSP_PARTY_RESYNC, conn.pk, "DE", "AAA", transport.iso(AWAY))]
    with django_capture_on_commit_callbacks(execute=True):
        _status(conn, ("DE", "AAA"), "CONNECTED", BACK + timedelta(minutes=1))
    assert len(queued) == 1  # already CONNECTED: no second re-sync
    assert hub.requests[seen:] == []  # the hub's PUT was not made to wait for a crawl

    monkeypatch.setattr("django.utils.timezone.now", lambda: BACK)
    assert tasks.emsp_party_resync(*queued[0][1:]) == 2  # the worker's side
    gets = [r for r in hub.requests[seen:] if r.method == "GET"]
    since = transport.iso(PULLED - emsp_pull.SAFETY_MARGIN)  # our pull was before it left
    assert [(r.path, r.query.get("date_from"), r.header("ocpi-to-party-id")) for r in gets] == [
        ("/ocpi/2.2.1/locations", since, "AAA"),
        ("/ocpi/2.2.1/tariffs", since, "AAA"),
    ]
    assert {r.header("ocpi-to-country-code") for r in gets} == {"DE"}
    assert hub.violations == []
    stored = set(
        ForeignObject.objects.filter(connection=conn, module="locations").values_list(
            "object_id", flat=True
        )
    )
    assert "AAA-LOC-9" in stored and "BBB-LOC-9" not in stored  # that party only
    assert len(stored) == 7
    assert ForeignObject.objects.filter(connection=conn, module="tariffs").get().object_id == (
        "AAA-T1"
    )
    # The connection's cursors still stand for every party: unmoved.
    assert set(
        OcpiPullCursor.objects.filter(connection=conn).values_list("last_success_at", flat=True)
    ) == {PULLED}


def test_away_since_is_when_it_left_connected_whatever_came_between(
    hub: HubDouble,
    queued: list[tuple[Any, ...]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    conn = _conn(hub)
    _status(conn, ("DE", "AAA"), "OFFLINE", AWAY)
    _status(conn, ("DE", "AAA"), "SUSPENDED", AWAY + timedelta(minutes=30))
    _status(conn, ("DE", "AAA"), "OFFLINE", AWAY + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        _status(conn, ("DE", "AAA"), "CONNECTED", BACK)
    assert queued == [(jobs.EMSP_PARTY_RESYNC, conn.pk, "DE", "AAA", transport.iso(AWAY))]
    role = OcpiPartyRole.objects.get(connection=conn, party_id="AAA")
    assert (role.hub_status, role.hub_away_since, role.hub_status_updated) == (
        "CONNECTED",
        None,
        BACK,
    )
    # Away again later: a new start.
    _status(conn, ("DE", "AAA"), "OFFLINE", BACK + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        _status(conn, ("DE", "AAA"), "CONNECTED", BACK + timedelta(hours=2))
    assert queued[-1][-1] == transport.iso(BACK + timedelta(hours=1))


def test_the_window_starts_when_it_went_away_if_that_was_before_our_last_pull() -> None:
    tenant = OperatorFactory()
    conn = registered_connection(
        tenant, name="hub", versions_url="http://127.0.0.1:9/v", their_token="t", is_hub=True
    )
    assert (
        emsp_pull.resync_since(connection_id=conn.pk, module="locations", offline_since=AWAY)
        is None
    )  # never pulled: everything
    OcpiPullCursor.objects.create(
        tenant=tenant, connection=conn, module="locations", last_success_at=BACK
    )
    assert (
        emsp_pull.resync_since(connection_id=conn.pk, module="locations", offline_since=AWAY)
        == AWAY - emsp_pull.SAFETY_MARGIN
    )
    assert (
        emsp_pull.resync_since(connection_id=conn.pk, module="locations", offline_since=None)
        is None
    )  # PLANNED before: everything


def test_a_planned_cpo_is_pulled_in_full_and_an_emsp_party_only_gets_its_pushes_back(
    hub: HubDouble,
    queued: list[tuple[Any, ...]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    conn = _conn(hub)
    _status(conn, ("FR", "BBB"), "PLANNED", AWAY)
    _status(conn, ("FR", "BBB"), "OFFLINE", AWAY + timedelta(minutes=5))  # still never seen
    with django_capture_on_commit_callbacks(execute=True):
        _status(conn, ("FR", "BBB"), "CONNECTED", BACK)
    assert queued == [(jobs.EMSP_PARTY_RESYNC, conn.pk, "FR", "BBB", None)]

    # An eMSP behind the hub: what we owe it as CPO was held and goes out again; no GET.
    queued.clear()
    body = {"country_code": "BE", "party_id": "MSP", "role": "EMSP"}
    hub_client_info.client_info_put(
        connection_id=conn.pk,
        country_code="BE",
        party_id="MSP",
        body={**body, "status": "OFFLINE"},
        now=AWAY,
    )
    pk = push.push_enqueue(
        connection_id=conn.pk,
        module="sessions",
        method="PUT",
        path="NL/OUR/S1",
        key="session:S1:1",
        body={"id": "S1"},
        to_party=("BE", "MSP"),
        now=AWAY,
    )
    assert push.push_drain(connection_id=conn.pk, now=AWAY) == 0
    assert OcpiPush.objects.get(pk=pk).status == "HELD"
    with django_capture_on_commit_callbacks(execute=True):
        hub_client_info.client_info_put(
            connection_id=conn.pk,
            country_code="BE",
            party_id="MSP",
            body={**body, "status": "CONNECTED"},
            now=BACK,
        )
    assert queued == []
    assert OcpiPush.objects.get(pk=pk).status == "PENDING"
    assert push.push_drain(connection_id=conn.pk, now=BACK) == 1  # what it missed, re-sent
    [got] = hub.pushes
    assert (got.method, got.path) == ("PUT", "/ocpi/2.2.1/sessions/NL/OUR/S1")
    assert (got.header("OCPI-to-country-code"), got.header("OCPI-to-party-id")) == ("BE", "MSP")
    assert OcpiPush.objects.get(pk=pk).status == "SENT"


def test_without_an_emsp_of_our_own_nothing_is_pulled(
    hub: HubDouble,
    queued: list[tuple[Any, ...]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    conn = _conn(hub, emsp=False)
    _status(conn, ("DE", "AAA"), "OFFLINE", AWAY)
    with django_capture_on_commit_callbacks(execute=True):
        _status(conn, ("DE", "AAA"), "CONNECTED", BACK)
    assert queued == []
