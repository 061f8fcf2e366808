"""The outbound HTTP client refuses non-public targets (SSRF, ADR 0017): literal addresses,
names resolving to them (the resolver is replaced: no real DNS), redirects to them; it calls
the address it checked, with timeouts."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3

from apps.common import outbound
from tests.webhook_receiver import Receiver

REFUSED = [
    # IPv4
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("169.254.169.254", "a link-local address"),  # cloud metadata
    ("100.64.0.1", "not a public address"),  # shared address space (CGNAT)
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("255.255.255.255", "a private address"),  # broadcast
    ("240.0.0.1", "a private address"),  # reserved
    # IPv6
    ("::1", "a loopback address"),
    ("::", "an unspecified address"),
    ("fe80::1", "a link-local address"),
    ("fd12:3456::1", "a unique-local address"),
    ("fc00::1", "a unique-local address"),
    ("ff02::1", "a multicast address"),
    ("ff0e::1", "a multicast address"),
    # IPv6 forms that carry an IPv4 address
    ("::ffff:127.0.0.1", "a loopback address (127.0.0.1 inside ::ffff:7f00:1)"),
    ("::ffff:10.0.0.1", "a private address (10.0.0.1 inside ::ffff:a00:1)"),
    ("::ffff:169.254.169.254", "a link-local address (169.254.169.254 inside ::ffff:a9fe:a9fe)"),
    ("2002:7f00:1::", "a loopback address (127.0.0.1 inside 2002:7f00:1::)"),  # 6to4
    ("64:ff9b::a00:1", "a private address (10.0.0.1 inside 64:ff9b::a00:1)"),  # NAT64
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_non_public_addresses_are_refused_with_the_reason(address: str, reason: str) -> None:
    assert outbound.address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert outbound.address_refusal(ipaddress.ip_address(address)) is None


def test_the_loopback_allowance_lets_loopback_through_and_nothing_else() -> None:
    allowed = {
        a
        for a, _ in REFUSED
        if outbound.address_refusal(ipaddress.ip_address(a), allow_loopback=True) is None
    }
    assert allowed == {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1", "2002:7f00:1::"}


def _resolver(table: dict[str, list[str]]) -> Any:
    """A getaddrinfo stand-in: host name -> addresses."""

    def resolve(host: str, port: int, family: int, type: int) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in table[host]
        ]

    return resolve


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails the test if any connection is opened; records attempted ones."""
    opened: list[str] = []

    def refuse(self: Any, method: str, url: str, **kwargs: Any) -> Any:
        opened.append(f"{self.host}:{self.port}{url}")
        raise AssertionError("a connection was opened to a refused target")

    monkeypatch.setattr(urllib3.HTTPConnectionPool, "urlopen", refuse)
    return opened


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000/h", "'http://127.0.0.1:8000/h' is refused: 127.0.0.1 is a loop"),
        ("http://[::1]/h", "'http://[::1]/h' is refused: ::1 is a loopback address"),
        (
            "http://[::ffff:169.254.169.254]/latest",
            "is refused: ::ffff:a9fe:a9fe is a link-local address (169.254.169.254 inside",
        ),
        ("https://10.0.0.8/h", "'https://10.0.0.8/h' is refused: 10.0.0.8 is a private address"),
        ("ftp://hooks.example/h", "the scheme must be http or https"),
        ("http:///h", "has no host"),
        ("http://hooks.example:99999/h", "is not a valid URL"),
    ],
)
def test_literal_and_malformed_targets_are_refused_before_connecting(
    url: str, message: str, no_connection: list[str]
) -> None:
    client = outbound.Client(allow_loopback=False, resolver=_resolver({}))
    with pytest.raises(outbound.BlockedDestination) as raised:
        client.post(url, body=b"{}")
    assert message in str(raised.value)
    assert no_connection == []


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["10.0.0.5"], "10.0.0.5, a private address"),
        (["93.184.216.34", "169.254.169.254"], "169.254.169.254, a link-local address"),
        (["2606:2800:220:1::1", "fd00::7"], "fd00::7, a unique-local address"),
        (["::ffff:127.0.0.1"], "::ffff:7f00:1, a loopback address (127.0.0.1 inside"),
        (["127.0.0.1"], "127.0.0.1, a loopback address"),
    ],
)
def test_a_name_is_refused_when_any_of_its_addresses_is_not_public(
    addresses: list[str], refused: str, no_connection: list[str]
) -> None:
    client = outbound.Client(allow_loopback=False, resolver=_resolver({"hooks.example": addresses}))
    with pytest.raises(outbound.BlockedDestination) as raised:
        client.post("https://hooks.example/h", body=b"{}")
    assert str(raised.value).startswith(
        f"'https://hooks.example/h' is refused: hooks.example resolves to {refused}"
    )
    assert no_connection == []


def test_check_target_accepts_a_name_that_does_not_resolve_yet_but_refuses_literals() -> None:
    outbound.check_target("https://not-yet.example/h", resolver=_resolver({}))
    with pytest.raises(outbound.BlockedDestination):
        outbound.check_target("http://192.168.0.1/h", resolver=_resolver({}))
    with pytest.raises(outbound.BlockedDestination):
        outbound.check_target("gopher://hooks.example/h", resolver=_resolver({}))


def test_the_setting_allows_loopback(settings: Any) -> None:
    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = False
    with pytest.raises(outbound.BlockedDestination):
        outbound.check_target("http://127.0.0.1:9/h")
    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = True
    outbound.check_target("http://127.0.0.1:9/h")
    with pytest.raises(outbound.BlockedDestination):
        outbound.check_target("http://10.0.0.1:9/h")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def test_the_request_goes_to_the_checked_address_with_the_name_as_host(
    receiver: Receiver,
) -> None:
    """The name is resolved once and the connection made to that address: DNS cannot answer
    a public address to the check and a private one to the connection."""
    port = receiver.server.server_address[1]
    calls: list[str] = []
    resolve = _resolver({"hooks.example": ["127.0.0.1"]})

    def counting(host: str, *args: Any) -> Any:
        calls.append(host)
        return resolve(host, *args)

    client = outbound.Client(allow_loopback=True, resolver=counting)
    response = client.post(
        f"http://hooks.example:{port}/hooks?x=1", body=b'{"a":1}', headers={"X-Test": "1"}
    )
    assert response.status == 200
    assert calls == ["hooks.example"]
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"hooks.example:{port}"
    assert request["headers"]["X-Test"] == "1"
    assert request["body"] == b'{"a":1}'


@pytest.mark.parametrize(
    ("location", "refusal"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[fd00::1]:9/x", "fd00::1 is a unique-local address"),
        ("http://[::ffff:10.1.1.1]/x", "a private address (10.1.1.1 inside ::ffff:a01:101)"),
        ("http://internal.example/admin", "internal.example resolves to 192.168.7.7, a private"),
        ("file:///etc/passwd", "the scheme must be http or https"),
    ],
)
def test_a_redirect_to_a_refused_target_is_not_followed(location: str, refusal: str) -> None:
    """The first hop is the test's receiver on loopback (allowed here); where it redirects
    to is checked like a first target, before any connection."""
    source = Receiver([307], headers={"Location": location})
    connected: list[str] = []
    real_pool = outbound.Client._pool

    def recording_pool(self: Any, scheme: str, address: Any, port: int, host: str) -> Any:
        connected.append(str(address))
        return real_pool(self, scheme, address, port, host)

    try:
        client = outbound.Client(
            allow_loopback=True,
            max_redirects=3,
            resolver=_resolver({"internal.example": ["192.168.7.7"]}),
        )
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(outbound.Client, "_pool", recording_pool)
            with pytest.raises(outbound.BlockedDestination) as raised:
                client.post(source.url, body=b"{}")
        assert refusal in str(raised.value)
        assert len(source.requests) == 1
        assert connected == ["127.0.0.1"]  # the redirect's target was never connected to
    finally:
        source.close()


def test_redirects_are_not_followed_by_default_and_followed_to_allowed_targets() -> None:
    target = Receiver([200])
    source = Receiver([307, 303], headers={"Location": target.url + "/next"})
    try:
        assert outbound.client().max_redirects == 0
        client = outbound.Client(allow_loopback=True)
        first = client.post(source.url, body=b"{}")
        assert (first.status, first.headers["location"]) == (307, target.url + "/next")
        assert target.requests == []  # not followed
        followed = outbound.Client(allow_loopback=True, max_redirects=1).post(
            source.url, body=b'{"b":2}', headers={"Content-Type": "application/json"}
        )
        assert (followed.status, followed.url) == (200, target.url + "/next")
        (request,) = target.requests  # 303: continued as GET without the body
        assert (request["method"], request["body"]) == ("GET", b"")
        assert "Content-Type" not in request["headers"]
    finally:
        source.close()
        target.close()


def test_credentials_do_not_follow_a_redirect_to_another_origin() -> None:
    """Authorization and cookies go to the origin they were meant for only; other headers and
    a same-origin redirect keep them."""
    other = Receiver([200])
    source = Receiver([307, 200, 307], headers={"Location": "/same"})
    sensitive = {"Authorization": "Token secret-a", "Cookie": "s=1", "X-Trace": "t-1"}
    try:
        client = outbound.Client(allow_loopback=True, max_redirects=2)
        client.post(source.url, body=b"{}", headers=sensitive)
        first, same = source.requests[0], source.requests[1]
        for request in (first, same):
            assert (request["headers"]["Authorization"], request["headers"]["Cookie"]) == (
                "Token secret-a",
                "s=1",
            )
        source.headers = {"Location": other.url + "/elsewhere"}
        client.post(source.url, body=b"{}", headers=sensitive)
        (moved,) = other.requests
        assert "Authorization" not in moved["headers"] and "Cookie" not in moved["headers"]
        assert moved["headers"]["X-Trace"] == "t-1"
    finally:
        source.close()
        other.close()


def test_the_shared_client_has_timeouts() -> None:
    shared = outbound.client()
    assert shared is outbound.client()
    assert (shared.timeout.connect_timeout, shared.timeout.read_timeout) == (5.0, 10.0)


def test_a_silent_server_is_cut_off_by_the_read_timeout() -> None:
    """A server that accepts and never answers: the request ends with a timeout error (the
    clock is the socket's: nothing here waits for a fixed time and hopes)."""
    release = threading.Event()

    class Silent(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            release.wait(10)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = outbound.Client(allow_loopback=True, read_timeout=0.2)
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            client.post(f"http://127.0.0.1:{server.server_address[1]}/h", body=b"{}")
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_long_answer_is_cut_and_its_connection_not_reused(monkeypatch) -> None:
    monkeypatch.setattr(outbound, "MAX_RESPONSE_BYTES", 10)

    class Long(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b"x" * 1000 if self.path == "/long" else b"short"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Long)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = outbound.Client(allow_loopback=True)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert client.post(base + "/long", body=b"{}").body == b"x" * 10
        # The next request on the same pool reads its own answer, not the rest of the last.
        assert client.post(base + "/short", body=b"{}").body == b"short"
    finally:
        server.shutdown()
        server.server_close()
