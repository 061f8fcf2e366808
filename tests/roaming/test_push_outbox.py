"""The push outbox (apps.roaming.services.push): in order per connection, once per key,
retried with back-off without letting a later push overtake, the exchanges logged in the
drain's batch. Time is passed in (`now`), the receiver is a loopback server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest

from apps.common import crypto
from apps.roaming.models import OcpiConnection, OcpiEndpoint, OcpiExchange, OcpiPush
from apps.roaming.services import push
from tests.factories import OperatorFactory, PartyFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Receiver:
    def __init__(self) -> None:
        self.got: list[tuple[str, str, Any, dict[str, str]]] = []
        self.fail_next: list[int] = []  # HTTP statuses to answer before succeeding
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _any(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"null")
                status = outer.fail_next.pop(0) if outer.fail_next else 200
                if status == 200:
                    outer.got.append((self.command, self.path, body, dict(self.headers)))
                    out = b'{"status_code": 1000, "timestamp": "2026-12-07T12:00:00Z"}'
                elif status >= 500:
                    out = b'{"status_code": 3000, "timestamp": "2026-12-07T12:00:00Z"}'
                else:
                    out = b'{"status_code": 2001, "timestamp": "2026-12-07T12:00:00Z"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                if status == 200 and self.command == "POST":
                    self.send_header("Location", "https://partner.example/cdrs/1")
                self.end_headers()
                self.wfile.write(out)

            do_POST = do_PUT = do_PATCH = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def conn(receiver: Receiver) -> OcpiConnection:
    tenant = OperatorFactory()
    PartyFactory(tenant=tenant, country_code="NL", party_id="CPO")
    c = OcpiConnection.objects.create(
        tenant=tenant,
        name="eMSP",
        versions_url=f"{receiver.url}/versions",
        version="2.2.1",
        status="REGISTERED",
        initiator="US",
        their_token_encrypted=crypto.encrypt("token-c"),
    )
    OcpiEndpoint.objects.create(
        tenant=tenant, connection=c, module="cdrs", role="RECEIVER", url=f"{receiver.url}/cdrs"
    )
    return c


def _enqueue(conn: OcpiConnection, key: str, body: Any) -> int | None:
    with mock.patch.object(push, "drain_enqueue"):
        return push.push_enqueue(
            connection_id=conn.pk,
            module="cdrs",
            method="POST",
            path="",
            key=key,
            body=body,
            to_party=("DE", "MSP"),
            now=NOW,
        )


def test_sent_in_order_once_per_key_with_routing_headers(
    conn: OcpiConnection, receiver: Receiver
) -> None:
    first = _enqueue(conn, "cdr:1", {"id": "1"})
    assert _enqueue(conn, "cdr:1", {"id": "1"}) is None  # the same version: nothing twice
    _enqueue(conn, "cdr:2", {"id": "2"})
    with mock.patch.object(push, "drain_enqueue"):
        assert push.push_drain(connection_id=conn.pk, now=NOW + timedelta(seconds=1)) == 2
    assert [b["id"] for _, _, b, _ in receiver.got] == ["1", "2"]
    headers = receiver.got[0][3]
    assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == ("NL", "CPO")
    assert (headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]) == ("DE", "MSP")
    assert headers["Authorization"] == "Token dG9rZW4tYw=="  # base64("token-c")
    row = OcpiPush.objects.get(pk=first)
    assert (row.status, row.attempts, row.response_location) == (
        "SENT",
        1,
        "https://partner.example/cdrs/1",
    )
    assert OcpiExchange.objects.filter(connection=conn, direction="OUT").count() == 2


def test_a_failure_is_retried_later_and_nothing_overtakes_it(
    conn: OcpiConnection, receiver: Receiver
) -> None:
    _enqueue(conn, "cdr:1", {"id": "1"})
    _enqueue(conn, "cdr:2", {"id": "2"})
    receiver.fail_next = [500]
    with mock.patch.object(push, "drain_enqueue") as again:
        assert push.push_drain(connection_id=conn.pk, now=NOW) == 0
    assert receiver.got == []
    assert again.call_args.kwargs["countdown"] == push.backoff(1) == 2.0
    one = OcpiPush.objects.get(key="cdr:1")
    assert (one.status, one.attempts, one.next_attempt_at) == (
        "PENDING",
        1,
        NOW + timedelta(seconds=2),
    )
    assert "HTTP 500" in one.last_error
    with mock.patch.object(push, "drain_enqueue"):
        assert push.push_drain(connection_id=conn.pk, now=NOW + timedelta(seconds=1)) == 0
        assert push.push_drain(connection_id=conn.pk, now=NOW + timedelta(seconds=2)) == 2
    assert [b["id"] for _, _, b, _ in receiver.got] == ["1", "2"]


def test_a_refusal_fails_that_push_only(conn: OcpiConnection, receiver: Receiver) -> None:
    _enqueue(conn, "cdr:1", {"id": "1"})
    _enqueue(conn, "cdr:2", {"id": "2"})
    receiver.fail_next = [400]
    with mock.patch.object(push, "drain_enqueue"):
        assert push.push_drain(connection_id=conn.pk, now=NOW) == 1
    assert OcpiPush.objects.get(key="cdr:1").status == "FAILED"
    assert [b["id"] for _, _, b, _ in receiver.got] == ["2"]


def test_a_suspended_connection_holds_and_release_resends(
    conn: OcpiConnection, receiver: Receiver
) -> None:
    _enqueue(conn, "cdr:1", {"id": "1"})
    OcpiConnection.objects.filter(pk=conn.pk).update(status="SUSPENDED")
    with mock.patch.object(push, "drain_enqueue"):
        assert push.push_drain(connection_id=conn.pk, now=NOW) == 0
    assert OcpiPush.objects.get(key="cdr:1").status == "HELD"
    OcpiConnection.objects.filter(pk=conn.pk).update(status="REGISTERED")
    with mock.patch.object(push, "drain_enqueue"):
        assert push.pushes_release(connection_id=conn.pk) == 1
        OcpiPush.objects.filter(key="cdr:1").update(next_attempt_at=NOW)
        assert push.push_drain(connection_id=conn.pk, now=NOW) == 1
    assert len(receiver.got) == 1
