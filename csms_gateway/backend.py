"""The gateway's port to the domain. `DjangoBackend` calls the apps' `api` modules in
threads, so the event loop never waits on the database; transaction messages go through a
group-commit writer: many messages, one database transaction, each answered after commit."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from django.db import close_old_connections, transaction

from apps.charging import api as charging_api
from apps.charging.contracts import StatusEventIn, TransactionEventIn, TransactionEventResult
from apps.locations import api as locations_api
from apps.locations.contracts import (
    BootIn,
    ChargeStationAuth,
    ConnectionEventIn,
    ConnectionEventKind,
    EvseStatusReport,
)
from apps.roaming import api as roaming_api
from apps.tokens import api as tokens_api
from apps.tokens.contracts import AuthorizationReport, AuthorizationStatus

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


def _in_thread(fn: Callable[..., Out], *args: Any, **kwargs: Any) -> Out:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


class GroupCommitWriter(Generic[In, Out]):
    """Collects items for up to `max_delay` seconds (or `max_batch` items), writes them with
    one call of `flush` in a dedicated thread, then resolves each caller's future. If a
    batch fails, its items are retried one by one so one bad item fails alone."""

    def __init__(
        self,
        flush: Callable[[Sequence[In]], list[Out]],
        *,
        max_batch: int = 200,
        max_delay: float = 0.005,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._queue: asyncio.Queue[tuple[In, asyncio.Future[Out]]] = asyncio.Queue()
        # A writer thread of its own, or one shared with writers of the same rows (their
        # transactions then never interleave, so they cannot deadlock each other).
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="group-commit"
        )
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, drain: float = 5.0) -> None:
        """Write what is queued (for up to `drain` seconds), then stop."""
        deadline = time.monotonic() + drain
        while (not self._queue.empty() or self._busy) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
        if self._own_executor:
            self._executor.shutdown(wait=True)

    async def submit(self, item: In) -> Out:
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    def post(self, item: In) -> None:
        """Queue `item` without waiting for its commit (fire and forget: a failure is logged
        by the writer, never raised to the caller)."""
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_failure)
        self._queue.put_nowait((item, future))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._busy = False
            batch = [await self._queue.get()]
            self._busy = True
            deadline = time.monotonic() + self._max_delay
            while len(batch) < self._max_batch:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            items = [item for item, _ in batch]
            try:
                results = await loop.run_in_executor(self._executor, _in_thread, self._flush, items)
            except Exception:  # noqa: BLE001 - isolate the failing item below
                log.exception("group commit of %d items failed; retrying one by one", len(batch))
                for item, future in batch:
                    try:
                        (result,) = await loop.run_in_executor(
                            self._executor, _in_thread, self._flush, [item]
                        )
                    except Exception as exc:  # noqa: BLE001
                        if not future.done():
                            future.set_exception(exc)
                    else:
                        if not future.done():
                            future.set_result(result)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("could not record %s", future.exception())


class TaskPublisher:
    """Publishes the processing of committed transactions from a thread of its own, so the
    group-commit writer goes on to the next batch instead of waiting on the broker.

    Keys are merged into few, large messages: what waits is taken at once, and when that is
    fewer than `batch` keys the thread lingers up to `linger` seconds for more. A worker's
    task has a fixed cost (a dozen statements, the broker round trips) besides its cost per
    transaction, so under load a few big tasks beat many small ones (docs/benchmarks.md, CDR
    pipeline); when idle, the linger adds at most `linger` seconds to the stop-to-CDR
    latency. A gateway that dies between commit and publish loses no work: the sweeper
    re-queues transactions whose newest event is newer than their session."""

    def __init__(
        self,
        publish: Callable[[list[tuple[int, str]]], None],
        *,
        batch: int = 50,
        linger: float = 0.05,
    ) -> None:
        self._publish = publish
        self._batch = batch
        self._linger = linger
        self._queue: queue.SimpleQueue[list[tuple[int, str]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="task-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, keys: list[tuple[int, str]]) -> None:
        self._queue.put(keys)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            keys = set(first)
            deadline = time.monotonic() + self._linger
            while True:  # merge whatever else is waiting, and linger while it is little
                try:
                    if len(keys) >= self._batch:
                        more = self._queue.get_nowait()
                    else:
                        left = deadline - time.monotonic()
                        more = (
                            self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                        )
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                keys.update(more)
            try:
                self._publish(sorted(keys))
            except Exception:  # noqa: BLE001 - the sweeper re-queues what was not published
                log.exception("could not publish the processing of %d transactions", len(keys))


class DjangoBackend:
    def __init__(self, *, auth_cache_seconds: int, max_batch: int, max_delay: float) -> None:
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="backend")
        # Authorize decisions may wait seconds on an eMSP (OCPI real-time authorization):
        # threads of their own, so they never hold up the other domain calls.
        self._authorize_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="authorize")
        self._auth_ttl = auth_cache_seconds
        # (station, uid) -> (expires at, answer): a decision depends on the station (its
        # tenant, roaming, charge-port groups), so it never answers another station.
        self._token_cache: dict[tuple[int, str], tuple[float, AuthorizationStatus]] = {}
        # (station, uid) -> the eMSP's authorization_reference of its last real-time answer
        self._auth_references: dict[tuple[int, str], str] = {}
        self._seen: set[int] = set()
        self.publisher = TaskPublisher(lambda keys: charging_api.transactions_enqueue(keys))
        self.transactions: GroupCommitWriter[TransactionEventIn, TransactionEventResult] = (
            GroupCommitWriter(
                lambda events: charging_api.transaction_events_record(
                    events=events, enqueue=self.publisher.put
                ),
                max_batch=max_batch,
                max_delay=max_delay,
            )
        )
        self.statuses: GroupCommitWriter[StatusEventIn, None] = GroupCommitWriter(
            self._record_statuses, max_batch=max_batch, max_delay=max_delay
        )
        # Everything that updates charge-station rows (connects and disconnects, boots, last
        # seen) is written by one thread: multi-row UPDATEs of overlapping stations in
        # concurrent transactions would deadlock each other in a reconnect storm.
        self._station_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stations")
        # Connects and disconnects (a reconnect storm, a network blip): one transaction per
        # batch, history rows in one INSERT.
        self.connections: GroupCommitWriter[ConnectionEventIn, None] = GroupCommitWriter(
            self._record_connections,
            max_batch=max_batch,
            max_delay=max_delay,
            executor=self._station_writer,
        )
        # A reconnect storm: thousands of handshakes and boots within seconds. Their reads and
        # writes are batched too (one SELECT for up to 200 identities, one UPDATE per batch of
        # boots), or the handshakes queue behind one query each and time out.
        self.auths: GroupCommitWriter[str, ChargeStationAuth | None] = GroupCommitWriter(
            lambda identities: locations_api.charge_station_auths(identities=identities),
            max_batch=max_batch,
            max_delay=max_delay,
        )
        self.boots: GroupCommitWriter[BootIn, None] = GroupCommitWriter(
            self._record_boots,
            max_batch=max_batch,
            max_delay=max_delay,
            executor=self._station_writer,
        )
        # Authorize answers, reported to the tokens app for the `token.authorized` webhook
        # event after the station has its answer (never in the answer's path).
        self.authorizations: GroupCommitWriter[AuthorizationReport, None] = GroupCommitWriter(
            self._record_authorizations, max_batch=max_batch, max_delay=max_delay
        )
        self._seen_task: asyncio.Task[None] | None = None

    @staticmethod
    def _record_authorizations(reports: Sequence[AuthorizationReport]) -> list[None]:
        with transaction.atomic():
            tokens_api.token_authorizations_record(reports=reports)
        return [None] * len(reports)

    @staticmethod
    def _record_statuses(events: Sequence[StatusEventIn]) -> list[None]:
        # One transaction (one commit, one fsync) for the whole batch, as for transaction
        # messages; outside one, every EVSE update was a commit of its own. The locations app
        # emits `station.status_changed` in the same transaction (webhook outbox).
        with transaction.atomic():
            charging_api.status_events_record(events=events)
            locations_api.evse_status_reports_record(
                reports=[
                    EvseStatusReport(
                        tenant_id=e.tenant_id,
                        station_id=e.station_id,
                        evse_ocpp_id=e.evse_ocpp_id,
                        connector_ocpp_id=e.connector_ocpp_id,
                        ocpp_status=e.status,
                        station_timestamp=e.station_timestamp,
                    )
                    for e in events
                ]
            )
        return [None] * len(events)

    @staticmethod
    def _record_boots(boots: Sequence[BootIn]) -> list[None]:
        locations_api.charge_station_boots_record(boots=boots)
        return [None] * len(boots)

    @staticmethod
    def _record_connections(events: Sequence[ConnectionEventIn]) -> list[None]:
        locations_api.charge_station_connections_record(events=events)
        return [None] * len(events)

    def start(self) -> None:
        self.publisher.start()
        self.transactions.start()
        self.statuses.start()
        self.connections.start()
        self.auths.start()
        self.boots.start()
        self.authorizations.start()
        self._seen_task = asyncio.get_running_loop().create_task(self._flush_seen_forever())

    async def stop(self) -> None:
        if self._seen_task:
            self._seen_task.cancel()
        await self._flush_seen()
        await self.transactions.stop()
        await self.statuses.stop()
        await self.connections.stop()
        await self.auths.stop()
        await self.boots.stop()
        await self.authorizations.stop()
        self.publisher.stop()
        self._station_writer.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self._authorize_pool.shutdown(wait=True)

    async def _call(self, fn: Callable[..., Out], **kwargs: Any) -> Out:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: _in_thread(fn, **kwargs))

    async def call_api(self, fn: Callable[..., Out], **kwargs: Any) -> Out:
        """Run one domain `api` function in the backend's threads (a database call)."""
        return await self._call(fn, **kwargs)

    async def station_auth(self, identity: str) -> ChargeStationAuth | None:
        return await self.auths.submit(identity)

    async def authorize(self, *, tenant_id: int, station_id: int, uid: str) -> AuthorizationStatus:
        """The access decision for `uid` at this station (ADR 0015), from the cache while it
        is fresh (GATEWAY_AUTH_CACHE_SECONDS): a changed group or token may take that long.
        Where OCPI wants it (an unknown uid, a roaming token whitelisted NEVER /
        ALLOWED_OFFLINE) the eMSP is asked in real time (apps.roaming `station_authorize`,
        in a thread, bounded by OCPI_AUTHORIZE_TIMEOUT_MS); a fallback answer given because
        no eMSP answered is not cached."""
        now = time.monotonic()
        key = (station_id, uid)
        cached = self._token_cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        decision = await asyncio.get_running_loop().run_in_executor(
            self._authorize_pool,
            lambda: _in_thread(
                roaming_api.station_authorize,
                tenant_id=tenant_id,
                station_id=station_id,
                uid=uid,
            ),
        )
        if len(self._token_cache) > 100_000:
            self._token_cache.clear()
        if decision.cacheable:
            self._token_cache[key] = (now + self._auth_ttl, decision.status)
        if len(self._auth_references) > 10_000:
            self._auth_references.clear()
        if decision.authorization_reference:
            self._auth_references[key] = decision.authorization_reference
        else:
            self._auth_references.pop(key, None)
        return decision.status

    def authorization_reference(self, *, station_id: int, uid: str) -> str:
        """The eMSP's authorization_reference of the last real-time answer for `uid` at this
        station ("" when the token cache decided): the session that follows carries it."""
        return self._auth_references.get((station_id, uid), "")

    def authorized(
        self, *, tenant_id: int, station_id: int, identity: str, uid: str, status: str
    ) -> None:
        """Report an answered Authorize (cached or not) for the `token.authorized` event."""
        self.authorizations.post(
            AuthorizationReport(
                tenant_id=tenant_id,
                station_id=station_id,
                identity=identity,
                uid=uid,
                status=AuthorizationStatus(status),
                answered_at=datetime.now(UTC),
            )
        )

    async def boot(self, station_id: int, **fields: str) -> None:
        await self.boots.submit(BootIn(station_id=station_id, at=datetime.now(UTC), **fields))

    def seen(self, station_id: int) -> None:
        self._seen.add(station_id)

    async def command_progress(self, **fields: Any) -> None:
        """A status notification that follows a remote command (firmware, logs)."""
        await self._call(locations_api.charge_station_command_progress, **fields)

    def connection_event(self, event: ConnectionEventIn) -> None:
        """Record a connect / disconnect (history, connectivity) without waiting for it."""
        if event.kind is ConnectionEventKind.DISCONNECTED:
            self._seen.discard(event.station_id)
        self.connections.post(event)

    async def _flush_seen(self) -> None:
        ids, self._seen = sorted(self._seen), set()
        if ids:
            at = datetime.now(UTC)
            await asyncio.get_running_loop().run_in_executor(
                self._station_writer,
                lambda: _in_thread(locations_api.charge_stations_seen, station_ids=ids, at=at),
            )

    async def _flush_seen_forever(self) -> None:
        while True:
            await asyncio.sleep(15)
            try:
                await self._flush_seen()
            except Exception:  # noqa: BLE001
                log.exception("could not record last-seen times")
