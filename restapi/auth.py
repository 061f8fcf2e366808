"""API-key authentication, per-resource scopes, and per-key rate limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.integrations.contracts import ApiPrincipal

if TYPE_CHECKING:
    # Annotations only: DRF's settings import this module while rest_framework.views is
    # still loading (DEFAULT_AUTHENTICATION_CLASSES).
    from rest_framework.request import Request
    from rest_framework.views import APIView

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# ASGI scope key: the rate-limit decision of a request the fast path counted (restapi.fast).
FAST_PATH_DECISION = "evcharge.rate_limit_decision"


class ApiClient:
    """`request.user` for an API call: the key's principal (no Django user)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, principal: ApiPrincipal) -> None:
        self.principal = principal

    def __str__(self) -> str:
        return f"api key {self.principal.key_id}"


def key_actor(principal: ApiPrincipal) -> Actor:
    """The API key, as the audit log names who made a change."""
    return Actor.api_key(key_pk=principal.key_pk, key_id=principal.key_id, name=principal.name)


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer ek_<key id>_<secret>`: one indexed lookup by key id, then a
    constant-time comparison of the secret's salted hash."""

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiPrincipal] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthenticationFailed("send the API key as: Authorization: Bearer <key>")
        principal = integrations_api.api_key_authenticate(presented=key.strip(), now=timezone.now())
        if principal is None:
            raise AuthenticationFailed("unknown or revoked API key")
        return ApiClient(principal), principal

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class HasScope(BasePermission):
    """The key holds `<view.scope_resource>:read` for GET, `:write` for anything else."""

    message = "this API key lacks the scope for this operation"

    def has_permission(self, request: Request, view: APIView) -> bool:
        principal = request.auth
        if not isinstance(principal, ApiPrincipal):
            return False
        resource = getattr(view, "scope_resource", None)
        if resource is None:
            return False
        action = "read" if request.method in SAFE_METHODS else "write"
        action = getattr(view, "scope_action", None) or action
        if not principal.allows(resource, action):
            self.message = f"this API key lacks the scope {resource}:{action}"
            return False
        return True


_REDIS_CLIENTS: dict[str, redis.Redis] = {}


def _redis_client(cache: RedisCache) -> redis.Redis:
    """One redis-py client (and connection pool) per process and Redis URL. Django's cache
    handler is context-local: under ASGI every request gets a new `RedisCache` object with
    pools of its own, so going through it opened a new TCP connection (and sent CLIENT
    SETINFO) on every request; and its client object costs ~1 ms of CPU to build."""
    # Django's RedisCache keeps the URLs it was configured with here (no public accessor).
    url: str = cache._servers[0]  # type: ignore[attr-defined]
    client = _REDIS_CLIENTS.get(url)
    if client is None:
        client = _REDIS_CLIENTS[url] = redis.Redis.from_url(url)
    return client


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per-key limit in a fixed one-window counter in the shared cache (Redis in production).

    DRF's `SimpleRateThrottle` keeps a list of every request time per key (it grows with the
    limit and is rewritten on each request); we keep DRF's throttle plumbing (rate parsing,
    429 with Retry-After) and count with one atomic `incr` per request instead (ADR 0007).
    """

    scope = "api_key"
    # Set by SimpleRateThrottle.__init__ from the configured rate (its stubs do not declare
    # them): the default limit, for keys without one of their own.
    num_requests: int | None
    duration: int | None

    def __init__(self) -> None:
        super().__init__()
        self._wait = 0.0

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        client = request.user
        if not isinstance(client, ApiClient):
            return None
        return f"throttle:{client.principal.key_id}"

    def allow_request(self, request: Request, view: APIView) -> bool:
        client = request.user
        if not isinstance(client, ApiClient):
            return True
        # A request the ASGI fast path (restapi.fast) counted already and handed on: its
        # decision stands (never counted twice).
        decided = getattr(request._request, "scope", {}).get(FAST_PATH_DECISION)
        allowed, wait, revoked = decided or self.count(client.principal)
        if revoked:
            # Revoked in another process since this one cached the key (ADR 0008).
            integrations_api.api_key_forget(key_id=client.principal.key_id)
            raise AuthenticationFailed("unknown or revoked API key")
        self._wait = wait
        return allowed

    def count(self, principal: ApiPrincipal) -> tuple[bool, float, bool]:
        """Count one request of the key in its window: (allowed, seconds to wait if not,
        whether the key was revoked elsewhere)."""
        limit = principal.rate_limit_per_minute
        num, duration = (limit, 60) if limit else (self.num_requests, self.duration)
        now = int(self.timer())
        window = now // duration if duration else 0
        key = f"throttle:{principal.key_id}:{window}"
        count, revoked = self._count(key, duration or 60, principal.key_id)
        if revoked or not num or not duration:
            return True, 0.0, revoked
        if count > num:
            return False, float(duration - (now % duration)), False
        return True, 0.0, False

    def _count(self, key: str, duration: int, key_id: str) -> tuple[int, bool]:
        """Count this request in the window and read the key's revocation mark: one round
        trip to Redis (a pipeline of INCR, EXPIRE, EXISTS); in-process memory otherwise."""
        marker = integrations_api.api_key_revoked_marker(key_id)
        cache = caches["default"]  # the backend itself (`self.cache` is a proxy)
        if isinstance(cache, RedisCache):
            counter = cache.make_and_validate_key(key)
            mark = cache.make_and_validate_key(marker)
            pipe = _redis_client(cache).pipeline(transaction=False)
            pipe.incr(counter)
            pipe.expire(counter, duration + 5)
            pipe.exists(mark)
            count, _, revoked = pipe.execute()
            return int(count), bool(revoked)
        try:
            count = cache.incr(key)
        except ValueError:
            count = 1 if cache.add(key, 1, duration + 5) else cache.incr(key)
        return count, cache.get(marker) is not None

    def wait(self) -> float:
        return self._wait
