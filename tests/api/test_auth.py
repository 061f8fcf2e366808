"""API keys: hashed, shown once, scoped, revocable, last-used time, per-key rate limits."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.integrations.models import ApiKey
from tests.api.conftest import World, key_with
from tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def _get(key: str | None, url: str = "/api/v1/tokens") -> object:
    client = APIClient()
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client.get(url)


def test_no_key_is_401_with_a_bearer_challenge(world_a: World) -> None:
    response = _get(None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    "transform",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret
        lambda k: "ek_000000000000_" + k.split("_", 2)[2],  # unknown key id
        lambda k: "nonsense",
        lambda k: "ek__",
    ],
)
def test_wrong_keys_are_401(world_a: World, transform: object) -> None:
    assert _get(transform(world_a.key)).status_code == 401  # type: ignore[operator]


def test_the_key_is_stored_hashed_and_looked_up_by_its_public_id(world_a: World) -> None:
    key_id = world_a.key.split("_")[1]
    row = ApiKey.objects.get(key_id=key_id)
    assert world_a.key.split("_", 2)[2] not in row.secret_hash
    assert row.secret_hash.startswith("sha256$")
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        principal = integrations_api.api_key_authenticate(presented=world_a.key, now=now)
    assert principal is not None and principal.tenant_id == world_a.tenant.pk
    lookups = [q["sql"] for q in queries if "integrations_apikey" in q["sql"]]
    assert len(lookups) == 2  # one indexed SELECT by key_id, one conditional last_used UPDATE
    assert '"key_id" =' in lookups[0]
    with CaptureQueriesContext(connection) as queries:
        again = integrations_api.api_key_authenticate(presented=world_a.key, now=now)
    assert again == principal and len(queries) == 0  # cached in this process
    wrong = world_a.key[:-1] + ("A" if world_a.key[-1] != "A" else "B")
    assert integrations_api.api_key_authenticate(presented=wrong, now=now) is None


def test_a_key_revoked_by_another_process_is_refused_at_once(world_a: World) -> None:
    from django.core.cache import cache

    assert _get(world_a.key).status_code == 200  # now cached in this process
    key = ApiKey.objects.get(key_id=world_a.key.split("_")[1])
    # Another web process revokes it: the row, and the mark in the shared cache.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    cache.set(integrations_api.api_key_revoked_marker(key.key_id), 1, 60)
    assert _get(world_a.key).status_code == 401
    cache.clear()  # the mark expires: the row still refuses it
    assert _get(world_a.key).status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(world_a: World) -> None:
    assert _get(world_a.key).status_code == 200
    key = ApiKey.objects.get(key_id=world_a.key.split("_")[1])
    first = key.last_used_at
    assert first is not None
    _get(world_a.key)
    key.refresh_from_db()
    assert key.last_used_at == first


def test_a_revoked_key_is_refused(world_a: World) -> None:
    key = ApiKey.objects.get(key_id=world_a.key.split("_")[1])
    integrations_api.api_key_revoke(
        tenant_id=world_a.tenant.pk,
        api_key_id=key.pk,
        now=timezone.now(),
        actor=Actor.system("tests"),
    )
    assert _get(world_a.key).status_code == 401


def test_scopes_are_per_resource_and_action(world_a: World) -> None:
    key = key_with(world_a.tenant.pk, "tokens:read")
    assert _get(key).status_code == 200
    assert _get(key, "/api/v1/cdrs").status_code == 403
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.post(f"/api/v1/tokens/{world_a.ids['token_id']}/block")
    assert response.status_code == 403
    assert "tokens:write" in response.json()["detail"]


def test_rate_limit_answers_429_with_retry_after(world_a: World) -> None:
    key = key_with(world_a.tenant.pk, "*:read", rate=3)
    assert [_get(key).status_code for _ in range(3)] == [200, 200, 200]
    response = _get(key)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["title"] == "Too many requests"
    # Another key of the same tenant has its own budget.
    assert _get(world_a.key).status_code == 200


def test_create_api_key_command_prints_the_key_once() -> None:
    OperatorFactory(slug="acme")
    out = StringIO()
    call_command("create_api_key", "--tenant", "acme", "--scopes", "tokens:read", stdout=out)
    key = out.getvalue().strip()
    assert key.startswith("ek_")
    assert _get(key).status_code == 200
    row = ApiKey.objects.get(key_id=key.split("_")[1])
    assert row.scopes == ["tokens:read"]
    assert key.split("_", 2)[2] not in str(row.__dict__)


def test_unknown_scopes_are_refused() -> None:
    OperatorFactory(slug="acme")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown scope"):
        call_command("create_api_key", "--tenant", "acme", "--scopes", "tokens:delete")
