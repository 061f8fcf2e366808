"""Sign-in with password and TOTP (django-otp), first-time enrolment, recovery codes,
lockout after failed attempts, sign-out.

Nothing is signed in until both factors pass: after the password the session holds only a
pending user id for a few minutes; `login()` (a new session key) happens after the code.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

import segno
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token

from apps.charging import api as charging
from apps.common.errors import ValidationFailed
from apps.locations import api as locations
from apps.parties import api as parties
from apps.parties.contracts import MembershipRef, SignInGate
from portal.access import SESSION_AUTH_AT, SESSION_SEEN_AT, signed_in, user_id
from portal.forms.auth import MISSING_CREDENTIALS, CodeForm, SignInForm
from portal.views.common import LAST_TENANT_COOKIE

PENDING_USER = "portal_pending_user"
PENDING_AT = "portal_pending_at"
PENDING_NEXT = "portal_pending_next"
PENDING_SECONDS = 300
REASONS = {
    "expired": "Your session reached its maximum length. Sign in again.",
    "idle": "You were signed out after a period without activity. Sign in again.",
    "signin": "",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _safe_next(request: HttpRequest, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse("portal:home")


def _client(request: HttpRequest) -> str:
    """The client address sign-in attempts are throttled by (the peer address of the web
    process; behind a proxy, the proxy's configuration must pass the client's on)."""
    return str(request.META.get("REMOTE_ADDR", ""))


def _wait_message(gate: SignInGate) -> str:
    """Why this attempt is refused without being checked: the lock, or a delay."""
    assert gate.wait_until is not None
    seconds = max(1, math.ceil((gate.wait_until - _now()).total_seconds()))
    if gate.locked:
        minutes = max(1, math.ceil(seconds / 60))
        return (
            f"Too many failed attempts: sign-in for this account from your network is locked "
            f"for {minutes} more minute(s). Wait, then try again; an administrator of your "
            "tenant can also unlock it."
        )
    return (
        f"Too many attempts in a row: wait {seconds} second(s) before you try again. Nothing "
        "was checked."
    )


def _failed_message(gate: SignInGate, wrong: str) -> str:
    """After a failed attempt: what was wrong, and the lock or the last-attempt warning."""
    if gate.locked:
        return _wait_message(gate)
    if gate.attempts_left == 1:
        minutes = max(1, math.ceil(int(settings.PORTAL_LOCKOUT_SECONDS) / 60))
        return (
            f"{wrong} Careful: one more failed attempt locks sign-in for this account from "
            f"your network for {minutes} minutes."
        )
    return wrong


def _pending_user(request: HttpRequest) -> Any:
    user_id = request.session.get(PENDING_USER)
    at = request.session.get(PENDING_AT, 0)
    if user_id is None or time.time() - at > PENDING_SECONDS:
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    error = ""
    email = ""
    info = REASONS.get(request.GET.get("reason", ""), "")
    next_url = request.GET.get("next") or ""
    if request.method == "POST":
        form = SignInForm(request.POST)
        valid = form.is_valid()
        email = str(form.cleaned_data.get("email") or "")
        password = str(form.cleaned_data.get("password") or "")
        next_url = str(form.cleaned_data.get("next") or "") or next_url
        gate = parties.sign_in_check(username=email, client=_client(request), now=_now())
        if not valid:
            error = " ".join(str(e) for e in form.non_field_errors()) or MISSING_CREDENTIALS
        elif gate.wait_until is not None:
            error = _wait_message(gate)
        else:
            found = get_user_model().objects.filter(email__iexact=email).first()
            user = authenticate(
                request, username=found.get_username() if found else email, password=password
            )
            if user is None:
                gate = parties.sign_in_failure_record(
                    username=email, client=_client(request), now=_now()
                )
                error = _failed_message(
                    gate,
                    "The e-mail address or the password is not right. Check both and try again.",
                )
            else:
                request.session.cycle_key()
                request.session[PENDING_USER] = user.pk
                request.session[PENDING_AT] = time.time()
                request.session[PENDING_NEXT] = _safe_next(request, next_url)
                if parties.mfa_state(user_id=user.pk).enrolled:
                    return redirect("portal:mfa")
                return redirect("portal:mfa_enrol")
    return render(
        request,
        "portal/auth/sign_in.html",
        {"error": error, "info": info, "email": email, "next": next_url},
        status=400 if error else 200,
    )


def _complete(request: HttpRequest, user: Any, device: Any) -> str:
    next_url = request.session.get(PENDING_NEXT) or reverse("portal:home")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    now = time.time()
    request.session[SESSION_AUTH_AT] = now
    request.session[SESSION_SEEN_AT] = now
    parties.sign_in_success_record(username=user.email, client=_client(request))
    return str(next_url)


@require_http_methods(["GET", "POST"])
def mfa(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect(reverse("portal:sign_in") + "?reason=expired")
    error = ""
    if request.method == "POST":
        form = CodeForm(request.POST)
        code = form.cleaned_data["code"] if form.is_valid() else ""
        gate = parties.sign_in_check(username=user.email, client=_client(request), now=_now())
        if gate.locked:
            request.session.flush()
            return render(
                request,
                "portal/auth/sign_in.html",
                {"error": _wait_message(gate), "email": user.email},
                status=400,
            )
        if gate.wait_until is not None:
            device = None
            error = _wait_message(gate)
        else:
            device = match_token(user, code) if code else None
            if device is None:
                gate = parties.sign_in_failure_record(
                    username=user.email, client=_client(request), now=_now()
                )
                if gate.locked:
                    request.session.flush()
                    return render(
                        request,
                        "portal/auth/sign_in.html",
                        {"error": _wait_message(gate), "email": user.email},
                        status=400,
                    )
                error = _failed_message(
                    gate,
                    "That code is not valid. Enter the 6-digit code your authenticator app "
                    "shows now, or one of your recovery codes.",
                )
        if device is not None:
            next_url = _complete(request, user, device)
            if device.__class__.__name__ == "StaticDevice":
                left = parties.mfa_state(user_id=user.pk).recovery_codes_left
                request.session["portal_notice"] = (
                    f"You signed in with a recovery code; {left} left. Make new ones on your "
                    "account page if you are running out."
                )
            return HttpResponseRedirect(next_url)
    return render(
        request,
        "portal/auth/mfa.html",
        {"error": error, "email": user.email},
        status=400 if error else 200,
    )


def _qr_svg(uri: str) -> str:
    # An SVG drawn here from the secret: the secret never leaves the server for a QR service.
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff"))


@require_http_methods(["GET", "POST"])
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in (or after an administrator reset the second factor): scan, confirm."""
    user = _pending_user(request)
    if user is None:
        return redirect(reverse("portal:sign_in") + "?reason=expired")
    if parties.mfa_state(user_id=user.pk).enrolled:
        return redirect("portal:mfa")
    error = ""
    gate = parties.sign_in_check(username=user.email, client=_client(request), now=_now())
    if request.method == "POST" and gate.wait_until is not None:
        error = _wait_message(gate)  # not checked, not counted
    elif request.method == "POST":
        form = CodeForm(request.POST)
        try:
            code = form.cleaned_data["code"] if form.is_valid() else ""
            codes = parties.mfa_totp_confirm(user_id=user.pk, token=code)
        except ValidationFailed as exc:
            error = exc.message
            parties.sign_in_failure_record(username=user.email, client=_client(request), now=_now())
        else:
            from django_otp.plugins.otp_totp.models import TOTPDevice

            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            next_url = _complete(request, user, device)
            return render(
                request, "portal/auth/recovery_codes.html", {"codes": codes, "next": next_url}
            )
    enrolment = parties.mfa_totp_pending(user_id=user.pk) or parties.mfa_totp_begin(user_id=user.pk)
    return render(
        request,
        "portal/auth/enrol.html",
        {
            "error": error,
            "email": user.email,
            "secret": enrolment.secret_base32,
            "qr_svg": _qr_svg(enrolment.otpauth_uri),
        },
        status=400 if error else 200,
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(reverse("portal:sign_in"))


@signed_in
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    codes: tuple[str, ...] = ()
    if request.method == "POST":
        codes = parties.mfa_recovery_codes_new(user_id=user_id(request))
    memberships = parties.memberships_of_user(user_id=user_id(request))
    return render(
        request,
        "portal/account.html",
        {
            "memberships": memberships,
            "mfa": parties.mfa_state(user_id=user_id(request)),
            "codes": codes,
        },
    )


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard of the tenant to start in (`landing_tenant`), or a page saying the user
    belongs to no tenant."""
    memberships = parties.memberships_of_user(user_id=user_id(request))
    if not memberships:
        return render(
            request,
            "errors/page.html",
            {
                "title": "No tenant yet",
                "message": "Your account belongs to no tenant. Ask a platform administrator to "
                "add you to one.",
            },
            status=403,
        )
    return redirect("portal:dashboard", tenant=landing_tenant(request, memberships))


def landing_tenant(request: HttpRequest, memberships: list[MembershipRef]) -> str:
    """The tenant this browser used last (while the user still belongs to it); else the
    tenant whose newest charging session is the most recent; else the first (by name) with
    a charge station; else the first by name."""
    last = request.COOKIES.get(LAST_TENANT_COOKIE)
    if any(m.slug == last for m in memberships):
        return str(last)
    started = charging.last_session_start_by_tenant(tenant_ids=[m.tenant_id for m in memberships])
    active = [m for m in memberships if m.tenant_id in started]
    if active:
        return max(active, key=lambda m: started[m.tenant_id]).slug
    at = _now()
    for m in memberships:
        if locations.station_rows(tenant_id=m.tenant_id, now=at, limit=1):
            return m.slug
    return memberships[0].slug
