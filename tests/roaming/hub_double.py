"""Our own OCPI 2.2.1 hub double: a threading HTTP server on loopback that plays a hub with
several parties behind it, and fails on purpose when a test asks it to.

What it does (ROAMING.md "Routing headers", mod_hub_client_info):
- configuration modules: `GET /ocpi/versions`, `GET /ocpi/2.2.1` (details), credentials
  `POST` (with token A: accepts our registration, answers its token C), `PUT` (rotates C),
  `GET`, `DELETE`; optionally calls back the versions URL we registered (`callback=True`);
- functional modules (`/ocpi/2.2.1/<module>/...`): the routing headers are checked: FROM
  must be given, TO must be a party behind the hub (the final party), or the hub itself
  only for a broadcast push of locations / tokens or a GET-all; an unknown TO is answered
  4001; every violation is recorded in `violations`;
- GET-all of locations / sessions / cdrs merges the objects of every party (or of the TO
  party only), oldest first, paginated with a same-origin `Link`, `X-Total-Count` and
  `X-Limit` (`max_limit`);
- pushes (PUT / PATCH / POST) to any module are accepted and kept in `pushes`;
- `GET /ocpi/2.2.1/hubclientinfo` lists the parties behind it as ClientInfo objects
  (`set_party_status` changes what it says);
- `push_client_info(...)` PUTs a ClientInfo (a party OFFLINE / CONNECTED) to the client's
  hubclientinfo endpoint, with the token the client registered.

Fault modes (`fault(...)`, consumed in order, each for `times` matching requests): HTTP 429
with Retry-After, HTTP 500, malformed JSON, a slow answer held until the test sets an Event
(`slow` returns it; the handler signals `arrived` first), OCPI 4001 / 4003, a Link pointing
elsewhere or malformed, a new object while the client crawls (`total_changes`), an
X-Total-Count larger than the list without a Link (`total_overstated`); plus
`one_item_pages()` (the server's X-Limit becomes 1).

Every request is recorded (`requests`) with its headers (lower-case names), query and body.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HUB_COUNTRY, HUB_PARTY = "NL", "HUB"
BROADCAST_MODULES = frozenset({"locations", "tokens"})
CONFIG_MODULES = frozenset({"versions", "credentials", "hubclientinfo", ""})
LIST_MODULES = ("locations", "sessions", "cdrs", "tariffs", "tokens")
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    token: str | None  # the token as decoded (Base64 or raw)
    token_base64: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Fault:
    kind: str  # 429 / 500 / malformed_json / slow / 4001 / 4003 / link_elsewhere / ...
    times: int = 1
    path_contains: str = ""
    method: str = ""
    retry_after: str | None = None
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, path: str) -> bool:
        return (not self.method or self.method == method) and self.path_contains in path


@dataclass(frozen=True)
class Party:
    country_code: str
    party_id: str
    role: str
    name: str = ""


def _sample_objects(party: Party, n: int, offset_hours: int) -> dict[str, list[dict[str, Any]]]:
    """Each CPO party behind the hub owns `n` locations, one session and one CDR; the ids
    carry the party so a merged list can be checked item by item."""
    if party.role != "CPO":
        return {m: [] for m in LIST_MODULES}
    cc, pid = party.country_code, party.party_id
    locs = [
        {
            "country_code": cc,
            "party_id": pid,
            "id": f"{pid}-LOC-{i}",
            "publish": True,
            "address": f"Hubweg {i}",
            "city": "Arnhem",
            "country": "NLD",
            "coordinates": {"latitude": "51.985103", "longitude": "5.898730"},
            "time_zone": "Europe/Amsterdam",
            "last_updated": _iso(T0 + timedelta(hours=offset_hours + 2 * i)),
        }
        for i in range(1, n + 1)
    ]
    session = {"country_code": cc, "party_id": pid, "id": f"{pid}-SES-1"}
    session["last_updated"] = _iso(T0 + timedelta(hours=offset_hours + 1))
    cdr = {"country_code": cc, "party_id": pid, "id": f"{pid}-CDR-1"}
    cdr["last_updated"] = _iso(T0 + timedelta(hours=offset_hours + 3))
    return {"locations": locs, "sessions": [session], "cdrs": [cdr], "tariffs": [], "tokens": []}


DEFAULT_PARTIES = (
    Party("DE", "AAA", "CPO", "Alpha Charging"),
    Party("FR", "BBB", "CPO", "Beta Recharge"),
    Party("BE", "MSP", "EMSP", "Mobility Provider"),
)


class HubDouble:
    """The hub (see the module). Start with `start()` (or the `hub_double` fixture)."""

    def __init__(
        self,
        *,
        parties: tuple[Party, ...] = DEFAULT_PARTIES,
        locations_per_party: int = 3,
        max_limit: int = 100,
        callback: bool = False,
    ) -> None:
        self.parties = list(parties)
        self.max_limit = max_limit
        self.callback = callback
        self.token_a = secrets.token_urlsafe(24)
        self.tokens_c: set[str] = set()
        self.client_token: str | None = None  # the token we (the client) gave the hub
        self.client_versions_url: str | None = None
        self.client_roles: list[dict[str, Any]] = []
        self.objects: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {
            (p.country_code, p.party_id): _sample_objects(p, locations_per_party, 10 * k)
            for k, p in enumerate(parties)
        }
        self.requests: list[Recorded] = []
        self.party_status: dict[tuple[str, str], str] = {}
        self.pushes: list[Recorded] = []
        self.violations: list[str] = []
        self.callbacks: list[tuple[str, int]] = []  # (url, HTTP status) of our callbacks
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._arrival = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._on_page: Callable[[int], None] | None = None

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> HubDouble:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _any(self) -> None:
                hub._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            for f in self._faults:
                f.release.set()  # no handler stays blocked on a slow answer
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def module_url(self, module: str) -> str:
        return f"{self.base_url}/ocpi/2.2.1/{module}"

    # -- test controls -----------------------------------------------------------------------
    def fault(
        self,
        kind: str,
        *,
        times: int = 1,
        path_contains: str = "",
        method: str = "",
        retry_after: str | None = None,
    ) -> Fault:
        f = Fault(kind, times, path_contains, method, retry_after)
        with self._lock:
            self._faults.append(f)
        return f

    def slow(self, *, path_contains: str = "", method: str = "") -> Fault:
        """The next matching request waits until the test sets `fault.release`;
        `fault.arrived` is set when it got there."""
        return self.fault("slow", path_contains=path_contains, method=method)

    def one_item_pages(self) -> None:
        """From now on the server's page size (X-Limit) is 1, whatever the client asks."""
        self.max_limit = 1

    def set_party_status(self, country_code: str, party_id: str, status: str) -> None:
        """What the hub's ClientInfo list says about a party (CONNECTED by default)."""
        with self._lock:
            self.party_status[(country_code, party_id)] = status

    def client_infos(self) -> list[dict[str, Any]]:
        """The hub's ClientInfo list (GET hubclientinfo): every party behind it."""
        return [
            {
                "party_id": p.party_id,
                "country_code": p.country_code,
                "role": p.role,
                "status": self.party_status.get((p.country_code, p.party_id), "CONNECTED"),
                "last_updated": _iso(T0),
            }
            for p in self.parties
        ]

    def accept_token(self, token: str) -> None:
        """A registration done beforehand: the hub accepts `token` as our credentials token."""
        with self._lock:
            self.tokens_c.add(token)

    def party(self, country_code: str, party_id: str) -> Party | None:
        for p in self.parties:
            if (p.country_code, p.party_id) == (country_code.upper(), party_id.upper()):
                return p
        return None

    def add_object(self, module: str, country_code: str, party_id: str, obj: dict) -> None:
        with self._lock:
            self.objects[(country_code, party_id)][module].append(obj)

    def wait_for(self, predicate: Callable[[Recorded], bool], timeout: float = 30) -> Recorded:
        """The first recorded request that satisfies `predicate`, waiting (bounded) for it
        to arrive: for calls a peer makes on its own (a CommandResult, a callback)."""

        def found() -> Recorded | None:
            return next((r for r in self.requests if predicate(r)), None)

        with self._arrival:
            if not self._arrival.wait_for(lambda: found() is not None, timeout=timeout):
                raise AssertionError(f"no matching request within {timeout}s")
            hit = found()
        assert hit is not None
        return hit

    def functional_requests(self, module: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(f"/ocpi/2.2.1/{module}")]

    def push_client_info(
        self, url: str, *, country_code: str, party_id: str, role: str, status: str, at: datetime
    ) -> int:
        """PUT a ClientInfo to the client's hubclientinfo endpoint (`url`, its base), with
        the token the client gave us at registration. Returns the HTTP status."""
        assert self.client_token, "nobody registered with the hub"
        body = {
            "party_id": party_id,
            "country_code": country_code,
            "role": role,
            "status": status,
            "last_updated": _iso(at),
        }
        token = base64.b64encode(self.client_token.encode()).decode()
        req = urllib.request.Request(
            f"{url.rstrip('/')}/{country_code}/{party_id}",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
                "X-Request-ID": secrets.token_hex(8),
                "X-Correlation-ID": secrets.token_hex(8),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    # -- the server --------------------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.times > 0 and f.matches(method, path):
                    f.times -= 1
                    return f
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        token, b64 = _token(h.headers.get("Authorization"))
        rec = Recorded(
            method=h.command,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
            token=token,
            token_base64=b64,
        )
        with self._arrival:
            self.requests.append(rec)
            self._arrival.notify_all()
        status, headers, payload = self._answer(rec)
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(raw)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True  # the client gave up waiting (a slow answer's timeout)

    def _answer(self, rec: Recorded) -> tuple[int, dict[str, str], Any]:
        path = rec.path.rstrip("/")
        segs = path.split("/")[2:] if path.startswith("/ocpi") else []
        module = "versions" if segs[:1] == ["versions"] else (segs[1] if len(segs) > 1 else "")
        fault = self._take_fault(rec.method, rec.path)
        headers: dict[str, str] = {}
        if fault is not None:
            early = self._fault_answer(fault, headers)
            if early is not None:
                return early
        # Authorization: token A only on versions / details / credentials.
        if rec.token in self.tokens_c:
            pass
        elif rec.token == self.token_a and module in CONFIG_MODULES:
            pass
        else:
            return 401, {}, _env(None, 2000, "unknown or missing token")
        if module in ("versions", ""):
            return 200, headers, _env(self._versions() if module else self._details())
        if module == "credentials":
            return self._credentials(rec)
        if module == "hubclientinfo":
            if rec.method != "GET":
                return 405, headers, _env(None, 2000, "the hub's ClientInfo is read-only")
            return 200, headers, _env(self.client_infos())
        routing = self._check_routing(rec, module)
        if routing is not None:
            return routing
        if rec.method == "GET" and len(segs) == 2:
            return self._list(rec, module, fault, headers)
        if rec.method in ("PUT", "PATCH", "POST"):
            with self._lock:
                self.pushes.append(rec)
            if module == "cdrs" and rec.method == "POST":
                headers["Location"] = f"{self.module_url('cdrs')}/{secrets.token_hex(4)}"
            return 200, headers, _env(None)
        return 404, headers, _env(None, 2000, "no such object at the hub double")

    def _fault_answer(
        self, fault: Fault, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any] | None:
        if fault.kind == "429":
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            return 429, headers, _env(None, 2000, "too many requests")
        if fault.kind == "500":
            return 500, headers, b"<html>Internal Server Error</html>"
        if fault.kind == "malformed_json":
            return 200, headers, b'{"data": [{"id": "X"}, "status_code": 1000'
        if fault.kind == "4001":
            return 200, headers, _env(None, 4001, "unknown receiver")
        if fault.kind == "4003":
            return 200, headers, _env(None, 4003, "receiving party is not connected")
        if fault.kind == "slow":
            fault.arrived.set()
            fault.release.wait(timeout=60)
        return None  # the answer goes on (slow, and the list faults)

    def _versions(self) -> list[dict[str, str]]:
        return [{"version": "2.2.1", "url": f"{self.base_url}/ocpi/2.2.1"}]

    def _details(self) -> dict[str, Any]:
        endpoints = [{"identifier": "credentials", "role": "RECEIVER", "url": ""}]
        endpoints[0]["url"] = self.module_url("credentials")
        for module in ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands"):
            for role in ("SENDER", "RECEIVER"):
                endpoints.append(
                    {"identifier": module, "role": role, "url": self.module_url(module)}
                )
        endpoints.append(
            {
                "identifier": "hubclientinfo",
                "role": "SENDER",
                "url": self.module_url("hubclientinfo"),
            }
        )
        return {"version": "2.2.1", "endpoints": endpoints}

    def _own_credentials(self, token_c: str) -> dict[str, Any]:
        return {
            "token": token_c,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "HUB",
                    "party_id": HUB_PARTY,
                    "country_code": HUB_COUNTRY,
                    "business_details": {"name": "Hub double"},
                }
            ],
        }

    def _credentials(self, rec: Recorded) -> tuple[int, dict[str, str], Any]:
        registered = rec.token in self.tokens_c
        if rec.method == "GET":
            if not registered:
                return 405, {}, _env(None, 2000, "not registered")
            return 200, {}, _env(self._own_credentials(rec.token or ""))
        if rec.method == "DELETE":
            if not registered:
                return 405, {}, _env(None, 2000, "not registered")
            with self._lock:
                self.tokens_c.discard(rec.token or "")
            return 200, {}, _env(None)
        if rec.method not in ("POST", "PUT"):
            return 405, {}, _env(None, 2000, "method not allowed")
        if rec.method == "POST" and registered:
            return 405, {}, _env(None, 2000, "already registered: use PUT")
        if rec.method == "PUT" and not registered:
            return 405, {}, _env(None, 2000, "not registered: use POST")
        try:
            data = rec.json
            client_token, url, roles = data["token"], data["url"], data["roles"]
        except (ValueError, KeyError, TypeError):
            return 400, {}, _env(None, 2001, "credentials need token, url and roles")
        if self.callback:
            status = _callback(url, client_token)
            self.callbacks.append((url, status))
            if status != 200:
                return 200, {}, _env(None, 3001, f"callback to {url} answered {status}")
        token_c = secrets.token_urlsafe(24)
        with self._lock:
            if rec.method == "PUT":
                self.tokens_c.discard(rec.token or "")
            self.tokens_c.add(token_c)
            self.client_token, self.client_versions_url, self.client_roles = (
                client_token,
                url,
                roles,
            )
            self.token_a = ""  # used up
        return 200, {}, _env(self._own_credentials(token_c))

    def _check_routing(self, rec: Recorded, module: str) -> tuple[int, dict[str, str], Any] | None:
        names = ("ocpi-from-country-code", "ocpi-from-party-id")
        names += ("ocpi-to-country-code", "ocpi-to-party-id")
        missing = [n for n in names if not rec.header(n)]
        if missing:
            self.violations.append(f"{rec.method} {rec.path}: missing {', '.join(missing)}")
            return 200, {}, _env(None, 2001, f"routing headers missing: {', '.join(missing)}")
        to = (rec.header("ocpi-to-country-code") or "", rec.header("ocpi-to-party-id") or "")
        to = (to[0].upper(), to[1].upper())
        if to == (HUB_COUNTRY, HUB_PARTY):
            if rec.method == "GET" or module in BROADCAST_MODULES:
                return None  # GET-all merged, or a broadcast push
            self.violations.append(f"{rec.method} {rec.path}: broadcast of {module}")
            return 200, {}, _env(None, 2001, f"no broadcast push for {module}")
        if self.party(*to) is None:
            self.violations.append(f"{rec.method} {rec.path}: unknown receiver {to}")
            return 200, {}, _env(None, 4001, f"unknown receiver {to[0]}*{to[1]}")
        return None

    def _list(
        self, rec: Recorded, module: str, fault: Fault | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        to = ((rec.header("ocpi-to-country-code") or "").upper(),)
        to += ((rec.header("ocpi-to-party-id") or "").upper(),)
        with self._lock:
            items = [
                obj
                for key, mods in self.objects.items()
                if to == (HUB_COUNTRY, HUB_PARTY) or key == to
                for obj in mods.get(module, [])
            ]
        date_from, date_to = rec.query.get("date_from"), rec.query.get("date_to")
        items = [
            i
            for i in items
            if (not date_from or i["last_updated"] >= date_from)
            and (not date_to or i["last_updated"] < date_to)
        ]
        items.sort(key=lambda i: (i["last_updated"], i["country_code"], i["party_id"], i["id"]))
        offset = int(rec.query.get("offset") or 0)
        limit = min(int(rec.query.get("limit") or self.max_limit), self.max_limit)
        page = items[offset : offset + limit]
        headers["X-Total-Count"] = str(len(items))
        if fault is not None and fault.kind == "total_changes" and items:
            # A new object appears while the client crawls (the newest: it comes last).
            newest = dict(items[-1])
            newest["id"] = f"{newest['id']}-NEW"
            last = datetime.fromisoformat(newest["last_updated"].replace("Z", "+00:00"))
            newest["last_updated"] = _iso(last + timedelta(hours=1))
            self.add_object(module, newest["country_code"], newest["party_id"], newest)
        headers["X-Limit"] = str(limit)
        if fault is not None and fault.kind == "total_overstated":
            # The count promises more than the list holds, and no Link says so.
            headers["X-Total-Count"] = str(len(items) + 5)
            return 200, headers, _env(page)
        if offset + limit < len(items):
            params = {k: v for k, v in rec.query.items() if k not in ("offset", "limit")}
            params.update(offset=str(offset + limit), limit=str(limit))
            target = f"{self.base_url}{rec.path}?{urlencode(params)}"
            if fault is not None and fault.kind == "link_elsewhere":
                target = target.replace(self.base_url, "https://elsewhere.invalid")
            headers["Link"] = f'<{target}>; rel="next"'
            if fault is not None and fault.kind == "link_malformed":
                headers["Link"] = f"{target}; rel=next"
        return 200, headers, _env(page)

    def iter_requests(self, method: str = "") -> Iterator[Recorded]:
        return (r for r in list(self.requests) if not method or r.method == method)


def _token(header: str | None) -> tuple[str | None, bool]:
    if not header or not header.lower().startswith("token "):
        return None, False
    value = header[6:].strip()
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
        if decoded.isprintable():
            return decoded, True
    except (binascii.Error, UnicodeDecodeError):
        pass
    return value, False


def _env(data: Any, status: int = 1000, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if data is not None:
        out["data"] = data
    out["status_code"] = status
    if message:
        out["status_message"] = message
    out["timestamp"] = _iso(T0)  # a fixed instant: nothing reads the double's clock
    return out


def _callback(url: str, token: str) -> int:
    """The receiver's side of the handshake: GET the sender's versions with its token."""
    encoded = base64.b64encode(token.encode()).decode()
    req = urllib.request.Request(url, headers={"Authorization": f"Token {encoded}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0
