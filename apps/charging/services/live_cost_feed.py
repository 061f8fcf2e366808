"""The running cost of active sessions, published for the gateway nodes.

When a worker has priced a session's live cost (`services.cdrs.session_update_live_cost`, at most
once per `CHARGING_LIVE_COST_SECONDS` per session) and its database transaction commits, one
JSON message goes to the Redis channel `live_cost_channel()`. Every gateway node subscribes;
the node that holds the station's websocket sends it OCPP 2.0.1 CostUpdated
(`csms_gateway.cost_updates`).

Publish/subscribe is fire-and-forget by design: a node that is down or reconnecting misses
an update, and the next pricing (seconds later) carries a newer total; nothing is billed from
these messages (the CDR is). Without `REDIS_URL` (the embedded default: no server to carry
the message between processes) nothing is published and stations get no CostUpdated.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.charging.models import ChargingSession
from apps.charging.services.batch import Lookups

log = logging.getLogger(__name__)

_CHANNEL_PREFIX = "charging.live_cost"
_client: Any = None
_client_lock = threading.Lock()


def live_cost_channel(redis_url: str) -> str:
    """The channel name. Redis pub/sub ignores database numbers, so the channel carries the
    database number of `redis_url`: deployments (or test runs) sharing one Redis server on
    different database numbers do not hear each other's sessions."""
    parts = urllib.parse.urlsplit(redis_url)
    db = parts.path.strip("/") or dict(urllib.parse.parse_qsl(parts.query)).get("db", "0")
    return f"{_CHANNEL_PREFIX}.db{db}"


def _redis() -> Any:
    global _client
    with _client_lock:
        if _client is None:
            import redis

            _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        return _client


def _publish(message: dict[str, Any]) -> None:
    try:
        _redis().publish(live_cost_channel(settings.REDIS_URL), json.dumps(message))
    except Exception:  # noqa: BLE001 - a lost cost display never breaks the session
        log.warning("could not publish the live cost of session %s", message["session_id"])


def publish_on_commit(session: ChargingSession, lookups: Lookups | None) -> None:
    """After the current transaction commits, publish the session's new running cost (no-op
    without `REDIS_URL`). `lookups` gives the station's identity without a query when the
    caller prefetched the station contexts (the batch path does)."""
    if not settings.REDIS_URL or session.live_cost_incl_vat is None:
        return
    station = (lookups or Lookups()).station(session.charge_station_id)
    message = {
        "session_id": session.pk,
        "station_id": session.charge_station_id,
        "identity": station.identity,
        "transaction_id": session.ocpp_transaction_id,
        "currency": session.currency,
        "total_cost_incl_vat": str(session.live_cost_incl_vat),
        "total_cost_excl_vat": str(session.live_cost_excl_vat),
        "energy_wh": str(session.energy_wh),
        "priced_up_to": session.last_meter_at.isoformat() if session.last_meter_at else None,
    }
    transaction.on_commit(lambda: _publish(message))
