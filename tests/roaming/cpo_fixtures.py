"""Fixtures of the CPO tests: a tenant with its own CPO party, a REGISTERED connection to
an eMSP partner made directly with the models (until area "connections" lands), a
loopback OCPI receiver server, and helpers to set rows' timestamps."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import models

from apps.common import crypto
from apps.locations.models import Connector, Evse, Location, refresh_last_updated
from apps.roaming import transport
from apps.roaming.models import OcpiConnection, OcpiEndpoint, OcpiPartyRole
from tests.factories import PartyFactory


def stamp(row: models.Model, at: datetime) -> None:
    """Set a row's `updated_at` (auto_now: only an UPDATE can set it); a location's, an
    EVSE's or a connector's also sets its location's stored OCPI `last_updated` to what its
    rows now say (the pulls page by it)."""
    type(row)._default_manager.filter(pk=row.pk).update(updated_at=at)
    if isinstance(row, Location):
        refresh_last_updated(Location.objects.filter(pk=row.pk))
    elif isinstance(row, Evse):
        refresh_last_updated(Location.objects.filter(pk=row.location_id))
    elif isinstance(row, Connector):
        refresh_last_updated(Location.objects.filter(evses=row.evse_id))


def connect(
    tenant: Any,
    *,
    token: str,
    roles: tuple[tuple[str, str, str], ...] = (("EMSP", "DE", "EMS"),),
    endpoints: dict[tuple[str, str], str] | None = None,
    version: str = "2.2.1",
    is_hub: bool = False,
    publish_all: bool = True,
) -> OcpiConnection:
    """A REGISTERED connection of `tenant` whose partner calls us with `token`."""
    conn = OcpiConnection.objects.create(
        tenant=tenant,
        name=f"partner {token[:6]}",
        versions_url="http://127.0.0.1:9/ocpi/versions",
        version=version,
        status="REGISTERED",
        initiator="THEM",
        our_token_digest=transport.token_digest(token),
        their_token_encrypted=crypto.encrypt("their-" + token),
        is_hub=is_hub,
        publish_all_locations=publish_all,
    )
    for role, cc, pid in roles:
        OcpiPartyRole.objects.create(
            tenant=tenant, connection=conn, role=role, country_code=cc, party_id=pid
        )
    for (module, role), url in (endpoints or {}).items():
        OcpiEndpoint.objects.create(
            tenant=tenant, connection=conn, module=module, role=role, url=url
        )
    return conn


def own_cpo(tenant: Any, country_code: str = "NL", party_id: str = "CPO") -> Any:
    return PartyFactory(
        tenant=tenant, kind="OWN", role="CPO", country_code=country_code, party_id=party_id
    )


def partner_emsp(tenant: Any, country_code: str = "DE", party_id: str = "EMS") -> Any:
    return PartyFactory(
        tenant=tenant, kind="PARTNER", role="EMSP", country_code=country_code, party_id=party_id
    )


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class OcpiReceiver:
    """A real HTTP server on 127.0.0.1 playing a partner's receiver interfaces: records
    every request, answers the scripted (HTTP status, OCPI status) in turn, then 200 / 1000."""

    script: list[tuple[int, int]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                receiver.requests.append(
                    Received(
                        method=self.command,
                        path=self.path,
                        headers=dict(self.headers),
                        body=transport.loads(raw) if raw else None,
                    )
                )
                http, ocpi = receiver.script.pop(0) if receiver.script else (200, 1000)
                body = json.dumps(
                    {"status_code": ocpi, "timestamp": "2026-03-02T08:00:00Z"}
                ).encode()
                self.send_response(http)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_PUT = do_PATCH = do_POST = do_GET = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ocpi/emsp/2.2.1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ocpi_receiver() -> Iterator[OcpiReceiver]:
    r = OcpiReceiver()
    r.start()
    yield r
    r.close()
