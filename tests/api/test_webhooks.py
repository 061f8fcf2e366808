"""Webhooks: emission on commit, HMAC-SHA256 signatures with a timestamp, delivery with
exponential back-off to a real local HTTP receiver, the delivery log and the test endpoint."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import urllib3
from django.utils import timezone

from apps.common import outbound
from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.integrations import jobs, services
from apps.integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from apps.integrations.tasks import webhook_deliver
from tests.api.conftest import World
from tests.webhook_receiver import Receiver, verify

SETUP = Actor.system("test setup")

pytestmark = pytest.mark.django_db


def _subscribe(world: World, url: str, events: list[str]) -> tuple[int, str]:
    return integrations_api.webhook_subscription_create(
        tenant_id=world.tenant.pk, url=url, events=events, actor=SETUP
    )


def test_emit_records_deliveries_and_queues_them_on_commit(
    world_a: World, world_b: World, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(jobs, "webhook_deliver", queued.append)
    wanted, _ = _subscribe(world_a, "http://127.0.0.1:9/a", ["session.ended", "cdr.created"])
    _subscribe(world_a, "http://127.0.0.1:9/b", ["session.started"])
    paused, _ = _subscribe(world_a, "http://127.0.0.1:9/c", ["session.ended"])
    WebhookSubscription.objects.filter(pk=paused).update(is_active=False)
    _subscribe(world_b, "http://127.0.0.1:9/other-tenant", ["session.ended"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ids = integrations_api.webhook_event_emit(
            tenant_id=world_a.tenant.pk,
            type="session.ended",
            payload={"session_id": 7, "kwh": Decimal("12.3456")},
            now=timezone.now(),
        )
        assert queued == []  # nothing leaves before the transaction commits
    assert len(callbacks) == 1
    assert queued == ids and len(ids) == 1
    delivery = WebhookDelivery.objects.get(pk=ids[0])
    assert delivery.subscription_id == wanted
    assert '"kwh":12.3456' in delivery.body  # Decimal as a JSON number, never a float
    # The same event again (a redelivered caller) creates nothing new.
    again = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk,
        type="session.ended",
        payload={},
        now=timezone.now(),
        event_id=delivery.event_id,
    )
    assert again == ids
    assert WebhookDelivery.objects.filter(subscription_id=wanted).count() == 1


def test_delivery_is_signed_and_logged(world_a: World, receiver: Receiver) -> None:
    sub_id, secret = _subscribe(world_a, receiver.url, ["session.ended"])
    (delivery_id,) = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk,
        type="session.ended",
        payload={"cdr_id": 1},
        now=timezone.now(),
    )
    assert webhook_deliver.apply(args=[delivery_id]).get() is True
    (request,) = receiver.requests
    headers = request["headers"]
    assert headers["Webhook-Event"] == "session.ended"
    assert verify(
        secret, headers["Webhook-Signature"], request["body"], now=int(timezone.now().timestamp())
    )
    assert not verify(
        "whsec_wrong",
        headers["Webhook-Signature"],
        request["body"],
        now=int(timezone.now().timestamp()),
    )
    event = json.loads(request["body"])
    assert event["type"] == "session.ended" and event["data"] == {"cdr_id": 1}
    assert event["id"] == headers["Webhook-Id"]
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    # Delivered once: a redelivered task does not send again.
    assert webhook_deliver.apply(args=[delivery_id]).get() is True
    assert len(receiver.requests) == 1


def test_failed_attempts_are_retried_with_exponential_back_off(
    world_a: World, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    _subscribe(world_a, receiver.url, ["token.authorized"])
    (delivery_id,) = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk, type="token.authorized", payload={}, now=timezone.now()
    )
    t0 = timezone.now()
    first = services.webhook_delivery_attempt(delivery_id=delivery_id, now=t0)
    assert (first.delivered, first.retry_in, first.status_code) == (False, 30, 500)
    second = services.webhook_delivery_attempt(
        delivery_id=delivery_id, now=t0 + timedelta(seconds=30)
    )
    assert (second.delivered, second.retry_in) == (False, 60)
    third = services.webhook_delivery_attempt(
        delivery_id=delivery_id, now=t0 + timedelta(seconds=90)
    )
    assert third.delivered and third.retry_in is None
    log = list(WebhookAttempt.objects.filter(delivery_id=delivery_id).order_by("id"))
    assert [a.status_code for a in log] == [500, 503, 200]
    assert len(receiver.requests) == 3
    # The three requests carry the same event id and body; each is signed afresh.
    assert len({r["headers"]["Webhook-Id"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1


def test_the_celery_task_retries_until_delivered(world_a: World, receiver: Receiver) -> None:
    receiver.statuses = [500]
    _subscribe(world_a, receiver.url, ["station.status_changed"])
    (delivery_id,) = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk,
        type="station.status_changed",
        payload={},
        now=timezone.now(),
    )
    webhook_deliver.apply(args=[delivery_id])  # eager: the retry runs at once
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_gives_up_after_the_last_attempt(world_a: World) -> None:
    _subscribe(world_a, "http://127.0.0.1:9/down", ["session.started"])
    (delivery_id,) = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk, type="session.started", payload={}, now=timezone.now()
    )
    delays = []
    for _ in range(services.MAX_ATTEMPTS):
        outcome = services.webhook_delivery_attempt(
            delivery_id=delivery_id, now=timezone.now(), send=lambda *a: 502
        )
        delays.append(outcome.retry_in)
    assert delays == [30, 60, 120, 240, 480, 960, 1920, None]
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts) == ("failed", services.MAX_ATTEMPTS)
    extra = services.webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now())
    assert extra.retry_in is None and not extra.delivered


def test_network_errors_are_failed_attempts(world_a: World) -> None:
    _subscribe(world_a, "http://127.0.0.1:9/refused", ["session.started"])
    (delivery_id,) = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk, type="session.started", payload={}, now=timezone.now()
    )
    outcome = services.webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now())
    assert outcome.retry_in == 30 and outcome.status_code is None
    assert "Error" in outcome.error


def test_the_test_endpoint_sends_a_ping(
    world_a: World, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    client = world_a.client()
    created = client.post(
        "/api/v1/webhooks", {"url": receiver.url, "events": ["cdr.created"]}, format="json"
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{created.json()['id']}").json()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/api/v1/webhooks/{created.json()['id']}/test")
    assert response.status_code == 202
    delivery_id = response.json()["id"]
    webhook_deliver.apply(args=[delivery_id])
    (request,) = receiver.requests
    assert request["headers"]["Webhook-Event"] == "ping"
    assert verify(
        secret,
        request["headers"]["Webhook-Signature"],
        request["body"],
        now=int(timezone.now().timestamp()),
    )
    log = client.get(f"/api/v1/webhooks/{created.json()['id']}/deliveries").json()["data"]
    assert [(d["event_type"], d["status"], d["attempts"]) for d in log] == [
        ("ping", "succeeded", 1)
    ]


def test_signing_secrets_are_encrypted_at_rest_and_rotate(
    world_a: World, receiver: Receiver, settings: Any
) -> None:
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    sub_id, secret = _subscribe(world_a, receiver.url, ["session.ended"])
    stored = WebhookSubscription.objects.get(pk=sub_id).secret_encrypted
    assert secret.startswith("whsec_") and secret not in stored and stored.startswith("fernet:")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    call_command("reencrypt_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert WebhookSubscription.objects.get(pk=sub_id).secret_encrypted != stored
    (delivery_id,) = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk, type="session.ended", payload={}, now=timezone.now()
    )
    settings.ENCRYPTION_KEYS = [*settings.ENCRYPTION_KEYS, "an-old-key-no-longer-in-use-0123456789"]
    webhook_deliver.apply(args=[delivery_id])
    (request,) = receiver.requests  # signed with the secret decrypted by the new key
    now = int(timezone.now().timestamp())
    assert verify(secret, request["headers"]["Webhook-Signature"], request["body"], now=now)


def test_unknown_events_are_refused(world_a: World) -> None:
    response = world_a.client().post(
        "/api/v1/webhooks",
        {"url": "https://example.test/h", "events": ["cdr.deleted"]},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "$.events[0]"


def test_a_delivery_queued_twice_is_not_sent_again_while_an_attempt_is_in_flight(
    world_a: World,
) -> None:
    """Its event emitted twice, a delivery's task runs twice; the second one, starting while
    the first is still waiting for the subscriber, sends nothing."""
    _subscribe(world_a, "http://127.0.0.1:9/slow", ["session.started"])
    (delivery_id,) = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk, type="session.started", payload={}, now=timezone.now()
    )
    sent: list[str] = []
    inner: list[Any] = []

    def slow_subscriber(url: str, body: bytes, headers: dict[str, str]) -> int:
        sent.append(headers["Webhook-Attempt"])
        # Meanwhile the duplicate task runs (another worker).
        inner.append(
            services.webhook_delivery_attempt(
                delivery_id=delivery_id, now=timezone.now(), send=slow_subscriber
            )
        )
        return 200

    outcome = services.webhook_delivery_attempt(
        delivery_id=delivery_id, now=timezone.now(), send=slow_subscriber
    )
    assert outcome.delivered and sent == ["1"]
    assert (inner[0].delivered, inner[0].error) == (False, "in flight")
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    # After it was delivered, a late duplicate sends nothing either.
    late = services.webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now())
    assert late.delivered and sent == ["1"]


# --- Targets the platform may not call (SSRF, ADR 0017) --------------------------------------


def _resolving(monkeypatch: Any, table: dict[str, list[str]]) -> None:
    """Replace DNS for the outbound client: host name -> addresses."""

    def resolve(host: str, port: int, family: int, type: int) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(0, 0, 0, "", (a, port)) for a in table[host]]

    monkeypatch.setattr(outbound, "resolve_host", resolve)


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://127.0.0.1:8000/hooks", "127.0.0.1 is a loopback address"),
        ("http://[::1]/hooks", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://10.20.30.40/hooks", "10.20.30.40 is a private address"),
        ("https://[fd00::5]/hooks", "fd00::5 is a unique-local address"),
        ("https://[::ffff:192.168.0.1]/h", "a private address (192.168.0.1 inside"),
        ("https://intranet.example/hooks", "intranet.example resolves to 172.16.4.4, a private"),
        ("https://localhost/hooks", "localhost resolves to 127.0.0.1, a loopback address"),
    ],
)
def test_a_subscription_to_a_non_public_target_is_refused(
    world_a: World, settings: Any, monkeypatch: Any, url: str, refusal: str
) -> None:
    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = False
    _resolving(monkeypatch, {"intranet.example": ["172.16.4.4"], "localhost": ["127.0.0.1"]})
    before = set(WebhookSubscription.objects.values_list("pk", flat=True))
    response = world_a.client().post(
        "/api/v1/webhooks", {"url": url, "events": ["cdr.created"]}, format="json"
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["path"] == "$.url"
    assert refusal in error["message"]
    assert set(WebhookSubscription.objects.values_list("pk", flat=True)) == before


def test_a_subscription_cannot_be_moved_to_a_non_public_target(
    world_a: World, settings: Any, monkeypatch: Any
) -> None:
    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = False
    _resolving(monkeypatch, {"hooks.example": ["93.184.216.34"]})
    sub_id, _ = _subscribe(world_a, "https://hooks.example/h", ["cdr.created"])
    response = world_a.client().patch(
        f"/api/v1/webhooks/{sub_id}", {"url": "http://192.168.1.10/h"}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "$.url"
    assert WebhookSubscription.objects.get(pk=sub_id).url == "https://hooks.example/h"


def test_a_delivery_is_not_sent_when_the_name_now_resolves_to_a_private_address(
    world_a: World, settings: Any, monkeypatch: Any
) -> None:
    """Checked at subscription against a public address, the name is re-resolved at every
    attempt (DNS may change): the attempt fails, and nothing is connected to."""
    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = False
    _resolving(monkeypatch, {"hooks.example": ["93.184.216.34"]})
    _subscribe(world_a, "https://hooks.example/h", ["session.started"])
    _resolving(monkeypatch, {"hooks.example": ["93.184.216.34", "10.0.0.7"]})
    opened: list[str] = []
    monkeypatch.setattr(
        urllib3.HTTPConnectionPool, "urlopen", lambda self, *a, **k: opened.append(self.host)
    )
    (delivery_id,) = integrations_api.webhook_event_emit(
        tenant_id=world_a.tenant.pk, type="session.started", payload={}, now=timezone.now()
    )
    outcome = services.webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now())
    assert (outcome.delivered, outcome.status_code, outcome.retry_in) == (False, None, 30)
    assert outcome.error == (
        "BlockedDestination: 'https://hooks.example/h' is refused: "
        "hooks.example resolves to 10.0.0.7, a private address"
    )
    assert opened == []
    (attempt,) = WebhookAttempt.objects.filter(delivery_id=delivery_id)
    assert attempt.error == outcome.error


def test_a_delivery_does_not_follow_a_redirect(world_a: World) -> None:
    """A subscriber answering 302 elsewhere (here: to another local receiver standing in for
    an internal address) gets a failed attempt; the redirect's target receives nothing."""
    inside = Receiver([])
    redirecting = Receiver([302], headers={"Location": inside.url})
    try:
        _subscribe(world_a, redirecting.url, ["session.started"])
        (delivery_id,) = integrations_api.webhook_event_emit(
            tenant_id=world_a.tenant.pk, type="session.started", payload={}, now=timezone.now()
        )
        outcome = services.webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now())
        assert (outcome.delivered, outcome.status_code, outcome.error) == (False, 302, "HTTP 302")
        assert len(redirecting.requests) == 1
        assert inside.requests == []
    finally:
        redirecting.close()
        inside.close()
