"""Our eMSP tokens pushed on every change (issue 19): a token created, replaced, changed,
blocked or unblocked through the tokens app's service (portal, REST API, bulk import) emits
the internal `token.changed`; the `roaming.ocpi_events` consumer PUTs it, as it is now, to
every connected CPO partner (a hub: one push, TO = the hub) through the outbox. A partner's
token is never pushed back; another tenant's tokens never reach this tenant's partners; a
bulk import is one consumer task and one INSERT per connection. The outbox's clock is held
and the drains are run by the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.contracts import Actor
from apps.integrations import consumers as integrations_consumers
from apps.roaming import api as roaming_api
from apps.roaming import transport
from apps.roaming.models import OcpiPush
from apps.roaming.services import cpo_push, push
from apps.tokens import api as tokens_api
from apps.tokens import services as tokens_services
from apps.tokens.contracts import TokenInput
from apps.tokens.models import Token
from tests.factories import T0, EmspFactory, TokenFactory
from tests.roaming import schemas
from tests.roaming.cpo_fixtures import OcpiReceiver, connect
from tests.roaming.emsp_world import World, make_world

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
NOW = T0 + timedelta(days=1)


@pytest.fixture
def receiver() -> Iterator[OcpiReceiver]:
    r = OcpiReceiver()
    r.start()
    yield r
    r.close()


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The consumer tasks the integrations app queues (name, payload); drains are the
    test's; the outbox and the token PUT read the fixed NOW."""
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(
        integrations_consumers, "enqueue", lambda name, payload, **kw: calls.append((name, payload))
    )
    monkeypatch.setattr(push, "drain_enqueue", lambda *a, **k: None)
    monkeypatch.setattr(push, "timezone", SimpleNamespace(now=lambda: NOW))
    monkeypatch.setattr(tokens_services, "timezone", SimpleNamespace(now=lambda: NOW))
    return calls


def _world(receiver: OcpiReceiver, emsp: tuple[str, str] = ("NL", "EMS")) -> SimpleNamespace:
    """Tenant with own eMSP NL*EMS: a CPO partner DE*CPO (tokens receiver), a hub NL*HUB
    (tokens receiver, CPO FR*ABC behind it), an eMSP partner BE*MSP of its CPO role (lists
    a tokens receiver too, must get nothing) and a CPO connection without tokens receiver."""
    w = make_world(emsp=emsp, partner_base=f"{receiver.url}/cpo")
    tenant = w.connection.tenant
    hub = connect(
        tenant,
        token=f"hub-token-{emsp[1]}-00000000000000000000000000000",
        roles=(("HUB", "NL", "HUB"), ("CPO", "FR", "ABC")),
        endpoints={("tokens", "RECEIVER"): f"{receiver.url}/hub/tokens"},
        is_hub=True,
    )
    partner_emsp = connect(
        tenant,
        token=f"emsp-token-{emsp[1]}-0000000000000000000000000000",
        roles=(("EMSP", "BE", "MSP"),),
        endpoints={("tokens", "RECEIVER"): f"{receiver.url}/emsp/tokens"},
    )
    bare = connect(
        tenant,
        token=f"bare-token-{emsp[1]}-0000000000000000000000000000",
        roles=(("CPO", "DE", "BAR"),),
        endpoints={("locations", "SENDER"): f"{receiver.url}/bare/locations"},
    )
    roaming_api.cpo_interest_sync(tenant_id=w.tenant_id)
    return SimpleNamespace(w=w, tenant=tenant, hub=hub, emsp=partner_emsp, bare=bare)


def _run(queued: list[tuple[str, str]]) -> int:
    assert {name for name, _ in queued} <= {"roaming.ocpi_events"}
    n = sum(cpo_push.ocpi_events_handle(payload=p) for _, p in queued)
    queued.clear()
    return n


def _input(uid: str, party: tuple[str, str] = ("NL", "EMS"), **kw: Any) -> TokenInput:
    return TokenInput(
        country_code=party[0],
        party_id=party[1],
        uid=uid,
        type="RFID",
        contract_id=f"NL-EMS-C{uid}",
        issuer="Our eMSP",
        **kw,
    )


def _stamp(token_id: int) -> str:
    return transport.iso(Token.objects.get(pk=token_id).updated_at)


def test_each_change_is_put_to_every_cpo_and_once_to_the_hub(
    receiver: OcpiReceiver,
    queued: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    x = _world(receiver)
    w: World = x.w
    with django_capture_on_commit_callbacks(execute=True):
        created = tokens_api.token_create(tenant_id=w.tenant_id, data=_input("AA01"), actor=ACTOR)
    assert _run(queued) == 2  # the CPO and the hub; not the eMSP, not the bare CPO
    created_at = _stamp(created.id)
    with django_capture_on_commit_callbacks(execute=True):
        tokens_api.token_set_valid(
            tenant_id=w.tenant_id, token_id=created.id, valid=False, actor=ACTOR
        )
    blocked_at = _stamp(created.id)
    assert blocked_at != created_at
    n = len(queued)
    assert _run(queued) == 2
    assert n == 1
    # The same version again (a replayed event, or the command's catch-up): nothing new.
    assert roaming_api.tokens_push_all(tenant_id=w.tenant_id, connection_id=w.connection.pk) == 0
    assert (
        cpo_push.ocpi_events_handle(
            payload=cpo_push.ocpi_events_for(
                events=[
                    {
                        "tenant_id": w.tenant_id,
                        "type": "token.changed",
                        "key": "again",
                        "data": {"platform_id": created.id},
                    }
                ]
            )
        )
        == 0
    )
    assert not OcpiPush.objects.filter(connection__in=[x.emsp, x.bare]).exists()

    assert push.push_drain(connection_id=w.connection.pk, now=NOW) == 2
    assert push.push_drain(connection_id=x.hub.pk, now=NOW) == 2
    reqs = receiver.requests
    assert [(r.method, r.path) for r in reqs] == [
        ("PUT", "/ocpi/emsp/2.2.1/cpo/tokens/NL/EMS/AA01?type=RFID"),
        ("PUT", "/ocpi/emsp/2.2.1/cpo/tokens/NL/EMS/AA01?type=RFID"),
        ("PUT", "/ocpi/emsp/2.2.1/hub/tokens/NL/EMS/AA01?type=RFID"),
        ("PUT", "/ocpi/emsp/2.2.1/hub/tokens/NL/EMS/AA01?type=RFID"),
    ]
    expected = {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": "AA01",
        "type": "RFID",
        "contract_id": "NL-EMS-CAA01",
        "issuer": "Our eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": created_at,
    }
    assert reqs[0].body == expected
    assert reqs[1].body == {**expected, "valid": False, "last_updated": blocked_at}
    assert reqs[2].body == reqs[0].body and reqs[3].body == reqs[1].body
    for r in reqs:
        schemas.validate(r.body, "2.2.1", "token")
    assert (reqs[0].headers["OCPI-to-country-code"], reqs[0].headers["OCPI-to-party-id"]) == (
        "DE",
        "CPO",
    )
    assert (reqs[2].headers["OCPI-to-country-code"], reqs[2].headers["OCPI-to-party-id"]) == (
        "NL",
        "HUB",
    )


def test_put_update_and_unblock_are_pushed_with_the_version_written(
    receiver: OcpiReceiver,
    queued: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    x = _world(receiver)
    w: World = x.w
    with django_capture_on_commit_callbacks(execute=True):
        rec, created = tokens_api.token_put(
            tenant_id=w.tenant_id, data=_input("BB01", valid=False), actor=ACTOR
        )
    assert created and _run(queued) == 2
    with django_capture_on_commit_callbacks(execute=True):
        tokens_api.token_update(
            tenant_id=w.tenant_id,
            token_id=rec.id,
            if_match=None,
            values={"visual_number": "VIS-1"},
            actor=ACTOR,
        )
    assert _run(queued) == 2
    with django_capture_on_commit_callbacks(execute=True):
        tokens_api.token_set_valid(tenant_id=w.tenant_id, token_id=rec.id, valid=True, actor=ACTOR)
    assert _run(queued) == 2
    assert push.push_drain(connection_id=w.connection.pk, now=NOW) == 3
    first, updated, unblocked = (r.body for r in receiver.requests)
    assert (first["valid"], first["last_updated"]) == (False, "2026-03-03T08:00:00Z")
    assert updated["visual_number"] == "VIS-1" and updated["valid"] is False
    assert unblocked["valid"] is True and unblocked["visual_number"] == "VIS-1"


def test_a_partner_token_or_another_tenants_is_never_pushed(
    receiver: OcpiReceiver,
    queued: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    x = _world(receiver)
    w: World = x.w
    partner = EmspFactory(tenant_id=w.tenant_id, kind="PARTNER", country_code="FR", party_id="PAR")
    data = TokenInput(
        country_code="FR", party_id="PAR", uid="THEIRS", type="RFID", contract_id="C", issuer="P"
    )
    # The OCPI tokens receiver (CPO role) caches a partner's token: no event at all.
    with django_capture_on_commit_callbacks(execute=True):
        rec, _ = tokens_api.token_partner_upsert(
            tenant_id=w.tenant_id, party_pk=partner.pk, data=data, actor=ACTOR
        )
    assert queued == []
    # Changed through the service all the same (portal, REST): the event comes, no push.
    with django_capture_on_commit_callbacks(execute=True):
        tokens_api.token_set_valid(tenant_id=w.tenant_id, token_id=rec.id, valid=False, actor=ACTOR)
    assert len(queued) == 1 and _run(queued) == 0
    # Another tenant with its own connection: its token goes to its partner only.
    y = _world(receiver, emsp=("NL", "EM2"))
    with django_capture_on_commit_callbacks(execute=True):
        tokens_api.token_create(
            tenant_id=y.w.tenant_id, data=_input("CC01", ("NL", "EM2")), actor=ACTOR
        )
    assert _run(queued) == 2
    assert not OcpiPush.objects.filter(tenant_id=w.tenant_id).exists()
    assert set(OcpiPush.objects.values_list("connection_id", flat=True)) == {
        y.w.connection.pk,
        y.hub.pk,
    }
    # A consumer event naming another tenant's token id finds nothing to push.
    other = Token.objects.get(uid="CC01")
    assert (
        cpo_push.ocpi_events_handle(
            payload=cpo_push.ocpi_events_for(
                events=[
                    {
                        "tenant_id": w.tenant_id,
                        "type": "token.changed",
                        "key": "x",
                        "data": {"platform_id": other.pk},
                    }
                ]
            )
        )
        == 0
    )
    assert not OcpiPush.objects.filter(tenant_id=w.tenant_id).exists()


def test_a_bulk_import_is_one_task_and_one_insert_per_connection(
    receiver: OcpiReceiver,
    queued: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    x = _world(receiver)
    w: World = x.w
    TokenFactory(party_id=w.emsp_party_pk, tenant_id=w.tenant_id, uid="OLD")  # untouched
    with django_capture_on_commit_callbacks(execute=True):
        report = tokens_api.token_bulk_upsert(
            tenant_id=w.tenant_id, items=[_input(f"BULK{i}") for i in range(3)], actor=ACTOR
        )
    assert not report.rejected
    [(_, payload)] = queued  # one consumer task for the whole import
    assert [e["type"] for e in transport.loads(payload)] == ["token.changed"] * 3
    with CaptureQueriesContext(connection) as ctx:
        assert _run(queued) == 6
    inserts = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('INSERT INTO "roaming_ocpipush"')
    ]
    assert len(inserts) == 2  # one per connection (the CPO, the hub)
    rows = list(OcpiPush.objects.filter(connection=w.connection).order_by("id"))
    assert [r.path for r in rows] == [f"NL/EMS/BULK{i}?type=RFID" for i in range(3)]
    assert {r.key for r in rows} == {
        f"token:{t.pk}:2026-03-03T08:00:00Z" for t in Token.objects.filter(uid__startswith="BULK")
    }


def test_211_partner_gets_the_211_token(
    receiver: OcpiReceiver,
    queued: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    w = make_world(version="2.1.1", partner_base=f"{receiver.url}/v211")
    roaming_api.cpo_interest_sync(tenant_id=w.tenant_id)
    with django_capture_on_commit_callbacks(execute=True):
        tokens_api.token_put(tenant_id=w.tenant_id, data=_input("DD01"), actor=ACTOR)
    assert _run(queued) == 1
    assert push.push_drain(connection_id=w.connection.pk, now=NOW) == 1
    [req] = receiver.requests
    assert req.path == "/ocpi/emsp/2.2.1/v211/tokens/NL/EMS/DD01"
    assert req.body == {
        "uid": "DD01",
        "type": "RFID",
        "auth_id": "NL-EMS-CDD01",
        "issuer": "Our eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-03-03T08:00:00Z",
    }
    schemas.validate(req.body, "2.1.1", "token")


def test_a_token_put_through_the_rest_api_is_pushed(
    receiver: OcpiReceiver,
    queued: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from rest_framework.test import APIClient

    from apps.integrations import api as integrations_api

    x = _world(receiver)
    w: World = x.w
    _, key = integrations_api.api_key_create(
        tenant_id=w.tenant_id, name="crm", scopes=["tokens:write", "tokens:read"], actor=ACTOR
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"contract_id": "NL-EMS-CREST", "issuer": "Our eMSP", "type": "RFID"}
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.put("/api/v1/tokens/NL/EMS/REST1", body, format="json")
    assert resp.status_code == 201
    assert _run(queued) == 2
    assert push.push_drain(connection_id=w.connection.pk, now=NOW) == 1
    [req] = receiver.requests
    assert (req.method, req.path) == ("PUT", "/ocpi/emsp/2.2.1/cpo/tokens/NL/EMS/REST1?type=RFID")
    assert (req.body["uid"], req.body["contract_id"], req.body["valid"]) == (
        "REST1",
        "NL-EMS-CREST",
        True,
    )
    assert req.body["last_updated"] == "2026-03-03T08:00:00Z"
