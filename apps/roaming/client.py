"""The outbound OCPI client: one call (headers, envelope, the exchange log) and a paginated
pull that follows `Link` (ROAMING.md "Pagination"). Every target goes through the SSRF guard
(apps.common.outbound); retries with back-off are the caller's (the push outbox, the pull
tasks): `OcpiCallFailed.retryable` and `.retry_after` say whether and when.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import urllib3

from apps.common import crypto, outbound
from apps.roaming import transport
from apps.roaming.contracts import Direction, ExchangeIn, OcpiVersion
from apps.roaming.models import OcpiConnection
from apps.roaming.services.exchanges import exchange_log

MAX_PAGES = 10_000  # a pull stops here whatever the partner's Link says


class OcpiCallFailed(Exception):
    """The partner could not be reached or did not answer OK. `retryable`: a network
    failure, HTTP 429 / 5xx, an OCPI 3xxx status, or a hub's 4002 / 4003 (timeout, party not
    connected); not a 2xxx (our request was refused) nor 4001 (unknown receiver)."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        http_status: int | None = None,
        ocpi_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.http_status = http_status
        self.ocpi_status = ocpi_status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        if self.http_status is None:
            return True
        if self.http_status == 429 or self.http_status >= 500:
            return True
        if self.ocpi_status in (transport.HUB_TIMEOUT, transport.HUB_CONNECTION_PROBLEM):
            return True  # the hub could not reach the party now: later may work
        return self.ocpi_status is not None and 3000 <= self.ocpi_status < 4000

    def __str__(self) -> str:
        parts = [self.message]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.ocpi_status is not None:
            parts.append(f"OCPI {self.ocpi_status}")
        return f"{' / '.join(parts)} ({self.url})"


@dataclass(frozen=True)
class OcpiReply:
    http_status: int
    ocpi_status: int | None
    message: str
    data: Any
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    exchange_id: int | None = None

    @property
    def total_count(self) -> int | None:
        return _int(self.headers.get("x-total-count"))

    @property
    def limit(self) -> int | None:
        return _int(self.headers.get("x-limit"))

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _http() -> outbound.Client:
    return outbound.client()


_timed: dict[float, outbound.Client] = {}


def _http_with_timeout(timeout: float) -> outbound.Client:
    """A client of its own per timeout (few: one per setting), with connect and read bound."""
    if timeout not in _timed:
        _timed[timeout] = outbound.Client(connect_timeout=timeout, read_timeout=timeout)
    return _timed[timeout]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the caller's back-off decides


def call(
    *,
    connection: OcpiConnection,
    method: str,
    url: str,
    module: str,
    body: Any = None,
    from_party: tuple[str, str] | None = None,
    to_party: tuple[str, str] | None = None,
    token: str | None = None,
    base64_token: bool | None = None,
    correlation_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    log: list[ExchangeIn] | None = None,
    timeout: float | None = None,
) -> OcpiReply:
    """One request to a partner. `token`: what to send (default: the connection's token we
    send); routing headers only on functional modules of 2.2.1 and when both parties are
    given. Raises OcpiCallFailed unless HTTP 2xx with an envelope status 1xxx (a 2.1.1 /
    lenient partner that answers 2xx without an envelope status is taken as OK). The
    exchange is logged now, or appended to `log` for the caller to write with its own
    batch (`exchanges.exchanges_log`: one transaction for many calls). `timeout`: seconds
    for the connect and for the answer (default: the outbound client's), for calls
    someone waits on (real-time authorization)."""
    if params:
        parts = urlsplit(url)
        query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
        url = urlunsplit(parts._replace(query=urlencode(query)))
    if token is None:
        token = crypto.decrypt(connection.their_token_encrypted)
    encode = connection.auth_base64 if base64_token is None else base64_token
    request_id = transport.new_request_id()
    headers = {
        "Authorization": transport.authorization_header(token, base64_encoded=encode),
        "Accept": "application/json",
        transport.REQUEST_ID: request_id,
        transport.CORRELATION_ID: correlation_id or request_id,
    }
    functional = module not in transport.CONFIGURATION_MODULES
    if (
        functional
        and connection.version != OcpiVersion.V2_1_1.value
        and from_party is not None
        and to_party is not None
    ):
        headers[transport.FROM_COUNTRY], headers[transport.FROM_PARTY] = from_party
        headers[transport.TO_COUNTRY], headers[transport.TO_PARTY] = to_party
    payload = b""
    if body is not None:
        payload = transport.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    started = time.monotonic()
    http_status: int | None = None
    ocpi_status: int | None = None
    response_text = ""
    error = ""
    reply: OcpiReply | None = None
    failure: OcpiCallFailed | None = None
    try:
        http = _http() if timeout is None else _http_with_timeout(timeout)
        response = http.request(method, url, body=payload or None, headers=headers)
        http_status = response.status
        response_text = response.body.decode("utf-8", "replace")
        parsed: Any = None
        try:
            parsed = transport.loads(response.body) if response.body else None
        except ValueError as exc:
            if response.status < 400 or response.status == 429:
                failure = OcpiCallFailed(
                    f"malformed JSON in the answer: {exc}", url=url, http_status=http_status
                )
        envelope = parsed if isinstance(parsed, dict) else {}
        raw_status = envelope.get("status_code")
        ocpi_status = raw_status if isinstance(raw_status, int) else _int(str(raw_status or ""))
        message = str(envelope.get("status_message") or "")
        if failure is None:
            if response.status == 429:
                failure = OcpiCallFailed(
                    "too many requests",
                    url=url,
                    http_status=429,
                    ocpi_status=ocpi_status,
                    retry_after=_retry_after(response.headers.get("retry-after")),
                )
            elif response.status >= 300 or (
                ocpi_status is not None and not 1000 <= ocpi_status < 2000
            ):
                failure = OcpiCallFailed(
                    message or "the partner refused the request",
                    url=url,
                    http_status=http_status,
                    ocpi_status=ocpi_status,
                )
            else:
                reply = OcpiReply(
                    http_status=response.status,
                    ocpi_status=ocpi_status,
                    message=message,
                    data=envelope.get("data") if "status_code" in envelope else parsed,
                    headers=response.headers,
                )
    except outbound.BlockedDestination as exc:
        failure = OcpiCallFailed(f"blocked destination: {exc}", url=url)
        failure.http_status = 0  # not retryable: the address will not become allowed
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        failure = OcpiCallFailed(f"network: {type(exc).__name__}: {exc}", url=url)
    if failure is not None:
        error = str(failure)
    entry = ExchangeIn(
        tenant_id=connection.tenant_id,
        connection_id=connection.pk,
        direction=Direction.OUT,
        method=method,
        url=url,
        module=module,
        http_status=http_status,
        ocpi_status=ocpi_status,
        duration_ms=int((time.monotonic() - started) * 1000),
        request_id=request_id,
        correlation_id=headers[transport.CORRELATION_ID],
        request_headers={k: v for k, v in headers.items() if k != "Authorization"},
        request_body=payload.decode("utf-8"),
        response_body=response_text,
        error=error,
    )
    exchange_id = None
    if log is None:
        exchange_id = exchange_log(entry)
    else:
        log.append(entry)
    if failure is not None:
        raise failure
    assert reply is not None
    return OcpiReply(
        http_status=reply.http_status,
        ocpi_status=reply.ocpi_status,
        message=reply.message,
        data=reply.data,
        headers=reply.headers,
        exchange_id=exchange_id,
    )


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc.lower()) == (pb.scheme, pb.netloc.lower())


def pages(
    *,
    connection: OcpiConnection,
    url: str,
    module: str,
    params: Mapping[str, Any] | None = None,
    from_party: tuple[str, str] | None = None,
    to_party: tuple[str, str] | None = None,
) -> Iterator[list[Any]]:
    """A paginated GET, page by page. Follows the `Link rel="next"` the partner sends when
    it points to the same origin as `url`; a Link that does not parse or points elsewhere
    (a peer that hard-codes https, or writes enum names) is not followed: the next page is
    then asked with `offset` advanced by what arrived, while `X-Total-Count` says there is
    more. Stops on an empty page, and after MAX_PAGES."""
    next_url: str | None = url
    next_params: dict[str, Any] | None = dict(params or {})
    offset = int((params or {}).get("offset", 0) or 0)
    for _ in range(MAX_PAGES):
        if next_url is None:
            return
        reply = call(
            connection=connection,
            method="GET",
            url=next_url,
            module=module,
            params=next_params,
            from_party=from_party,
            to_party=to_party,
        )
        items = reply.data if isinstance(reply.data, list) else []
        if items:
            yield items
        offset += len(items)
        link = transport.parse_next_link(reply.headers.get("link"))
        if not items:
            return
        if link and _same_origin(link, url):
            next_url, next_params = link, None
            continue
        total = reply.total_count
        if total is not None and offset < total:
            base = {**(params or {}), "offset": offset}
            if reply.limit:
                base["limit"] = reply.limit
            next_url, next_params = url, base
            continue
        return


def endpoint_url(connection: OcpiConnection, module: str, role: str) -> str | None:
    """The partner's endpoint for `module` in interface `role` (SENDER / RECEIVER); a 2.1.1
    endpoint has no role and serves both. None when the partner did not list it."""
    rows = {(e.module, e.role): e.url for e in connection.endpoints.all() if e.module == module}
    return rows.get((module, role)) or rows.get((module, ""))
