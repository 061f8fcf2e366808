"""Who may see and do what in the portal: one decorator for every tenant page.

`portal_view(capability)` resolves the tenant from the URL (`/portal/<tenant>/...`), checks
that the user has signed in with both factors, that the session has not expired, that the
user is a member of that tenant, and that the member's role has the capability
(`apps.parties.contracts.ROLE_CAPABILITIES`). Read-only views (`Capability.VIEW`) answer GET
and HEAD only, so no read-only page can change anything; every change is a POST to a view
that names a write capability.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse

from apps.parties import api as parties
from apps.parties.contracts import Capability, MembershipRef, role_may

SESSION_AUTH_AT = "portal_auth_at"
SESSION_SEEN_AT = "portal_seen_at"
READ_METHODS = ("GET", "HEAD")


@dataclass(frozen=True, slots=True)
class Portal:
    """What every portal view knows about the request: the user, the tenant and the role."""

    user_id: int
    email: str
    tenant: MembershipRef
    memberships: tuple[MembershipRef, ...]

    @property
    def tenant_id(self) -> int:
        return self.tenant.tenant_id

    def may(self, capability: Capability | str) -> bool:
        return role_may(self.tenant.role, Capability(capability))


def _to_sign_in(request: HttpRequest, reason: str = "") -> HttpResponse:
    query = {"next": request.get_full_path()} if request.method == "GET" else {}
    if reason:
        query["reason"] = reason
    url = reverse("portal:sign_in") + ("?" + urlencode(query) if query else "")
    if getattr(request, "htmx", False):
        # htmx follows this header with a full page load instead of swapping a fragment.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def session_problem(request: HttpRequest) -> str:
    """'' when the request belongs to a live two-factor session, else why not."""
    user = request.user
    # django-otp's middleware gives every request's user `is_verified()`.
    is_verified = getattr(user, "is_verified", None)
    if not user.is_authenticated or is_verified is None or not is_verified():
        return "signin"
    now = time.time()
    auth_at = request.session.get(SESSION_AUTH_AT, 0)
    seen_at = request.session.get(SESSION_SEEN_AT, 0)
    if now - auth_at > settings.PORTAL_SESSION_MAX_SECONDS:
        return "expired"
    if now - seen_at > settings.PORTAL_SESSION_IDLE_SECONDS:
        return "idle"
    if now - seen_at > 60:  # refresh the idle clock at most once a minute (one write)
        request.session[SESSION_SEEN_AT] = now
    return ""


def user_id(request: HttpRequest) -> int:
    """The signed-in user's id, in a view behind `signed_in` or `portal_view` (which let no
    anonymous request through)."""
    pk = request.user.pk
    if pk is None:
        raise PermissionDenied
    return int(pk)


def signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For pages outside a tenant (the tenant chooser, the account page)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = session_problem(request)
        if problem:
            if problem != "signin":
                logout(request)
            return _to_sign_in(request, "" if problem == "signin" else problem)
        return view(request, *args, **kwargs)

    wrapper.portal_capability = Capability.VIEW  # type: ignore[attr-defined]
    return wrapper


def portal_view(
    capability: Capability = Capability.VIEW, *, methods: tuple[str, ...] | None = None
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Decorate a view `view(request, *args, **kwargs)` of the URL `/portal/<tenant>/...`.

    `methods`: by default GET/HEAD for VIEW, POST for a write capability; a write view may
    allow GET too (its form) with `methods=("GET", "POST")`: the form is then shown only to
    roles with the capability."""
    allowed = methods or (READ_METHODS if capability == Capability.VIEW else ("POST",))
    if capability == Capability.VIEW and any(m not in READ_METHODS for m in allowed):
        raise ValueError("a read-only view cannot accept a write method")

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(
            request: HttpRequest, tenant: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            problem = session_problem(request)
            if problem:
                if problem != "signin":
                    logout(request)
                return _to_sign_in(request, "" if problem == "signin" else problem)
            memberships = tuple(parties.memberships_of_user(user_id=user_id(request)))
            member = next((m for m in memberships if m.slug == tenant), None)
            if member is None:
                # The same answer for "no such tenant" and "not yours": nothing leaks.
                return render(
                    request,
                    "errors/page.html",
                    {"title": "Not found", "message": "There is no such page in your tenants."},
                    status=404,
                )
            if request.method not in (*allowed, "HEAD" if "GET" in allowed else ""):
                return HttpResponseNotAllowed(allowed)
            portal = Portal(
                user_id=user_id(request),
                email=getattr(request.user, "email", ""),
                tenant=member,
                memberships=memberships,
            )
            if not portal.may(capability):
                if getattr(request, "htmx", False):
                    return HttpResponseForbidden(
                        "Your role in this tenant does not allow this action."
                    )
                return render(
                    request,
                    "portal/error.html",
                    {
                        "portal": portal,
                        "title": "Not allowed",
                        "message": (
                            f"Your role in {member.name} ({member.role.value.replace('_', ' ')})"
                            " does not allow this. Ask a platform administrator of this tenant"
                            " if you need it."
                        ),
                    },
                    status=403,
                )
            request.portal = portal  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        wrapper.portal_capability = capability  # type: ignore[attr-defined]
        wrapper.portal_methods = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorate
