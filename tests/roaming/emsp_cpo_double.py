"""A loopback CPO for the eMSP tests: serves paginated sender lists (with a total that can
change while we crawl) and a commands receiver that answers, then POSTs the CommandResult
to our response_url through a callback the test gives (the Django test client: no second
server)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from apps.roaming import transport


class CpoDouble:
    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.page_size = 2
        self.requests: list[tuple[str, str, Any]] = []  # (method, path + query, body)
        self.on_page: Callable[[str, int], None] | None = None  # (module, offset) hook
        self.command_answer: dict[str, Any] = {"result": "ACCEPTED", "timeout": 30}
        self.base = ""

    def handle(self, method: str, url: str, body: Any) -> tuple[int, dict[str, str], Any]:
        self.requests.append((method, url, body))
        parts = urlsplit(url)
        segs = [s for s in parts.path.split("/") if s]
        module = segs[3] if len(segs) > 3 else ""
        if method == "GET" and module in self.items:
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            offset, limit = int(q.get("offset", 0)), min(int(q.get("limit", 100)), self.page_size)
            if self.on_page is not None:
                self.on_page(module, offset)
            rows = self.items[module]
            page = rows[offset : offset + limit]
            headers = {"X-Total-Count": str(len(rows)), "X-Limit": str(self.page_size)}
            if offset + limit < len(rows):  # the peer quirk: a Link we cannot follow
                headers["Link"] = '<https://elsewhere.invalid/next>; rel="next"'
            return 200, headers, page
        if method == "POST" and module == "commands":
            return 200, {}, self.command_answer
        return 404, {}, None


@contextmanager
def serve(double: CpoDouble) -> Iterator[CpoDouble]:
    class Handler(BaseHTTPRequestHandler):
        def _go(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            body = transport.loads(raw) if raw else None
            status, headers, data = double.handle(self.command, self.path, body)
            out = transport.dumps(
                {
                    "data": data,
                    "status_code": 1000 if status < 300 else 2000,
                    "timestamp": "2026-12-07T12:00:00Z",
                }
            ).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = _go

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    double.base = f"http://127.0.0.1:{server.server_port}/ocpi/cpo/2.2.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
