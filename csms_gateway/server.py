"""The OCPP-J websocket server: `ws(s)://HOST:PORT/ocpp/{identity}`.

Thin by design: protocol, authentication and connections. Domain work goes through the
apps' `api` modules via `DjangoBackend`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import urllib.parse
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from apps.locations import api as locations_api
from apps.locations.contracts import ConnectionEventIn, ConnectionEventKind, SecurityProfile
from csms_gateway import ocppj, schemas, security
from csms_gateway.backend import DjangoBackend
from csms_gateway.commands import Outbound
from csms_gateway.cost_updates import CostUpdates
from csms_gateway.handlers import StationContext, now_utc, v15, v16, v201
from csms_gateway.metrics import GcPolicy, Meter
from csms_gateway.relay import Relay
from csms_gateway.relay_local import LocalRelay
from csms_gateway.settings import GatewaySettings

log = logging.getLogger("csms_gateway")

_VERSIONS = {"ocpp1.5": ("1.5", v15), "ocpp1.6": ("1.6", v16), "ocpp2.0.1": ("2.0.1", v201)}
PATH_PREFIX = "/ocpp/"


class Gateway:
    def __init__(self, settings: GatewaySettings, backend: DjangoBackend | None = None) -> None:
        self.settings = settings
        self.backend = backend or DjangoBackend(
            auth_cache_seconds=settings.auth_cache_seconds,
            max_batch=settings.group_commit_max,
            max_delay=settings.group_commit_delay_ms / 1000,
        )
        self.connections: dict[str, ServerConnection] = {}
        # The outbound side (CSMS -> station CALLs) of each live connection.
        self.links: dict[str, Outbound] = {}
        self.node = settings.node
        self.relay: Relay | LocalRelay | None = None
        if settings.relay_url:
            self.relay = Relay(
                url=settings.relay_url,
                prefix=settings.relay_prefix,
                node=self.node,
                links=self.links.get,
                on_lost=self._taken_elsewhere,
                node_ttl=settings.node_ttl,
                registry_ttl=settings.registry_ttl,
            )
        elif settings.relay_socket:
            # The embedded default: no Redis, one node, a local unix socket (ADR 0018).
            self.relay = LocalRelay(
                path=settings.relay_socket, node=self.node, links=self.links.get
            )
        self._servers: list[Server] = []
        # Work started after an answer was sent (StationContext.after_answer), kept referenced.
        self._followups: set[asyncio.Task[Any]] = set()
        # Live cost -> CostUpdated to the 2.0.1 stations this node holds (needs Redis); sent
        # through each station's outbound line like any CSMS -> station CALL.
        self.cost_updates = (
            CostUpdates(settings.redis_url, self.connections, self.links.get)
            if settings.redis_url
            else None
        )
        self.meter = Meter(settings.measure_file) if settings.measure_file else None
        self.gc = GcPolicy(
            freeze_seconds=settings.gc_freeze_seconds,
            full_after_closes=settings.gc_full_after_closes,
            full_seconds=settings.gc_full_seconds,
        )

    # --- handshake --------------------------------------------------------------------------

    def _identity(self, path: str) -> str | None:
        path = path.split("?", 1)[0]
        if not path.startswith(PATH_PREFIX):
            return None
        identity = urllib.parse.unquote(path[len(PATH_PREFIX) :].rstrip("/"))
        return identity if identity and "/" not in identity else None

    def _tls_and_fingerprint(
        self, connection: ServerConnection, headers: Headers
    ) -> tuple[bool, str | None]:
        ssl_object = connection.transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            return True, security.fingerprint_der(der) if der else None
        if self.settings.trust_proxy:
            tls = headers.get(self.settings.proxy_proto_header, "").lower() == "https"
            forwarded = headers.get(self.settings.proxy_cert_header)
            fingerprint = security.fingerprint_from_proxy_header(forwarded) if forwarded else None
            return tls, fingerprint
        return False, None

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        identity = self._identity(request.path)
        if identity is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "expected /ocpp/{identity}\n")
        auth = await self.backend.station_auth(identity)
        if auth is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown charge station\n")
        tls, fingerprint = self._tls_and_fingerprint(connection, request.headers)
        refusal = security.check(
            auth,
            tls=tls,
            client_fingerprint=fingerprint,
            authorization=request.headers.get("Authorization"),
        )
        if refusal is not None:
            log.warning("refused %s: %s", identity, refusal.reason)
            response = connection.respond(refusal.status, refusal.reason + "\n")
            if refusal.challenge:
                response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
            return response
        connection.station_auth = auth  # type: ignore[attr-defined]
        if auth.security_profile == SecurityProfile.TLS_CLIENT_CERT and (
            security.certificate_is_next(auth, fingerprint)
        ):
            # The station switched to the certificate this CSMS issued: pin it (ADR 0014).
            task = asyncio.get_running_loop().create_task(
                self.backend.call_api(
                    locations_api.charge_station_certificate_in_use,
                    station_id=auth.id,
                    fingerprint=auth.client_cert_fingerprint_next,
                )
            )
            self._followups.add(task)
            task.add_done_callback(self._followups.discard)
        return None

    def select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        # The station lists its preferences in order: take its first that we enable and that
        # the station is allowed (its `ocpp_versions`; none listed: any).
        allowed = getattr(connection, "station_auth", None)
        versions = allowed.ocpp_versions if allowed is not None else ()
        for protocol in offered:
            if protocol in self.settings.subprotocols and (
                not versions or protocol.removeprefix("ocpp") in versions
            ):
                return protocol
        return None

    # --- connection -------------------------------------------------------------------------

    async def handle(self, connection: ServerConnection) -> None:
        auth = connection.station_auth  # type: ignore[attr-defined]
        if connection.subprotocol is None:
            # OCPP-J: complete the handshake without the header, then close.
            await connection.close(1002, "no supported OCPP subprotocol")
            return
        version, module = _VERSIONS[connection.subprotocol]
        previous = self.connections.get(auth.identity)
        self.connections[auth.identity] = connection
        link = Outbound(connection.send, version, auth.identity)
        self.links[auth.identity] = link
        self._connection_event(auth, ConnectionEventKind.CONNECTED, link, version)
        if self.relay is not None:
            self.relay.attach(auth.identity, link.token)
        if previous is not None:
            log.info("%s reconnected: closing its previous connection", auth.identity)
            await previous.close(1000, "replaced by a new connection")
        ctx = StationContext(
            auth=auth,
            version=version,
            backend=self.backend,
            settings=self.settings,
            auth_memory=link.auth_memory,
        )
        self.backend.seen(auth.id)
        inbound: asyncio.Queue[tuple[ocppj.Call, float] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        worker = asyncio.create_task(self._process_calls(connection, ctx, module, inbound))
        try:
            async for message in connection:
                self.backend.seen(auth.id)
                try:
                    frame = ocppj.parse_frame(message)
                except ocppj.OcppError as exc:
                    message_id = str(exc.details.get("message_id", ""))
                    if message_id:
                        await connection.send(ocppj.dump_error(message_id, exc, version))
                    continue
                except ocppj.UnanswerableFrame as exc:
                    log.warning("%s sent a frame without a readable id: %s", auth.identity, exc)
                    answer = ocppj.dump_unreadable(exc, version)
                    if answer is not None:
                        await connection.send(answer)
                    continue
                if isinstance(frame, ocppj.Call):
                    inbound.put_nowait((frame, loop.time()))
                elif not link.resolve(frame):
                    # CALLRESULT / CALLERROR answer our own CALLs (remote commands); this one
                    # came after its command timed out, or names no CALL of ours.
                    log.info("%s answered %s, which nothing waits for", auth.identity, frame)
        except ConnectionClosed:
            pass
        finally:
            link.close()
            self.gc.closed()
            inbound.put_nowait(None)
            await worker
            if self.links.get(auth.identity) is link:
                del self.links[auth.identity]
            if self.relay is not None:
                self.relay.detach(auth.identity, link.token)
            if self.connections.get(auth.identity) is connection:
                del self.connections[auth.identity]
            self._connection_event(
                auth,
                ConnectionEventKind.DISCONNECTED,
                link,
                version,
                close_code=connection.close_code,
                reason=connection.close_reason or "",
            )

    def _connection_event(
        self,
        auth: Any,
        kind: ConnectionEventKind,
        link: Outbound,
        version: str,
        close_code: int | None = None,
        reason: str = "",
    ) -> None:
        self.backend.connection_event(
            ConnectionEventIn(
                station_id=auth.id,
                tenant_id=auth.tenant_id,
                kind=kind,
                at=now_utc(),
                node=self.node,
                connection_id=link.token,
                protocol=version,
                close_code=close_code,
                reason=reason,
            )
        )

    def _taken_elsewhere(self, identity: str, token: str) -> None:
        """The registry names another connection of this station (on another node): ours is
        stale (the station moved), so close it, as a new connection on this node would."""
        link, connection = self.links.get(identity), self.connections.get(identity)
        if link is None or link.token != token or connection is None:
            return
        log.info("%s connected to another node: closing its connection here", identity)
        asyncio.get_running_loop().create_task(
            connection.close(1000, "replaced by a connection on another node")
        )

    async def _process_calls(
        self,
        connection: ServerConnection,
        ctx: StationContext,
        module: Any,
        inbound: asyncio.Queue[tuple[ocppj.Call, float] | None],
    ) -> None:
        """Inbound CALLs of one station, in arrival order, one at a time."""
        loop = asyncio.get_running_loop()
        while (item := await inbound.get()) is not None:
            call, received = item
            reply = await self._answer(ctx, module, call)
            followups, ctx.after_answer = ctx.after_answer, []
            try:
                await connection.send(reply)
            except ConnectionClosed:
                # The message was handled (stored if it was a transaction message); the
                # station will resend it and get the same answer (idempotent keys).
                continue
            for followup in followups:  # after the answer is on its way, never before
                task = loop.create_task(followup())
                self._followups.add(task)
                task.add_done_callback(self._followups.discard)
            if self.meter is not None:
                self.meter.handled.append(loop.time() - received)

    async def _answer(self, ctx: StationContext, module: Any, call: ocppj.Call) -> str:
        handler = module.HANDLERS.get(call.action)
        if handler is None:
            known = schemas.validator(ctx.version, call.action, False) is not None
            code = ocppj.ErrorCode.NOT_SUPPORTED if known else ocppj.ErrorCode.NOT_IMPLEMENTED
            error = ocppj.OcppError(code, f"{call.action} is not handled by this CSMS")
            return ocppj.dump_error(call.message_id, error, ctx.version)
        try:
            schemas.validate(ctx.version, call.action, call.payload, response=False)
        except ocppj.OcppError as exc:
            lenient = call.action in module.TRANSACTION_ACTIONS or call.action in (
                self.settings.lenient.get(ctx.vendor, frozenset())
            )
            if not lenient:
                return ocppj.dump_error(call.message_id, exc, ctx.version)
            # Transaction messages report facts: log the deviation, keep the data.
            log.warning(
                "%s %s breaks the schema (accepted): %s",
                ctx.auth.identity,
                call.action,
                exc.description,
            )
        ctx.frame = call.raw
        try:
            response = await handler(ctx, call.payload)
            schemas.validate(ctx.version, call.action, response, response=True)
        except ocppj.OcppError as exc:
            log.error("%s %s: invalid response: %s", ctx.auth.identity, call.action, exc)
            error = ocppj.OcppError(ocppj.ErrorCode.INTERNAL_ERROR, "internal error")
            return ocppj.dump_error(call.message_id, error, ctx.version)
        except Exception:  # noqa: BLE001 - never kill the connection over one message
            log.exception("%s %s failed", ctx.auth.identity, call.action)
            error = ocppj.OcppError(ocppj.ErrorCode.INTERNAL_ERROR, "internal error")
            return ocppj.dump_error(call.message_id, error, ctx.version)
        if ctx.warnings:
            log.info("%s %s: %s", ctx.auth.identity, call.action, "; ".join(ctx.warnings))
            ctx.warnings.clear()
        return ocppj.dump_result(call.message_id, response)

    # --- lifecycle --------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        if self.settings.tls_client_ca:
            context.load_verify_locations(self.settings.tls_client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL  # required per station (profile 3)
        return context

    async def start(self) -> None:
        self.backend.start()
        if self.cost_updates is not None:
            self.cost_updates.start()
        if self.meter is not None:
            self.meter.start()
        self.gc.start()
        if self.relay is not None:
            await self.relay.start()
        common: dict[str, Any] = {
            "process_request": self.process_request,
            "select_subprotocol": self.select_subprotocol,
            "max_size": self.settings.max_frame_bytes,
            "ping_interval": self.settings.ping_interval,
            "compression": None,
            "server_header": None,
            "backlog": self.settings.listen_backlog,
            "open_timeout": self.settings.open_timeout,
        }
        self._servers.append(
            await serve(self.handle, self.settings.host, self.settings.port, **common)
        )
        if self.settings.tls_port is not None:
            self._servers.append(
                await serve(
                    self.handle,
                    self.settings.host,
                    self.settings.tls_port,
                    ssl=self._tls_context(),
                    **common,
                )
            )

    @property
    def ports(self) -> list[int]:
        return [s.sockets[0].getsockname()[1] for s in self._servers if s.sockets]

    async def stop(self) -> None:
        if self.meter is not None:
            self.meter.stop()
        self.gc.stop()
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        if self.cost_updates is not None:
            await self.cost_updates.stop()
        for task in list(self._followups):
            task.cancel()
        if self.relay is not None:
            await self.relay.stop()
        await self.backend.stop()
