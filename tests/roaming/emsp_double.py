"""Loopback partners for the cpo-receiver tests: an eMSP that answers OCPI requests with
canned envelopes (and records what it got), and one that never answers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class EmspDouble:
    """A real HTTP server on 127.0.0.1. `answer(method, path, body) -> (status, envelope)`
    decides each answer; every request is recorded (method, path with query, headers, body)."""

    def __init__(self, answer: Callable[[str, str, Any], tuple[int, Any]]) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.received = threading.Event()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                body = json.loads(raw) if raw else None
                double.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                status, envelope = double.answer(self.command, self.path, body)
                payload = json.dumps(envelope).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                double.received.set()

            do_GET = do_POST = do_PUT = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SilentServer:
    """Accepts TCP connections (the kernel's backlog) and never answers: a partner that is
    up but too slow. What the caller's timeout bounds, with no race against the clock."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


def envelope(data: Any = None, status_code: int = 1000) -> dict[str, Any]:
    out: dict[str, Any] = {"status_code": status_code, "timestamp": "2026-12-07T12:00:00Z"}
    if data is not None:
        out["data"] = data
    return out
