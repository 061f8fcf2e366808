"""The one HTTP client for calls the platform makes to addresses its tenants or partners give
it (webhook deliveries; OCPI calls to roaming partners next), guarded against server-side
request forgery (ADR 0017).

A target is refused unless its scheme is http or https and every address its host resolves
to is a public one: loopback, private, link-local, unique-local, shared (CGNAT), multicast,
unspecified and reserved addresses are refused, IPv4-mapped and other IPv6 forms that embed an
IPv4 address are checked as that IPv4 address. The request then goes to the address that was
checked (the name is not resolved a second time, so DNS cannot switch it to another address
in between); TLS still verifies the certificate against the host name. Redirects are not
followed unless the caller asks, and each hop is checked like the first.

`OUTBOUND_HTTP_ALLOW_LOOPBACK` (setting, default off) lets loopback targets through, for tests
and development; nothing else is ever let through.

    client = outbound.client()              # the shared one (timeouts from the module)
    response = client.post(url, body=b"...", headers={...})
    response.status                         # raises outbound.BlockedDestination, or
                                            # urllib3's errors for network failures
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 1_000_000  # more of a response body is not read
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# getaddrinfo's shape: (family, type, proto, canonname, sockaddr)
Resolver = Callable[..., Sequence[tuple[Any, Any, Any, Any, tuple[Any, ...]]]]


class BlockedDestination(Exception):
    """The target is not one the platform may call; the message says which part and why."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str  # the URL that answered (after any redirects followed)


def loopback_allowed() -> bool:
    return bool(getattr(settings, "OUTBOUND_HTTP_ALLOW_LOOPBACK", False))


def address_refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why this address may not be called ("a private address", ...), or None when it may."""
    embedded: ipaddress.IPv4Address | None = None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if embedded is not None:
        reason = address_refusal(embedded, allow_loopback=allow_loopback)
        return f"{reason} ({embedded} inside {address})" if reason else None
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local address"
    for flag, what in (
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, flag):
            return what
    if not address.is_global:
        return "not a public address"
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


def _split(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedDestination(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BlockedDestination(f"{url!r}: the scheme must be http or https")
    host = parts.hostname
    if not host:
        raise BlockedDestination(f"{url!r} has no host")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve_host(host: str, port: int, family: int, type: int) -> Any:
    """The system resolver (getaddrinfo); tests replace this function to control DNS."""
    return socket.getaddrinfo(host, port, family, type)


def resolve_checked(
    url: str, *, allow_loopback: bool | None = None, resolver: Resolver | None = None
) -> list[IPAddress]:
    """Every address the URL's host resolves to, all of them allowed; else BlockedDestination.
    A name that does not resolve raises socket.gaierror (a network error, not a refusal)."""
    allow = loopback_allowed() if allow_loopback is None else allow_loopback
    scheme, host, port = _split(url)
    literal = _literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        infos = (resolver or resolve_host)(host, port, 0, socket.SOCK_STREAM)
        addresses = []
        for info in infos:
            # An IPv6 sockaddr may carry a zone ("fe80::1%eth0"): the part before it counts.
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise socket.gaierror(f"{host} resolves to no address")
    for address in addresses:
        reason = address_refusal(address, allow_loopback=allow)
        if reason:
            where = f"{address} is" if literal is not None else f"{host} resolves to {address},"
            raise BlockedDestination(f"{url!r} is refused: {where} {reason}")
    return addresses


def check_target(
    url: str, *, allow_loopback: bool | None = None, resolver: Resolver | None = None
) -> None:
    """Validate a target when it is configured (a subscription, a partner's URL): refused like
    at request time; a name that does not resolve now is accepted (it is checked again, with
    every address, on each request)."""
    try:
        resolve_checked(url, allow_loopback=allow_loopback, resolver=resolver)
    except (socket.gaierror, UnicodeError):
        _split(url)


# Headers that only the origin they were sent to may see: dropped on a redirect elsewhere.
ORIGIN_BOUND_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class Client:
    """A small HTTP client over urllib3 that only calls allowed addresses (see the module).
    Thread-safe; one connection pool per (scheme, address, port, host name)."""

    def __init__(
        self,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        max_redirects: int = 0,
        allow_loopback: bool | None = None,
        resolver: Resolver | None = None,
        user_agent: str = "evcharge/1",
    ) -> None:
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.max_redirects = max_redirects
        self.allow_loopback = allow_loopback
        self.resolver = resolver
        self.user_agent = user_agent
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, scheme: str, address: IPAddress, port: int, host: str) -> Any:
        key = (scheme, str(address), port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                if len(self._pools) > 256:
                    for old in self._pools.values():
                        old.close()
                    self._pools.clear()
                common: dict[str, Any] = {
                    "timeout": self.timeout,
                    "retries": False,
                    "maxsize": 4,
                    "block": False,
                }
                if scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        str(address),
                        port,
                        server_hostname=host,
                        assert_hostname=host,
                        cert_reqs="CERT_REQUIRED",
                        **common,
                    )
                else:
                    pool = urllib3.HTTPConnectionPool(str(address), port, **common)
                self._pools[key] = pool
            return pool

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_redirects: int | None = None,
    ) -> Response:
        """One request; a refused target raises BlockedDestination before any connection.
        Redirects (up to `max_redirects`, default the client's) are followed only to allowed
        targets; 303, and 301/302 after a POST, continue as GET without the body."""
        hops = self.max_redirects if max_redirects is None else max_redirects
        sent_headers = {"User-Agent": self.user_agent, **(headers or {})}
        while True:
            addresses = resolve_checked(
                url, allow_loopback=self.allow_loopback, resolver=self.resolver
            )
            scheme, host, port = _split(url)
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            default_port = port == (443 if scheme == "https" else 80)
            host_header = f"[{host}]" if ":" in host else host
            if not default_port:
                host_header += f":{port}"
            pool = self._pool(scheme, addresses[0], port, host)
            raw = pool.urlopen(
                method,
                target,
                body=body,
                headers={**sent_headers, "Host": host_header},
                redirect=False,
                retries=False,
                preload_content=False,
            )
            try:
                data = raw.read(MAX_RESPONSE_BYTES + 1)
            except BaseException:
                raw.close()
                raise
            if len(data) > MAX_RESPONSE_BYTES:
                # The rest is not read: the connection is closed, not reused half-read.
                raw.close()
                data = data[:MAX_RESPONSE_BYTES]
            else:
                raw.release_conn()
            response = Response(
                status=int(raw.status),
                headers={k.lower(): v for k, v in raw.headers.items()},
                body=data,
                url=url,
            )
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or not location or hops <= 0:
                return response
            hops -= 1
            url = urljoin(url, location)
            if _split(url) != (scheme, host, port):
                # Another origin: credentials meant for this one do not follow (as urllib3's
                # own redirect handling does).
                sent_headers = {
                    k: v for k, v in sent_headers.items() if k.lower() not in ORIGIN_BOUND_HEADERS
                }
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
                sent_headers = {
                    k: v for k, v in sent_headers.items() if k.lower() != "content-type"
                }

    def post(self, url: str, *, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("POST", url, body=body, headers=headers)

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("GET", url, headers=headers)


_shared: Client | None = None
_shared_lock = threading.Lock()


def client() -> Client:
    """The process's shared client: default timeouts, no redirects followed, loopback as the
    OUTBOUND_HTTP_ALLOW_LOOPBACK setting says (read on every request)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Client()
        return _shared
