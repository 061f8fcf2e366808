"""Gateway settings, read from the environment through `config.env` (see README)."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field

from config.env import ConfigurationError, data_dir, env_bool, env_int, env_list, env_str

SUPPORTED_SUBPROTOCOLS = ("ocpp2.0.1", "ocpp1.6", "ocpp1.5")


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 9000  # plain ws (security profile 1 only)
    tls_port: int | None = None  # wss (profiles 2 and 3); needs cert + key
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""  # CA that signs station client certificates (profile 3)
    trust_proxy: bool = False  # TLS terminated at a proxy that forwards the client cert
    proxy_cert_header: str = "X-Client-Cert"
    proxy_proto_header: str = "X-Forwarded-Proto"
    subprotocols: tuple[str, ...] = SUPPORTED_SUBPROTOCOLS
    max_frame_bytes: int = 256 * 1024
    listen_backlog: int = 4096  # pending handshakes the kernel queues (a reconnect storm)
    open_timeout: int = 30  # seconds for a handshake (a storm queues them: not websockets' 10)
    heartbeat_interval: int = 300
    ping_interval: int | None = None  # stations ping; server pings off by default
    auth_cache_seconds: int = 60
    group_commit_max: int = 200
    group_commit_delay_ms: int = 5
    lenient: dict[str, frozenset[str]] = field(default_factory=dict)
    # DataTransfer vendorId -> messageIds answered Accepted (empty or "*": any message id).
    data_transfer_accept: dict[str, frozenset[str]] = field(default_factory=dict)
    # Redis: the live cost of 2.0.1 sessions is sent as CostUpdated (empty: no CostUpdated).
    redis_url: str = ""
    # Remote commands (docs/gateway.md "Remote commands"): through Redis when `relay_url` is
    # set; else, with `relay_socket`, through that local unix socket (one node; ADR 0018).
    node_id: str = ""  # unique per node; default host:port
    relay_url: str = ""
    relay_socket: str = ""  # from_env: RELAY_SOCKET, default DATA_DIR/relay.sock
    relay_prefix: str = "ocpp"
    node_ttl: int = 15  # seconds a node counts as alive after its last refresh
    registry_ttl: int = 90  # seconds a station -> node entry lives after its last refresh
    measure_file: str = ""  # benchmarks: latency / loop lag written here on SIGUSR1
    # Garbage collection (csms_gateway.metrics.GcPolicy): freeze surviving objects every
    # N seconds (0: off); a full collection after this many closed connections, or hourly.
    gc_freeze_seconds: float = 0  # from_env: 1 (the process `python -m csms_gateway`)
    gc_full_after_closes: int = 1000
    gc_full_seconds: float = 3600

    @property
    def node(self) -> str:
        return self.node_id or f"{socket.gethostname()}:{self.port or os.getpid()}"

    @classmethod
    def from_env(cls) -> GatewaySettings:
        tls_port = env_int("GATEWAY_TLS_PORT", 0) or None
        subprotocols = tuple(env_list("GATEWAY_SUBPROTOCOLS", list(SUPPORTED_SUBPROTOCOLS)))
        unknown = [p for p in subprotocols if p not in SUPPORTED_SUBPROTOCOLS]
        if unknown:
            raise ConfigurationError(
                f"GATEWAY_SUBPROTOCOLS: {unknown} not supported; use {SUPPORTED_SUBPROTOCOLS}"
            )
        raw_lenient = env_str("GATEWAY_LENIENT_VENDORS", "{}")
        try:
            lenient_json = json.loads(raw_lenient)
            lenient = {str(k): frozenset(map(str, v)) for k, v in lenient_json.items()}
        except (ValueError, AttributeError, TypeError) as exc:
            raise ConfigurationError(
                'GATEWAY_LENIENT_VENDORS: expected JSON like {"Vendor": ["StatusNotification"]}'
            ) from exc
        raw_accept = env_str("GATEWAY_DATA_TRANSFER_ACCEPT", "{}")
        try:
            accept_json = json.loads(raw_accept)
            data_transfer_accept = {str(k): frozenset(map(str, v)) for k, v in accept_json.items()}
        except (ValueError, AttributeError, TypeError) as exc:
            raise ConfigurationError(
                'GATEWAY_DATA_TRANSFER_ACCEPT: expected JSON like {"VendorId": ["MessageId"]}'
            ) from exc
        ping = env_int("GATEWAY_PING_INTERVAL", 0)
        return cls(
            host=env_str("GATEWAY_HOST", "127.0.0.1"),
            port=env_int("GATEWAY_PORT", 9000),
            tls_port=tls_port,
            tls_cert=env_str("GATEWAY_TLS_CERT", ""),
            tls_key=env_str("GATEWAY_TLS_KEY", ""),
            tls_client_ca=env_str("GATEWAY_TLS_CLIENT_CA", ""),
            trust_proxy=env_bool("GATEWAY_TRUST_PROXY", False),
            proxy_cert_header=env_str("GATEWAY_PROXY_CERT_HEADER", "X-Client-Cert"),
            subprotocols=subprotocols,
            max_frame_bytes=env_int("GATEWAY_MAX_FRAME_BYTES", 256 * 1024),
            listen_backlog=env_int("GATEWAY_LISTEN_BACKLOG", 4096),
            open_timeout=env_int("GATEWAY_OPEN_TIMEOUT", 30),
            heartbeat_interval=env_int("GATEWAY_HEARTBEAT_INTERVAL", 300),
            ping_interval=ping or None,
            auth_cache_seconds=env_int("GATEWAY_AUTH_CACHE_SECONDS", 60),
            lenient=lenient,
            data_transfer_accept=data_transfer_accept,
            redis_url=env_str("REDIS_URL", ""),
            node_id=env_str("GATEWAY_NODE_ID", ""),
            relay_url=env_str("RELAY_REDIS_URL", env_str("REDIS_URL", "")),
            relay_prefix=env_str("RELAY_KEY_PREFIX", "ocpp"),
            relay_socket=env_str("RELAY_SOCKET", str(data_dir() / "relay.sock")),
            node_ttl=env_int("GATEWAY_NODE_TTL", 15),
            registry_ttl=env_int("GATEWAY_REGISTRY_TTL", 90),
            measure_file=env_str("GATEWAY_MEASURE_FILE", ""),
            gc_freeze_seconds=env_int("GATEWAY_GC_FREEZE_SECONDS", 1),
            gc_full_after_closes=env_int("GATEWAY_GC_FULL_AFTER_CLOSES", 1000),
            gc_full_seconds=env_int("GATEWAY_GC_FULL_SECONDS", 3600),
        )
