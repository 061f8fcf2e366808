"""Sign-in with password and TOTP, first-time enrolment, recovery codes, lockout, expiry."""

from __future__ import annotations

import re
import time
from base64 import b32decode
from datetime import UTC, datetime, timedelta

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


def test_a_missing_field_is_refused_without_counting_and_keeps_the_address(world) -> None:
    a, _ = world
    email = a.users["support"].email
    client = Client()
    for data in ({"email": email}, {"email": email, "password": ""}, {"password": PASSWORD}):
        r = client.post(SIGN_IN, data)
        assert r.status_code == 400
        assert b"Enter your e-mail address and your password." in r.content
    r = client.post(SIGN_IN, {"email": email})
    assert f'value="{email}"'.encode() in r.content
    assert not SignInLock.objects.exists()
    # Nothing was counted: the right password still goes straight on.
    assert _password(client, email).status_code == 302


def test_a_code_typed_with_spaces_is_read_without_them(world, totp_clock: TotpClock) -> None:
    a, _ = world
    email = a.users["support"].email
    secret, _ = _enrol(Client(), email, totp_clock)
    client = Client()
    _password(client, email)
    code = _next_code(totp_clock, secret)
    r = client.post(reverse("portal:mfa"), {"code": f" {code[:3]} {code[3:]} "})
    assert r.status_code == 302


class SignInClock:
    """The sign-in views' clock (`portal.views.auth._now`), moved by the test: delays and
    locks are checked without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SignInClock:
    from portal.views import auth as auth_views

    c = SignInClock()
    monkeypatch.setattr(auth_views, "_now", lambda: c.now)
    return c


ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"


def _lock_of(email: str, client: str) -> tuple[int, datetime | None]:
    row = SignInLock.objects.get(username=email.lower(), client=client)
    return row.failures, row.next_attempt_at


def test_wrong_passwords_grow_the_delay_warn_before_the_last_and_lock_only_that_address(
    world, clock: SignInClock
) -> None:
    a, _ = world
    email = a.users["finance"].email
    attacker = Client(REMOTE_ADDR=ATTACKER)
    t0 = clock.now
    r = _password(attacker, email, "wrong")
    assert r.status_code == 400
    assert b"not right" in r.content and b"one more failed attempt" not in r.content
    assert _lock_of(email, ATTACKER) == (1, t0 + timedelta(seconds=1))
    # Within the delay even the right password is not checked, and the try is not counted.
    r = _password(attacker, email)
    assert r.status_code == 400 and b"wait 1 second(s)" in r.content
    assert not attacker.session.get("portal_pending_user")
    assert _lock_of(email, ATTACKER) == (1, t0 + timedelta(seconds=1))
    # Each failure doubles the wait: 1 s, 2 s, 4 s, 8 s.
    expected_waits = {2: 2, 3: 4, 4: 8}
    for failures, wait in expected_waits.items():
        clock.advance(expected_waits.get(failures - 1, 1))
        r = _password(attacker, email, "wrong")
        assert _lock_of(email, ATTACKER) == (failures, clock.now + timedelta(seconds=wait))
        warned = b"one more failed attempt locks sign-in for this account" in r.content
        assert warned == (failures == 4), failures
    clock.advance(8)
    r = _password(attacker, email, "wrong")
    assert b"locked for 15 more minute(s)" in r.content
    assert _lock_of(email, ATTACKER) == (5, clock.now + timedelta(seconds=900))
    clock.advance(600)
    r = _password(attacker, email)
    assert r.status_code == 400 and b"locked for 5 more minute(s)" in r.content
    assert not attacker.session.get("portal_pending_user")
    # The owner, from another address, signs in as ever: nobody can lock the name for all.
    owner = Client(REMOTE_ADDR=OWNER)
    r = _password(owner, email)
    assert r.status_code == 302 and r["Location"] == reverse("portal:mfa_enrol")
    # When the lock has run out, the attacker's address starts afresh.
    clock.advance(301)
    r = _password(attacker, email, "wrong")
    assert b"not right" in r.content and b"locked" not in r.content
    assert _lock_of(email, ATTACKER) == (1, clock.now + timedelta(seconds=1))


def test_failures_are_forgotten_after_the_window_and_after_a_success(
    world, clock: SignInClock, totp_clock: TotpClock
) -> None:
    a, _ = world
    email = a.users["finance"].email
    client = Client(REMOTE_ADDR=OWNER)
    for _ in range(3):
        _password(client, email, "wrong")
        clock.advance(10)
    assert _lock_of(email, OWNER)[0] == 3
    clock.advance(900)  # more than PORTAL_LOCKOUT_SECONDS after the last failure
    _password(client, email, "wrong")
    assert _lock_of(email, OWNER)[0] == 1
    clock.advance(1)
    Client(REMOTE_ADDR=ATTACKER).post(SIGN_IN, {"email": email, "password": "wrong"})
    _enrol(client, email, totp_clock)  # signed in: both factors
    assert not SignInLock.objects.filter(username=email.lower(), client=OWNER).exists()
    assert SignInLock.objects.filter(username=email.lower(), client=ATTACKER).exists()


def test_an_ipv6_client_is_throttled_by_its_64_network() -> None:
    from apps.parties import api as parties

    key = parties.sign_in_client_key
    assert key("2001:db8:1:2:aaaa::1") == key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert key("::ffff:198.51.100.7") == key("198.51.100.7") == "198.51.100.7"


def test_wrong_codes_count_towards_the_lock(
    world, totp_clock: TotpClock, clock: SignInClock
) -> None:
    a, _ = world
    email = a.users["cpo_admin"].email
    secret, _ = _enrol(Client(), email, totp_clock)
    client = Client(REMOTE_ADDR=ATTACKER)
    _password(client, email)
    for failures in range(1, 5):
        r = client.post(reverse("portal:mfa"), {"code": "123456"})
        assert r.status_code == 400 and b"not valid" in r.content
        assert (b"one more failed attempt" in r.content) == (failures == 4)
        clock.advance(2 ** (failures - 1))
    r = client.post(reverse("portal:mfa"), {"code": "123457"})
    assert b"locked" in r.content
    # The pending sign-in is gone: a right code now is no way in.
    r = client.post(reverse("portal:mfa"), {"code": _next_code(totp_clock, secret)})
    assert r.status_code == 302 and "sign-in" in r["Location"]
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 302


def test_a_code_within_the_delay_is_not_checked(
    world, totp_clock: TotpClock, clock: SignInClock, settings
) -> None:
    # django-otp's own per-device throttle (on the wall clock) would refuse the right code a
    # second after a wrong one too; here only the portal's delay (on `clock`) is under test.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    a, _ = world
    email = a.users["cpo_admin"].email
    secret, _ = _enrol(Client(), email, totp_clock)
    client = Client(REMOTE_ADDR=OWNER)
    _password(client, email)
    assert client.post(reverse("portal:mfa"), {"code": "000000"}).status_code == 400
    r = client.post(reverse("portal:mfa"), {"code": _next_code(totp_clock, secret)})
    assert r.status_code == 400 and b"wait 1 second(s)" in r.content
    clock.advance(1)
    r = client.post(reverse("portal:mfa"), {"code": totp_clock.code(secret)})
    assert r.status_code == 302
    assert client.get(reverse("portal:dashboard", args=["alpha"])).status_code == 200


def test_an_enrolment_code_within_the_delay_is_not_checked(
    world, totp_clock: TotpClock, clock: SignInClock, settings
) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own (wall-clock) throttle: off here
    a, _ = world
    email = a.users["finance"].email
    client = Client(REMOTE_ADDR=OWNER)
    _password(client, email)
    page = client.get(reverse("portal:mfa_enrol")).content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    r = client.post(reverse("portal:mfa_enrol"), {"code": "000000"})
    assert r.status_code == 400
    assert _lock_of(email, OWNER) == (1, clock.now + timedelta(seconds=1))
    r = client.post(reverse("portal:mfa_enrol"), {"code": totp_clock.code(secret)})
    assert r.status_code == 400 and b"wait 1 second(s)" in r.content
    assert not TOTPDevice.objects.filter(user=a.users["finance"], confirmed=True).exists()
    assert _lock_of(email, OWNER)[0] == 1  # not counted
    clock.advance(1)
    r = client.post(reverse("portal:mfa_enrol"), {"code": totp_clock.code(secret)})
    assert r.status_code == 200 and b"recovery" in r.content.lower()
    assert TOTPDevice.objects.filter(user=a.users["finance"], confirmed=True).exists()


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
