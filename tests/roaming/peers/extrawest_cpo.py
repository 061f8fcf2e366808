"""An independent OCPI 2.2.1 CPO for our tests: the extrawest-ocpi library (PyPI, MIT) wired
with an in-memory store. It runs in its OWN virtual environment (old FastAPI / pydantic 1,
tests/roaming/peers/extrawest.lock), started by tests/roaming/peers/runtime.py:

    <peer venv>/bin/python extrawest_cpo.py <config.json>

The config (JSON) says: `token_a` (the token A it hands out for our registration),
optionally `token_c` + `client_token` (a registration done beforehand: the token C it
accepts and the token B it sends us), `locations` (how many), `country_code`, `party_id`.

It binds 127.0.0.1 on a free port, then prints `PEER READY <port>` on stdout. The library is
used as published, never patched: its quirks are what our side must cope with (docs/roaming.md
"Testing against peers"). A small extra route, `GET /peer-control/state`, lets the test see
what the peer received (registrations, commands, their results, the tokens pushed to its
tokens receiver) without its token.

Runs under Python 3.11 with the peer's packages only: it imports nothing of the project.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "ocpi_schemas" / "examples" / "2.2.1"
BASE_TIME = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _location(n: int, cc: str, pid: str) -> dict[str, Any]:
    """Location `LOC-00n` with one EVSE and one connector; `last_updated` one hour apart so
    date filters and the oldest-first order can be checked. Ids in upper case: the peer
    answers them lower-cased (its CiString preference)."""
    updated = _iso(BASE_TIME + timedelta(hours=n))
    return {
        "country_code": cc,
        "party_id": pid,
        "id": f"LOC-{n:03d}",
        "publish": True,
        "name": f"Peer site {n}",
        "address": f"Peerstraat {n}",
        "city": "Utrecht",
        "postal_code": "3511",
        "country": "NLD",
        "coordinates": {"latitude": f"52.{n:06d}", "longitude": "5.120000"},
        "parking_type": "ON_STREET",
        "evses": [
            {
                "uid": f"EVSE-{n:03d}-1",
                "evse_id": f"{cc}*{pid}*E{n:03d}1",
                "status": "AVAILABLE",
                "capabilities": ["REMOTE_START_STOP_CAPABLE", "RFID_READER"],
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 16,
                        "max_electric_power": 11000,
                        "tariff_ids": ["TARIFF-AC"],
                        "last_updated": updated,
                    }
                ],
                "last_updated": updated,
            }
        ],
        "time_zone": "Europe/Amsterdam",
        "last_updated": updated,
    }


def _example(name: str, **override: Any) -> dict[str, Any]:
    data = json.loads((EXAMPLES / name).read_text())
    data.update(override)
    return data


class Store:
    """Everything the peer knows, in memory; one process per test module."""

    def __init__(self, config: dict[str, Any], versions_url: str) -> None:
        cc, pid = config.get("country_code", "NL"), config.get("party_id", "EXW")
        self.country_code, self.party_id = cc, pid
        self.versions_url = versions_url
        self.token_a: str | None = config["token_a"]
        self.tokens_c: set[str] = set()
        self.client_token: str | None = config.get("client_token")  # the B it sends us
        if config.get("token_c"):
            self.tokens_c.add(config["token_c"])
        n = int(config.get("locations", 7))
        self.locations = [_location(i, cc, pid) for i in range(1, n + 1)]
        self.sessions = [
            _example(
                "session_example_2_short_finished.json",
                country_code=cc,
                party_id=pid,
                id="SES-1",
                location_id="LOC-001",
                last_updated=_iso(BASE_TIME + timedelta(hours=1)),
            )
        ]
        self.cdrs = [
            _example(
                "cdr_example.json",
                country_code=cc,
                party_id=pid,
                id="CDR-1",
                last_updated=_iso(BASE_TIME + timedelta(hours=2)),
            )
        ]
        # Its CDR was charged at LOC-001 (the example names a location the peer never
        # published, which leaves an eMSP no time zone to re-price it in).
        self.cdrs[0]["cdr_location"] = {**self.cdrs[0]["cdr_location"], "id": "LOC-001"}
        self.registrations: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        # Tokens an eMSP pushed to its tokens RECEIVER, by (country_code, party_id, uid)
        # as the URL named them (the library lower-cases the CiStrings of the path).
        self.tokens: dict[str, dict[str, Any]] = {}

    def credentials(self, token_c: str) -> dict[str, Any]:
        return {
            "token": token_c,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "CPO",
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                    "business_details": {"name": "Extrawest test peer"},
                }
            ],
        }

    def state(self) -> dict[str, Any]:
        return {
            "registered": bool(self.tokens_c),
            "token_a_valid": self.token_a is not None,
            "registrations": self.registrations,
            "commands": self.commands,
            "tokens": self.tokens,
        }

    @staticmethod
    def token_key(kw: dict[str, Any], uid: Any) -> str:
        return "/".join(str(x) for x in (kw.get("country_code"), kw.get("party_id"), uid))


def _in_window(item: dict[str, Any], filters: dict[str, Any]) -> bool:
    updated = datetime.fromisoformat(item["last_updated"].replace("Z", "+00:00"))
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    if date_from is not None and updated < date_from:
        return False
    return not (date_to is not None and updated >= date_to)


def build_app(store: Store) -> Any:
    from fastapi import FastAPI
    from py_ocpi import get_application
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.enums import Action, ModuleID, RoleEnum
    from py_ocpi.modules.versions.enums import VersionNumber

    lists = {
        ModuleID.locations: store.locations,
        ModuleID.sessions: store.sessions,
        ModuleID.cdrs: store.cdrs,
    }

    class PeerAuthenticator(Authenticator):
        @classmethod
        async def get_valid_token_c(cls) -> list[str]:
            return sorted(store.tokens_c)

        @classmethod
        async def get_valid_token_a(cls) -> list[str]:
            return [store.token_a] if store.token_a else []

    class PeerCrud(Crud):
        @classmethod
        async def get(cls, module: Any, role: Any, id: Any, *args: Any, **kwargs: Any) -> Any:
            if module == ModuleID.credentials_and_registration:
                return store.credentials(id) if id in store.tokens_c else None
            if module == ModuleID.commands:
                return {"result": "ACCEPTED"}  # the "charge point" answered at once
            if module == ModuleID.tokens:
                return store.tokens.get(store.token_key(kwargs, id))
            for item in lists.get(module, []):
                if str(item["id"]).lower() == str(id).lower():
                    return item
            return None

        @classmethod
        async def list(
            cls, module: Any, role: Any, filters: dict, *args: Any, **kwargs: Any
        ) -> tuple[list, int, bool]:
            items = [i for i in lists.get(module, []) if _in_window(i, filters)]
            offset, limit = int(filters["offset"]), int(filters["limit"])
            page = items[offset : offset + limit]
            return page, len(items), offset + limit >= len(items)

        @classmethod
        async def create(cls, module: Any, role: Any, data: dict, *args: Any, **kw: Any) -> Any:
            if module == ModuleID.tokens:
                return cls._token(data, kw, data.get("uid"))
            if module != ModuleID.credentials_and_registration:
                raise NotImplementedError(module)
            return cls._register(data, rotated=False)

        @classmethod
        async def update(
            cls, module: Any, role: Any, data: dict, id: Any, *args: Any, **kw: Any
        ) -> Any:
            if module == ModuleID.tokens:
                return cls._token(data, kw, id)
            if module != ModuleID.credentials_and_registration:
                raise NotImplementedError(module)
            store.tokens_c.discard(kw.get("auth_token"))
            return cls._register(data, rotated=True)

        @classmethod
        def _token(cls, data: dict, kw: dict[str, Any], uid: Any) -> dict[str, Any]:
            stored = _plain(data)
            store.tokens[store.token_key(kw, uid)] = stored
            return stored

        @classmethod
        def _register(cls, data: dict, *, rotated: bool) -> dict[str, Any]:
            credentials = data["credentials"]
            store.client_token = credentials["token"]
            store.token_a = None  # token A is used up (the spec: discarded once registered)
            token_c = secrets.token_urlsafe(24)
            store.tokens_c.add(token_c)
            store.registrations.append(
                {"url": credentials["url"], "roles": credentials["roles"], "rotated": rotated}
            )
            return store.credentials(token_c)

        @classmethod
        async def delete(cls, module: Any, role: Any, id: Any, *args: Any, **kw: Any) -> None:
            if module == ModuleID.credentials_and_registration:
                store.tokens_c.discard(id)

        @classmethod
        async def do(
            cls,
            module: Any,
            role: Any,
            action: Any,
            *args: Any,
            data: dict | None = None,
            **kwargs: Any,
        ) -> Any:
            if action == Action.get_client_token:
                return store.client_token
            if action == Action.send_command:
                body = data if data is not None else (args[0] if args else {})
                store.commands.append(
                    {"command": str(kwargs.get("command").value), "data": _plain(body)}
                )
                return {"result": "ACCEPTED", "timeout": 30}
            return None

    app: FastAPI = get_application(
        version_numbers=[VersionNumber.v_2_2_1],
        roles=[RoleEnum.cpo],
        crud=PeerCrud,
        modules=[
            ModuleID.credentials_and_registration,
            ModuleID.locations,
            ModuleID.sessions,
            ModuleID.cdrs,
            ModuleID.commands,
            ModuleID.tokens,
        ],
        authenticator=PeerAuthenticator,
        # The library's own push: `POST /push/2.2.1` {module_id, object_id, receivers} (with
        # a token C) makes it GET each receiver's version details and PUT / POST the object
        # to the receiver endpoint listed there.
        http_push=True,
    )

    @app.get("/peer-control/state")
    async def peer_state() -> dict[str, Any]:
        return store.state()

    return app


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The library reads its settings from the environment at import: set them first.
    os.environ.update(
        OCPI_HOST=f"127.0.0.1:{port}",
        PROTOCOL="http",
        COUNTRY_CODE=config.get("country_code", "NL"),
        PARTY_ID=config.get("party_id", "EXW"),
        COMMAND_AWAIT_TIME="1",
        ENVIRONMENT="production",
    )
    import uvicorn

    store = Store(config, f"http://127.0.0.1:{port}/ocpi/versions")
    server = uvicorn.Server(uvicorn.Config(build_app(store), log_level="warning", lifespan="off"))
    sock.listen(128)  # connections made from now on wait in the backlog until served
    print(f"PEER READY {port}", flush=True)
    os.dup2(2, 1)  # nobody reads our stdout after this line: anything else goes to the log
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
