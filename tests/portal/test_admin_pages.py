"""Administrators' pages: API keys (create with scopes, shown once, revoke, last used) and
sign-in locks (see, unlock); both audited with the actor, both tenant-scoped. The command
line counterparts: `create_api_key` with an unknown tenant, `unlock_sign_in`."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.integrations.models import ApiKey
from apps.parties import api as parties_api
from apps.parties.models import AuditEntry, SignInLock
from tests.portal.world import signed_in_client

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = re.compile(r"ek_[0-9a-f]{12}_[A-Za-z0-9_\-]{20,}")


def _keys_url(tenant) -> str:
    return reverse("portal:api_keys", args=[tenant.operator.slug])


# --- API keys ----------------------------------------------------------------------------------


def test_an_admin_creates_a_key_that_is_shown_once_and_works(world) -> None:
    a, _ = world
    admin = a.users["cpo_admin"]
    client = signed_in_client(admin)
    r = client.post(
        _keys_url(a),
        {
            "name": "CRM sync",
            "scopes": ["tokens:read", "tokens:write"],
            "rate_limit_per_minute": "",
        },
    )
    assert r.status_code == 201
    assert r["Cache-Control"] == "no-store"
    (key,) = KEY.findall(r.content.decode())
    row = ApiKey.objects.get(tenant=a.operator, name="CRM sync")
    assert key.startswith(f"ek_{row.key_id}_")
    assert key.split("_", 2)[2] not in row.secret_hash  # only the hash is stored
    assert (row.scopes, row.rate_limit_per_minute, row.revoked_at) == (
        ["tokens:read", "tokens:write"],
        None,
        None,
    )
    # Never shown again.
    page = client.get(_keys_url(a)).content.decode()
    assert KEY.findall(page) == [] and f"ek_{row.key_id}_…" in page
    principal = integrations_api.api_key_authenticate(presented=key, now=T0)
    assert principal is not None and principal.tenant_id == a.operator.pk
    assert principal.scopes == frozenset({"tokens:read", "tokens:write"})
    (entry,) = AuditEntry.objects.filter(action="api_key.create")
    assert (entry.tenant_id, entry.actor_id, entry.object_type, entry.object_id) == (
        a.operator.pk,
        admin.pk,
        "api_key",
        str(row.pk),
    )
    assert entry.after == {
        "key_id": row.key_id,
        "name": "CRM sync",
        "scopes": ["tokens:read", "tokens:write"],
        "revoked_at": None,
    }
    assert key.split("_", 2)[2] not in str(entry.before) + str(entry.after)


def test_last_used_is_shown_and_a_revoked_key_stops_working(world) -> None:
    a, _ = world
    admin = a.users["emsp_admin"]
    ref, key = integrations_api.api_key_create(
        tenant_id=a.operator.pk,
        name="Billing export",
        scopes=["cdrs:read"],
        actor=Actor.system("tests"),
    )
    assert integrations_api.api_key_authenticate(presented=key, now=T0) is not None
    client = signed_in_client(admin)
    page = client.get(_keys_url(a)).content.decode()
    row = page[page.index(f'data-testid="key-{ref.key_id}"') :].split("</tr>")[0]
    assert "2026-03-02 09:00" in row and "cdrs:read" in row and "active" in row
    r = client.post(reverse("portal:api_key_revoke", args=[a.operator.slug, ref.id]))
    assert r.status_code == 302
    assert ApiKey.objects.get(pk=ref.id).revoked_at is not None
    integrations_api.api_key_forget(key_id=ref.key_id)
    assert integrations_api.api_key_authenticate(presented=key, now=T0) is None
    (entry,) = AuditEntry.objects.filter(action="api_key.revoke")
    assert (entry.actor_id, entry.object_id) == (admin.pk, str(ref.id))
    assert entry.before["revoked_at"] is None and entry.after["revoked_at"] is not None
    page = client.get(_keys_url(a)).content.decode()
    assert "API key revoked" in page and "revoked 20" in page
    # Revoking again changes and audits nothing.
    client.post(reverse("portal:api_key_revoke", args=[a.operator.slug, ref.id]))
    assert AuditEntry.objects.filter(action="api_key.revoke").count() == 1


def test_bad_input_is_explained_and_nothing_is_stored(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(_keys_url(a), {"name": "", "scopes": ["tokens:delete"]})
    assert r.status_code == 400
    body = r.content.decode()
    assert "This field is required." in body
    assert "Select a valid choice. tokens:delete is not one of the available choices." in body
    assert KEY.findall(body) == []
    assert not ApiKey.objects.filter(tenant=a.operator).exists()
    assert not AuditEntry.objects.exists()


def test_another_tenants_key_is_never_shown_nor_revocable(world) -> None:
    a, b = world
    theirs, _ = integrations_api.api_key_create(
        tenant_id=b.operator.pk,
        name="Beta secret integration",
        scopes=["*:read"],
        actor=Actor.system("tests"),
    )
    client = signed_in_client(a.users["platform_admin"])
    page = client.get(_keys_url(a)).content.decode()
    assert theirs.key_id not in page and "Beta secret integration" not in page
    r = client.post(reverse("portal:api_key_revoke", args=[a.operator.slug, theirs.id]))
    assert r.status_code == 302
    assert ApiKey.objects.get(pk=theirs.id).revoked_at is None
    assert (
        f"There is no API key {theirs.id} in this tenant"
        in client.get(_keys_url(a)).content.decode()
    )
    assert not AuditEntry.objects.filter(action="api_key.revoke").exists()


@pytest.mark.parametrize("role", ["finance", "support"])
def test_roles_without_the_capability_neither_see_nor_make_keys(world, role) -> None:
    a, _ = world
    integrations_api.api_key_create(
        tenant_id=a.operator.pk, name="Existing", scopes=["*:read"], actor=Actor.system("tests")
    )
    ref = ApiKey.objects.get(name="Existing")
    client = signed_in_client(a.users[role])
    r = client.get(_keys_url(a))
    assert r.status_code == 403 and ref.key_id not in r.content.decode()
    assert client.post(_keys_url(a), {"name": "x", "scopes": ["*:read"]}).status_code == 403
    r = client.post(reverse("portal:api_key_revoke", args=[a.operator.slug, ref.pk]))
    assert r.status_code == 403
    assert ApiKey.objects.filter(tenant=a.operator).count() == 1
    assert ApiKey.objects.get(pk=ref.pk).revoked_at is None
    dashboard = client.get(reverse("portal:dashboard", args=[a.operator.slug])).content.decode()
    assert "API keys" not in dashboard and "Sign-in locks" not in dashboard


def test_create_api_key_with_an_unknown_tenant_lists_the_slugs(world) -> None:
    with pytest.raises(CommandError) as raised:
        call_command("create_api_key", "--tenant", "gamma", "--scopes", "tokens:read")
    assert str(raised.value) == "no tenant with slug 'gamma'; the tenants are: alpha, beta"
    assert not ApiKey.objects.exists()


# --- sign-in locks -----------------------------------------------------------------------------


def _fail(email: str, client: str, times: int, start: datetime = T0) -> None:
    at = start
    for _ in range(times):
        parties_api.sign_in_failure_record(username=email, client=client, now=at)
        at += timedelta(seconds=60)


def test_an_admin_sees_and_unlocks_a_locked_member_audited_with_the_actor(
    world, monkeypatch
) -> None:
    a, _ = world
    email = a.users["finance"].email
    _fail(email, "203.0.113.66", 5)
    _fail(email, "198.51.100.7", 1)
    admin = a.users["cpo_admin"]
    client = signed_in_client(admin)
    monkeypatch.setattr("portal.views.sign_in_locks.now", lambda: T0 + timedelta(minutes=5))
    page = client.get(reverse("portal:sign_in_locks", args=["alpha"])).content.decode()
    assert page.count(email) >= 2
    assert "203.0.113.66" in page and "locked until 09:19:00" in page
    assert "198.51.100.7" in page
    r = client.post(reverse("portal:sign_in_unlock", args=["alpha"]), {"username": email})
    assert r.status_code == 302
    assert not SignInLock.objects.filter(username=email).exists()
    (entry,) = AuditEntry.objects.filter(action="sign_in.unlock")
    assert (entry.tenant_id, entry.actor_id, entry.object_type, entry.object_id) == (
        a.operator.pk,
        admin.pk,
        "user",
        str(a.users["finance"].pk),
    )
    assert [t["client"] for t in entry.before["throttles"]] == ["198.51.100.7", "203.0.113.66"]
    assert entry.after == {"username": email, "throttles": []}
    page = client.get(reverse("portal:sign_in_locks", args=["alpha"])).content.decode()
    assert "Sign-in for finance@alpha.test unlocked (2 address(es) cleared)" in page


def test_another_tenants_member_is_neither_shown_nor_unlocked(world, monkeypatch) -> None:
    a, b = world
    monkeypatch.setattr("portal.views.sign_in_locks.now", lambda: T0 + timedelta(minutes=5))
    outsider = b.users["finance"].email
    _fail(outsider, "203.0.113.66", 5)
    client = signed_in_client(a.users["platform_admin"])
    page = client.get(reverse("portal:sign_in_locks", args=["alpha"])).content.decode()
    assert outsider not in page
    client.post(reverse("portal:sign_in_unlock", args=["alpha"]), {"username": outsider})
    assert SignInLock.objects.get(username=outsider).failures == 5
    assert not AuditEntry.objects.exists()
    page = client.get(reverse("portal:sign_in_locks", args=["alpha"])).content.decode()
    assert f"{outsider} is no member of this tenant: nothing changed." in page


def test_unlock_sign_in_on_the_command_line_is_audited_in_every_tenant_of_the_user(
    world,
) -> None:
    from tests.factories import MembershipFactory

    a, b = world
    user = a.users["support"]
    MembershipFactory(user=user, tenant=b.operator, role="finance")
    _fail(user.email, "203.0.113.66", 5)
    out = io.StringIO()
    call_command(
        "unlock_sign_in", user.email, "--actor", a.users["platform_admin"].email, stdout=out
    )
    assert out.getvalue().strip() == (
        f"{user.email}: 1 locked or delayed address(es) cleared; audited in 2 tenant(s)."
    )
    assert not SignInLock.objects.exists()
    entries = AuditEntry.objects.filter(action="sign_in.unlock").order_by("tenant_id")
    assert [(e.tenant_id, e.actor_id) for e in entries] == [
        (a.operator.pk, a.users["platform_admin"].pk),
        (b.operator.pk, a.users["platform_admin"].pk),
    ]
    assert entries[0].actor_name.startswith("manage.py unlock_sign_in (system user ")
    with pytest.raises(CommandError, match="no such user"):
        call_command("unlock_sign_in", user.email, "--actor", "nobody@example.test")
