"""Sessions PATCHed while they run (CPO role, issue 19): the charging worker's internal
`session.updated` event (once per live-cost window) -> roaming.ocpi_events -> a Session
PATCH `{kwh, charging_periods, total_cost, last_updated}` to the eMSP whose token it is,
through the outbox; at most one per OCPI_SESSION_PATCH_SECONDS per session; each charging
period sent once (the receiver appends a PATCH's periods). Time is fixed: every event
carries its instant, the session's last_updated is set, the outbox's clock reads NOW."""

# ruff: noqa: F811  (the fixtures of test_cpo_push, imported)
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging.models import ChargingSession
from apps.integrations import api as integrations_api
from apps.roaming import api as roaming_api
from apps.roaming.models import OcpiPush
from apps.roaming.services import cpo_push, push
from tests.factories import T0, ChargingSessionFactory, OperatorFactory, TokenFactory
from tests.roaming import schemas
from tests.roaming.cpo_fixtures import (
    OcpiReceiver,
    connect,
    ocpi_receiver,  # noqa: F401  (fixture)
)
from tests.roaming.test_cpo_push import (  # noqa: F401  (fixtures)
    NOW,
    _emit,
    _run,
    _session,
    queued,
    setup,
)

pytestmark = pytest.mark.django_db


def _period(minutes: int, kwh: str) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return {
        "start_date_time": at.isoformat().replace("+00:00", "Z"),
        "dimensions": [{"type": "ENERGY", "volume": kwh}],
    }


def _live(session: Any, *, minutes: int, wh: int, cost: str, periods: list[Any]) -> None:
    """What the charging worker writes when it prices the running session (update():
    updated_at stays the fixed instant)."""
    ChargingSession.objects.filter(pk=session.pk).update(
        energy_wh=Decimal(wh),
        live_cost_excl_vat=Decimal(cost),
        live_cost_incl_vat=(Decimal(cost) * Decimal("1.21")).quantize(Decimal("0.01")),
        live_charging_periods=periods,
        currency="EUR",
        updated_at=T0 + timedelta(minutes=minutes),
    )


def _updated(tenant_id: int, session_id: int, at: Any, dj: Any) -> None:
    with dj(execute=True):
        _emit(
            tenant_id,
            lambda o: o.session_updated(tenant_id=tenant_id, session_id=session_id, at=at),
        )


def test_the_event_is_internal_and_reaches_the_consumer(setup: Any) -> None:
    assert "session.updated" not in integrations_api.webhook_interest(tenant_ids=[0]).get(0, ())
    from apps.integrations.contracts import SUBSCRIBABLE_EVENTS

    assert "session.updated" not in SUBSCRIBABLE_EVENTS  # never offered to subscribers
    assert (
        "session.updated"
        in integrations_api.webhook_interest(tenant_ids=[setup.tenant.pk])[setup.tenant.pk]
    )


def test_running_session_is_patched_rate_limited_and_periods_go_once(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.OCPI_SESSION_PATCH_SECONDS = 60
    dj = django_capture_on_commit_callbacks
    session = _session(setup)
    t = setup.tenant.pk
    # Priced before its PUT was queued: nothing to PATCH yet.
    _live(session, minutes=1, wh=1000, cost="0.80", periods=[_period(0, "1")])
    _updated(t, session.pk, T0 + timedelta(minutes=1), dj)
    assert _run(queued) == 0
    with dj(execute=True):
        _emit(t, lambda o: o.session_started(tenant_id=t, session_id=session.pk, at=T0))
    assert _run(queued) == 1
    p1, p2, p3 = _period(0, "5"), _period(20, "2"), _period(40, "1")
    _live(session, minutes=21, wh=7000, cost="2.60", periods=[p1, p2])
    _updated(t, session.pk, T0 + timedelta(minutes=21), dj)
    _updated(t, session.pk, T0 + timedelta(minutes=21), dj)  # the same event again
    assert _run(queued) == 1
    # 30 s later (the next live-cost window): within OCPI_SESSION_PATCH_SECONDS, skipped.
    _live(session, minutes=21, wh=7200, cost="2.66", periods=[p1, _period(20, "2.2")])
    _updated(t, session.pk, T0 + timedelta(minutes=21, seconds=30), dj)
    assert _run(queued) == 0
    p2 = _period(20, "4")  # closed now: its final volume
    _live(session, minutes=41, wh=10000, cost="3.50", periods=[p1, p2, p3])
    _updated(t, session.pk, T0 + timedelta(minutes=41), dj)
    assert _run(queued) == 1
    # It ends: the final PATCH carries the periods not sent yet (p3) only.
    ChargingSession.objects.filter(pk=session.pk).update(
        status="COMPLETED",
        ended_at=T0 + timedelta(minutes=50),
        updated_at=T0 + timedelta(minutes=50),
        live_charging_periods=[p1, p2, _period(40, "1.5")],
        energy_wh=Decimal(10500),
    )
    with dj(execute=True):
        _emit(t, lambda o: o.session_ended(tenant_id=t, session_id=session.pk, at=T0))
    assert _run(queued) == 1
    # A late update event (its task ran after the end's): no PATCH after the final one.
    _updated(t, session.pk, T0 + timedelta(minutes=45), dj)
    assert _run(queued) == 0

    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 4
    path = f"/ocpi/emsp/2.2.1/sessions/NL/CPO/{session.pk}"
    reqs = ocpi_receiver.requests
    assert [(r.method, r.path) for r in reqs] == [("PUT", path)] + [("PATCH", path)] * 3
    put, live1, live2, final = (r.body for r in reqs)
    schemas.validate(put, "2.2.1", "session")
    assert live1 == {
        "kwh": Decimal("7"),
        "charging_periods": [{**p1, "dimensions": [{"type": "ENERGY", "volume": Decimal(5)}]}],
        "total_cost": {"excl_vat": Decimal("2.60"), "incl_vat": Decimal("3.15")},
        "last_updated": "2026-03-02T08:21:00Z",
    }
    assert live2 == {
        "kwh": Decimal("10"),
        "charging_periods": [{**p2, "dimensions": [{"type": "ENERGY", "volume": Decimal(4)}]}],
        "total_cost": {"excl_vat": Decimal("3.50"), "incl_vat": Decimal("4.24")},
        "last_updated": "2026-03-02T08:41:00Z",
    }
    assert final["status"] == "COMPLETED"
    assert final["charging_periods"] == [
        {
            "start_date_time": "2026-03-02T08:40:00Z",
            "dimensions": [{"type": "ENERGY", "volume": Decimal("1.5")}],
        }
    ]
    assert final["kwh"] == Decimal("10.5")
    for body in (live1, live2, final):
        schemas.validate_patch(body, "2.2.1", "session")
    # Every period went exactly once.
    starts = [p["start_date_time"] for b in (live1, live2, final) for p in b["charging_periods"]]
    assert starts == ["2026-03-02T08:00:00Z", "2026-03-02T08:20:00Z", "2026-03-02T08:40:00Z"]
    assert OcpiPush.objects.filter(connection=setup.conn).count() == 4


def test_211_running_patch_has_a_number_cost_and_validates(
    setup: Any,
    queued: list[tuple[str, str]],
    ocpi_receiver: OcpiReceiver,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    setup.conn.version = "2.1.1"
    setup.conn.save()
    dj = django_capture_on_commit_callbacks
    session = _session(setup)
    t = setup.tenant.pk
    with dj(execute=True):
        _emit(t, lambda o: o.session_started(tenant_id=t, session_id=session.pk, at=T0))
    _live(session, minutes=21, wh=7000, cost="2.60", periods=[_period(0, "5"), _period(20, "2")])
    _updated(t, session.pk, T0 + timedelta(minutes=21), dj)
    assert _run(queued) == 2
    assert push.push_drain(connection_id=setup.conn.pk, now=NOW) == 2
    put, live = (r.body for r in ocpi_receiver.requests)
    assert ocpi_receiver.requests[1].path.endswith(f"/sessions/NL/CPO/{session.pk}")
    schemas.validate(put, "2.1.1", "session")
    assert live == {
        "kwh": Decimal("7"),
        "charging_periods": [
            {
                "start_date_time": "2026-03-02T08:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": Decimal(5)}],
            }
        ],
        "total_cost": Decimal("2.60"),
        "last_updated": "2026-03-02T08:21:00Z",
    }
    schemas.validate_patch(live, "2.1.1", "session")


def test_no_running_patch_for_another_emsp_or_another_tenant(
    setup: Any,
    queued: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tests.roaming.cpo_fixtures import partner_emsp

    dj = django_capture_on_commit_callbacks
    stranger = partner_emsp(setup.tenant, party_id="XYZ")
    token = TokenFactory(party=stranger, tenant=setup.tenant, uid="OTHER")
    theirs = ChargingSessionFactory(connector=setup.connector, token=token, emsp_party=stranger)
    t = setup.tenant.pk
    with dj(execute=True):
        _emit(t, lambda o: o.session_started(tenant_id=t, session_id=theirs.pk, at=T0))
    _live(theirs, minutes=21, wh=7000, cost="2.60", periods=[_period(0, "5"), _period(20, "2")])
    _updated(t, theirs.pk, T0 + timedelta(minutes=21), dj)
    assert _run(queued) == 0
    # Another tenant's consumer event naming this tenant's session id finds nothing.
    other = OperatorFactory()
    connect(other, token="other-token-0000000000000000000000000000")
    roaming_api.cpo_interest_sync(tenant_id=other.pk)
    mine = _session(setup)
    _updated(other.pk, mine.pk, T0 + timedelta(minutes=21), dj)
    assert (
        cpo_push.session_running_push(
            tenant_id=other.pk, session_id=mine.pk, at=T0 + timedelta(minutes=21)
        )
        == 0
    )
    queued.clear()
    assert not OcpiPush.objects.exists()
