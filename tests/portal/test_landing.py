"""Where a sign-in lands: the tenant this browser used last, else the tenant with the most
recent charging session, else the first by name (never an empty tenant ahead of a busy one)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.test import Client
from django.urls import reverse

from apps.charging.models import ChargingSession
from portal.views.common import LAST_TENANT_COOKIE
from tests.factories import (
    ChargeStationFactory,
    MembershipFactory,
    OperatorFactory,
    UserFactory,
)
from tests.portal.world import signed_in_client


def _user_of(*tenants) -> object:  # type: ignore[no-untyped-def]
    user = UserFactory(username="multi@example.test", email="multi@example.test")
    for tenant in tenants:
        MembershipFactory(user=user, tenant=tenant, role="platform_admin")
    return user


def _later(session, *, minutes: int) -> None:  # type: ignore[no-untyped-def]
    shift = timedelta(minutes=minutes)
    ChargingSession.objects.filter(pk=session.pk).update(
        started_at=F("started_at") + shift, ended_at=F("ended_at") + shift
    )


def _landing(client: Client) -> str:
    r = client.get(reverse("portal:home"))
    assert r.status_code == 302
    return r["Location"]


def test_first_sign_in_lands_on_the_tenant_with_the_newest_session(world) -> None:
    a, b = world
    # "An eMSP" sorts first by name and has no sessions at all.
    empty = OperatorFactory(slug="an-emsp", name="An eMSP")
    user = _user_of(empty, a.operator, b.operator)
    _later(b.session, minutes=5)
    assert _landing(signed_in_client(user)) == "/portal/beta/"
    _later(a.session, minutes=10)
    assert _landing(signed_in_client(user)) == "/portal/alpha/"


def test_no_session_anywhere_lands_on_the_first_tenant_with_a_station(db) -> None:
    empty = OperatorFactory(slug="an-emsp", name="An eMSP")
    cpo = OperatorFactory(slug="cpo", name="CPO with stations")
    ChargeStationFactory(location__party__tenant=cpo)
    user = _user_of(empty, cpo, OperatorFactory(slug="zz", name="Zulu"))
    assert _landing(signed_in_client(user)) == "/portal/cpo/"


def test_no_activity_anywhere_lands_on_the_first_tenant_by_name(db) -> None:
    user = _user_of(
        OperatorFactory(slug="zulu", name="Zulu"), OperatorFactory(slug="x", name="Xray")
    )
    assert _landing(signed_in_client(user)) == "/portal/x/"


def test_the_next_sign_in_lands_on_the_tenant_used_last(world) -> None:
    a, b = world
    user = _user_of(a.operator, b.operator)
    _later(a.session, minutes=5)  # alpha has the newest session
    browser = signed_in_client(user)
    r = browser.get(reverse("portal:sessions", args=["beta"]))
    cookie = r.cookies[LAST_TENANT_COOKIE]
    assert (cookie.value, cookie["httponly"], cookie["samesite"]) == ("beta", True, "Lax")
    # The same page again sets nothing new.
    assert LAST_TENANT_COOKIE not in browser.get(reverse("portal:sessions", args=["beta"])).cookies
    browser.post(reverse("portal:sign_out"))
    # A new sign-in in the same browser (the cookie stays; the session is new).
    again = signed_in_client(user, Client())
    again.cookies[LAST_TENANT_COOKIE] = browser.cookies[LAST_TENANT_COOKIE].value
    assert _landing(again) == "/portal/beta/"


def test_a_last_tenant_the_user_no_longer_belongs_to_is_ignored(world) -> None:
    a, b = world
    user = _user_of(a.operator)
    client = signed_in_client(user)
    client.cookies[LAST_TENANT_COOKIE] = "beta"
    assert _landing(client) == "/portal/alpha/"
    client.cookies[LAST_TENANT_COOKIE] = "no-such-tenant"
    assert _landing(client) == "/portal/alpha/"
