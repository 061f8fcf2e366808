"""A tiny OCPI partner platform for the connection tests, written with the standard library
only and speaking the wire format: it imports nothing of ours, so what it accepts and sends
is the spec as we read it, not our code agreeing with itself.

It serves its versions, version details and credentials on loopback (a threading
http.server), accepts the tokens it knows (Base64 or raw, or only one form: `accept`),
answers our registration with its own token, calls our versions back with the token we gave
it (when `callback`), and can drive a registration with us (`register_with`, `update_with`,
`unregister_with`): the partner side of the handshake both ways.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def header(token: str, *, b64: bool = True) -> str:
    if b64:
        return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")
    return "Token " + token


def http(
    method: str, url: str, *, token: str | None = None, body: Any = None, b64: bool = True
) -> tuple[int, Any]:
    """One request; (HTTP status, parsed JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", header(token, b64=b64))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode("utf-8", "replace")


def envelope(data: Any, status_code: int = 1000, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status_code": status_code, "timestamp": "2026-12-07T12:00:00Z"}
    if data is not None:
        out["data"] = data
    if message:
        out["status_message"] = message
    return out


@dataclass
class Seen:
    method: str
    path: str
    token: str | None  # the token, decoded when Base64
    b64: bool | None  # how it was sent
    body: Any


@dataclass
class Partner:
    """The partner's state; `start()` serves it."""

    party_id: str = "PTR"
    country_code: str = "DE"
    role: str = "EMSP"
    versions: tuple[str, ...] = ("2.1.1", "2.2.1")
    modules: tuple[str, ...] = ("credentials", "locations", "tokens")
    # Modules (among `modules`) whose 2.2.1 endpoint is a SENDER interface (a CPO's
    # locations, cdrs...); the others are listed as RECEIVER.
    senders: tuple[str, ...] = ()
    accept: str = "both"  # "both" / "b64" / "raw": the Authorization forms it accepts
    callback: bool = True  # call our versions back with the token we POST
    fail_post: int | None = None  # answer our POST credentials with this OCPI status
    tokens: set[str] = field(default_factory=set)  # tokens it accepts from us
    our_token: str | None = None  # the token it sends us (the one we gave it / returned)
    issued: list[str] = field(default_factory=list)  # tokens it gave us (C, rotations)
    seen: list[Seen] = field(default_factory=list)
    callbacks: list[tuple[str, int]] = field(default_factory=list)  # (url, status)
    url: str = ""

    # -- server -------------------------------------------------------------------------
    def start(self) -> Partner:
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, answer = partner.handle(
                    self.command, self.path, self.headers.get("Authorization"), body
                )
                out = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = _do

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def versions_url(self) -> str:
        return self.url + "/ocpi/versions"

    def credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": self.role,
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                    "business_details": {
                        "name": "Partner Mobility",
                        "website": "https://p.example",
                    },
                }
            ],
        }

    def credentials_21(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": self.versions_url,
            "party_id": self.party_id,
            "country_code": self.country_code,
            "business_details": {"name": "Partner Mobility"},
        }

    def _auth(self, value: str | None) -> tuple[str | None, bool | None]:
        if not value or not value.startswith("Token "):
            return None, None
        v = value[6:].strip()
        if self.accept in ("both", "raw") and v in self.tokens:
            return v, False
        if self.accept in ("both", "b64"):
            try:
                d = base64.b64decode(v, validate=True).decode()
            except ValueError:
                d = ""
            if d in self.tokens:
                return d, True
        return None, None

    def handle(self, method: str, path: str, auth: str | None, body: Any) -> tuple[int, Any]:
        token, b64 = self._auth(auth)
        self.seen.append(Seen(method, path, token, b64, body))
        if token is None:
            return 401, envelope(None, 2000, "unknown token")
        path = path.rstrip("/")
        if path == "/ocpi/versions" and method == "GET":
            return 200, envelope(
                [{"version": v, "url": f"{self.url}/ocpi/{v}"} for v in self.versions]
            )
        for v in self.versions:
            if path == f"/ocpi/{v}" and method == "GET":
                eps = []
                for m in self.modules:
                    e = {"identifier": m, "url": f"{self.url}/ocpi/{v}/{m}"}
                    if v != "2.1.1":
                        e["role"] = (
                            "SENDER" if m == "credentials" or m in self.senders else "RECEIVER"
                        )
                    eps.append(e)
                return 200, envelope({"version": v, "endpoints": eps})
            if path == f"/ocpi/{v}/credentials":
                return self._credentials(method, v, token, body)
        return 404, envelope(None, 2000, "no such endpoint")

    def _credentials(self, method: str, version: str, token: str, body: Any) -> tuple[int, Any]:
        if method == "DELETE":
            self.tokens.discard(token)
            return 200, envelope(None)
        if method not in ("POST", "PUT"):
            return 405, envelope(None, 2000, "not allowed")
        if self.fail_post is not None:
            return 200, envelope(None, self.fail_post, "refused by the partner")
        their = body["token"]
        if self.callback:
            status, _ = http("GET", body["url"], token=their)
            self.callbacks.append((body["url"], status))
            if status != 200:
                return 200, envelope(None, 3001, "could not call your versions back")
        self.our_token = their
        self.tokens.discard(token)  # A (or the previous token) is used up
        new = secrets.token_urlsafe(24)
        self.tokens.add(new)
        self.issued.append(new)
        make = self.credentials_21 if version == "2.1.1" else self.credentials
        return 200, envelope(make(new))

    # -- the partner registering with us ------------------------------------------------
    def register_with(
        self, versions_url: str, token_a: str, *, version: str = "2.2.1", b64: bool = True
    ) -> tuple[int, Any]:
        """GET our versions and details with A, POST credentials with a new token B; keep
        the C we answer with. Returns (HTTP status, envelope) of the POST."""
        status, env = http("GET", versions_url, token=token_a, b64=b64)
        assert status == 200, (status, env)
        detail_url = next(v["url"] for v in env["data"] if v["version"] == version)
        status, env = http("GET", detail_url, token=token_a, b64=b64)
        assert status == 200, (status, env)
        cred_url = next(
            e["url"] for e in env["data"]["endpoints"] if e["identifier"] == "credentials"
        )
        b = secrets.token_urlsafe(24)
        self.tokens.add(b)
        make = self.credentials_21 if version == "2.1.1" else self.credentials
        status, env = http("POST", cred_url, token=token_a, body=make(b), b64=b64)
        if status == 200 and env.get("status_code") == 1000:
            self.our_token = env["data"]["token"]
            self.issued.append(b)
        return status, env
