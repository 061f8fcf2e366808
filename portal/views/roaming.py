"""Roaming (issue 19, area "connections"): the tenant's OCPI connections. List, connect to a
partner (its versions URL and token A), invite one (token A shown once), a connection's
detail (roles with hub status, endpoints, recent exchanges, pushes by status) and its
actions: rotate the credentials, suspend / resume, close. Every change goes through
apps.roaming.api, audited with the user."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import NotFound, ValidationFailed
from apps.parties.contracts import Capability
from apps.roaming import api as roaming_api
from portal.access import portal_view
from portal.forms.roaming import ConnectForm, InviteForm
from portal.views.common import actor, not_found, notify, page, problem_messages

ACTIONS = {
    "rotate": (roaming_api.connection_update, "Credentials rotated: new tokens both ways."),
    "suspend": (roaming_api.connection_suspend, "Suspended: pushes are held."),
    "resume": (roaming_api.connection_resume, "Resumed: held pushes are on their way."),
    "close": (roaming_api.connection_close, "Closed: its tokens are no longer accepted."),
}


def _render_list(
    request: HttpRequest,
    *,
    connect: ConnectForm | None = None,
    invite: InviteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    return page(
        request,
        "portal/roaming/list.html",
        {
            "connections": roaming_api.connection_list(tenant_id=portal.tenant_id),
            "connect_form": connect or ConnectForm(),
            "invite_form": invite or InviteForm(),
            "may_edit": portal.may(Capability.ROAMING_EDIT),
            "versions_url": roaming_api.our_versions_url(),
        },
        section="roaming",
        status=status,
    )


@portal_view(Capability.VIEW)
def connection_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@portal_view(Capability.ROAMING_EDIT, methods=("POST",))
def connection_connect(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = ConnectForm(request.POST)
    if not form.is_valid():
        return _render_list(request, connect=form, status=400)
    data = form.cleaned_data
    try:
        ref = roaming_api.connection_register(
            tenant_id=portal.tenant_id,
            name=data["name"],
            versions_url=data["versions_url"],
            token_a=data["token_a"],
            actor=actor(request),
            auth_base64=bool(data["auth_base64"]),
        )
    except roaming_api.ConnectionFailed as exc:
        notify(request, f"Not registered (the connection stays pending): {exc}")
        return redirect("portal:roaming_connection", portal.tenant.slug, exc.connection_id)
    except ValidationFailed as exc:
        for message in problem_messages(exc):
            form.add_error(None, message)
        return _render_list(request, connect=form, status=400)
    notify(request, f"Registered with {ref.name} on OCPI {ref.version}.")
    return redirect("portal:roaming_connection", portal.tenant.slug, ref.id)


@portal_view(Capability.ROAMING_EDIT, methods=("POST",))
def connection_invite(request: HttpRequest) -> HttpResponse:
    """Token A is shown on this answer only (we keep its digest)."""
    portal = request.portal  # type: ignore[attr-defined]
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _render_list(request, invite=form, status=400)
    ref, token_a = roaming_api.connection_invite(
        tenant_id=portal.tenant_id, name=form.cleaned_data["name"], actor=actor(request)
    )
    return page(
        request,
        "portal/roaming/invited.html",
        {"connection": ref, "token_a": token_a, "versions_url": roaming_api.our_versions_url()},
        section="roaming",
    )


@portal_view(Capability.VIEW)
def connection_detail(request: HttpRequest, connection_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    detail = roaming_api.connection_detail(tenant_id=portal.tenant_id, connection_id=connection_id)
    if detail is None:
        return not_found(request, f"roaming connection {connection_id}", section="roaming")
    c = detail.connection
    return page(
        request,
        "portal/roaming/detail.html",
        {
            "c": c,
            "endpoints": detail.endpoints,
            "exchanges": detail.exchanges,
            "pushes": sorted(detail.pushes.items()),
            "may_edit": portal.may(Capability.ROAMING_EDIT),
            "can_rotate": c.status.value in ("REGISTERED", "SUSPENDED")
            or (c.status.value == "PENDING" and c.initiator.value == "US"),
        },
        section="roaming",
    )


@portal_view(Capability.ROAMING_EDIT, methods=("POST",))
def connection_action(request: HttpRequest, connection_id: int, action: str) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    if action not in ACTIONS:
        return not_found(request, f"action {action}", section="roaming")
    run, done = ACTIONS[action]
    try:
        run(connection_id=connection_id, actor=actor(request), tenant_id=portal.tenant_id)
    except NotFound:
        return not_found(request, f"roaming connection {connection_id}", section="roaming")
    except roaming_api.ConnectionFailed as exc:
        notify(request, f"Failed: {exc}")
    except ValidationFailed as exc:
        notify(request, " ".join(problem_messages(exc)))
    else:
        notify(request, done)
    return redirect("portal:roaming_connection", portal.tenant.slug, connection_id)
