"""Sign-in delays and locks of the tenant's members, and the administrator's unlock."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import NotFound
from apps.parties import api as parties
from apps.parties.contracts import Capability
from portal.access import portal_view
from portal.forms.actions import SignInUnlockForm, problems_in_words
from portal.views.common import actor, notify, now, page


@portal_view(Capability.SIGN_IN_UNLOCK, methods=("GET",))
def sign_in_lock_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    rows = parties.sign_in_throttles(tenant_id=portal.tenant_id, now=now())
    return page(request, "portal/admin/sign_in_locks.html", {"rows": rows}, section="sign_in_locks")


@portal_view(Capability.SIGN_IN_UNLOCK)
def sign_in_unlock(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = SignInUnlockForm(request.POST)
    if not form.is_valid():
        notify(request, "Nothing unlocked: " + problems_in_words(form))
        return redirect("portal:sign_in_locks", portal.tenant.slug)
    username = form.cleaned_data["username"]
    try:
        cleared, _ = parties.sign_in_unlock(
            username=username, actor=actor(request), tenant_id=portal.tenant_id
        )
    except NotFound:
        notify(request, f"{username or 'That user'} is no member of this tenant: nothing changed.")
    else:
        notify(
            request,
            f"Sign-in for {username} unlocked ({cleared} address(es) cleared). "
            "They can sign in again now.",
        )
    return redirect("portal:sign_in_locks", portal.tenant.slug)
