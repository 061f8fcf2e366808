"""Sign-in with password and TOTP, first-time enrolment, recovery codes, lockout, expiry."""

from __future__ import annotations

import re
import time
from base64 import b32decode

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.parties.models import SignInLock
from tests.conftest import TotpClock
from tests.portal.world import PASSWORD

SIGN_IN = "/portal/sign-in/"


def _password(client: Client, email: str, password: str = PASSWORD):
    return client.post(SIGN_IN, {"email": email, "password": password})


# Codes come from `totp_clock` (tests/conftest.py), django-otp's clock held still: no code
# depends on the wall clock, so a slow run cannot cross a time step between making a code and
# checking it.


def _next_code(clock: TotpClock, secret: str) -> str:
    """The code of the step after the current one (the current one is spent by enrolment)."""
    clock.next_step()
    return clock.code(secret)


def _enrol(client: Client, email: str, clock: TotpClock) -> tuple[str, list[str]]:
    r = _password(client, email)
    assert r.status_code == 302 and r["Location"] == reverse("portal:mfa_enrol")
    page = client.get(r["Location"]).content.decode()
    assert "<svg" in page  # the QR code, drawn on the server
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    b32decode(secret)
    r = client.post(reverse("portal:mfa_enrol"), {"code": clock.code(secret)})
    assert r.status_code == 200
    codes = re.findall(r"<li>([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})</li>", r.content.decode())
    return secret, codes


def test_first_sign_in_enrols_totp_and_shows_recovery_codes(world, totp_clock: TotpClock) -> None:
    a, _ = world
    user = a.users["cpo_admin"]
    client = Client()
    # Before the second factor nothing of the portal opens.
    _password(client, user.email)
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 302
    secret, codes = _enrol(Client(), user.email, totp_clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    # Next sign-in: password, then the code.
    client = Client()
    r = _password(client, user.email)
    assert r["Location"] == reverse("portal:mfa")
    # The enrolment's code is spent (django-otp refuses a time step twice): the next one.
    r = client.post(reverse("portal:mfa"), {"code": _next_code(totp_clock, secret)})
    assert r.status_code == 302
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 200


def test_a_wrong_enrolment_code_does_not_enrol(world) -> None:
    a, _ = world
    client = Client()
    _password(client, a.users["finance"].email)
    client.get(reverse("portal:mfa_enrol"))
    r = client.post(reverse("portal:mfa_enrol"), {"code": "000000"})
    assert r.status_code == 400
    assert b"not the one your authenticator shows now" in r.content
    assert not TOTPDevice.objects.filter(user=a.users["finance"], confirmed=True).exists()
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 302


def test_a_recovery_code_signs_in_once(world, totp_clock: TotpClock) -> None:
    a, _ = world
    email = a.users["support"].email
    _, codes = _enrol(Client(), email, totp_clock)
    client = Client()
    _password(client, email)
    r = client.post(reverse("portal:mfa"), {"code": codes[0]})
    assert r.status_code == 302
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 200
    again = Client()
    _password(again, email)
    r = again.post(reverse("portal:mfa"), {"code": codes[0]})
    assert r.status_code == 400
    assert again.get(reverse("portal:dashboard", args=["alpha"])).status_code == 302


def test_wrong_password_says_what_to_do_and_locks_after_five(world, settings) -> None:
    a, _ = world
    email = a.users["finance"].email
    client = Client()
    for _ in range(4):
        r = _password(client, email, "wrong")
        assert r.status_code == 400
        assert b"not right" in r.content
    r = _password(client, email, "wrong")
    assert b"locked for 15 more minute" in r.content
    # Even the right password is refused while locked, and says why.
    r = _password(client, email)
    assert r.status_code == 400 and b"locked" in r.content
    assert not client.session.get("portal_pending_user")
    SignInLock.objects.all().delete()
    assert _password(client, email).status_code == 302


def test_wrong_codes_count_towards_the_lock(world, totp_clock: TotpClock) -> None:
    a, _ = world
    email = a.users["cpo_admin"].email
    secret, _ = _enrol(Client(), email, totp_clock)
    client = Client()
    _password(client, email)
    for _ in range(4):
        assert client.post(reverse("portal:mfa"), {"code": "123456"}).status_code == 400
    r = client.post(reverse("portal:mfa"), {"code": "123457"})
    assert b"locked" in r.content
    # The pending sign-in is gone: a right code now is no way in.
    r = client.post(reverse("portal:mfa"), {"code": _next_code(totp_clock, secret)})
    assert r.status_code == 302 and "sign-in" in r["Location"]
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 302


def test_an_idle_session_expires(world, settings) -> None:
    from tests.portal.world import signed_in_client

    a, _ = world
    client = signed_in_client(a.users["support"])
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 200
    session = client.session
    session["portal_seen_at"] = time.time() - settings.PORTAL_SESSION_IDLE_SECONDS - 1
    session.save()
    r = client.get(reverse("portal:dashboard", args=["alpha"]))
    assert r.status_code == 302 and "reason=idle" in r["Location"]
    # Signed out for good: the next request is not let in either.
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 302


def test_the_session_has_a_maximum_length(world, settings) -> None:
    from tests.portal.world import signed_in_client

    a, _ = world
    client = signed_in_client(a.users["support"])
    session = client.session
    session["portal_auth_at"] = time.time() - settings.PORTAL_SESSION_MAX_SECONDS - 1
    session.save()
    r = client.get(reverse("portal:dashboard", args=["alpha"]))
    assert "reason=expired" in r["Location"]


def test_next_is_kept_and_never_leaves_the_site(world, totp_clock: TotpClock) -> None:
    a, _ = world
    email = a.users["cpo_admin"].email
    secret, codes = _enrol(Client(), email, totp_clock)
    client = Client()
    client.post(SIGN_IN, {"email": email, "password": PASSWORD, "next": "https://evil.example/"})
    r = client.post(reverse("portal:mfa"), {"code": _next_code(totp_clock, secret)})
    assert r["Location"] == reverse("portal:home")
    client = Client()
    client.post(SIGN_IN, {"email": email, "password": PASSWORD, "next": "/portal/alpha/cdrs/"})
    r = client.post(reverse("portal:mfa"), {"code": codes[1]})
    assert r.status_code == 302 and r["Location"] == "/portal/alpha/cdrs/"


@pytest.mark.parametrize("path", ["/admin/", "/admin/parties/operator/"])
def test_the_admin_needs_the_second_factor_too(world, path) -> None:
    a, _ = world
    user = a.users["platform_admin"]
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)  # password only
    r = client.get(path)
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


def test_the_demo_login_enrols_on_first_sign_in_and_sees_the_four_tenants(
    db, totp_clock: TotpClock
) -> None:
    from demo.data import load

    load(password="demo-password-for-tests")
    client = Client()
    r = client.post(SIGN_IN, {"email": "admin@demo.local", "password": "demo-password-for-tests"})
    assert r["Location"] == reverse("portal:mfa_enrol")
    page = client.get(r["Location"]).content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    client.post(reverse("portal:mfa_enrol"), {"code": totp_clock.code(secret)})
    r = client.get(reverse("portal:home"))
    assert r.status_code == 302
    body = client.get(r["Location"]).content.decode()
    for name in ("GreenCharge NL", "Voltpark DE", "PlugPay", "DriveOn"):
        assert name in body
