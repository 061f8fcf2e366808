"""The tenant's API keys: create with scopes (the key shown once), revoke, last used."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import NotFound, ValidationFailed
from apps.integrations import api as integrations
from apps.integrations.contracts import SCOPE_ACTIONS, SCOPE_RESOURCES
from apps.parties.contracts import Capability
from portal.access import portal_view
from portal.views.common import actor, notify, now, page, problem_messages

SCOPE_CHOICES = [
    *[(f"*:{a}", f"everything: {a}") for a in SCOPE_ACTIONS],
    *[(f"{r}:{a}", f"{r}: {a}") for r in SCOPE_RESOURCES for a in SCOPE_ACTIONS],
]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name (what it is for)")
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple, label="Scopes"
    )
    rate_limit_per_minute = forms.IntegerField(
        required=False, min_value=1, label="Requests per minute (empty: the platform default)"
    )


def _render(
    request: HttpRequest, form: ApiKeyForm, *, new_key: str = "", status: int = 200
) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    keys = integrations.api_key_list(tenant_id=portal.tenant_id)
    return page(
        request,
        "portal/admin/api_keys.html",
        {"keys": keys, "form": form, "new_key": new_key},
        section="api_keys",
        status=status,
    )


@portal_view(Capability.API_KEYS_MANAGE, methods=("GET", "POST"))
def api_key_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    if request.method != "POST":
        return _render(request, ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=400)
    try:
        _, key = integrations.api_key_create(
            tenant_id=portal.tenant_id,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
            actor=actor(request),
        )
    except ValidationFailed as exc:
        for message in problem_messages(exc):
            form.add_error(None, message)
        return _render(request, form, status=400)
    # Shown in this response only: it is not stored, not put in the session, not logged.
    response = _render(request, ApiKeyForm(), new_key=key, status=201)
    response["Cache-Control"] = "no-store"
    return response


@portal_view(Capability.API_KEYS_MANAGE)
def api_key_revoke(request: HttpRequest, api_key_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        integrations.api_key_revoke(
            tenant_id=portal.tenant_id, api_key_id=api_key_id, now=now(), actor=actor(request)
        )
    except NotFound:
        notify(request, f"There is no API key {api_key_id} in this tenant: nothing changed.")
    else:
        notify(request, "API key revoked: requests with it are refused from now on.")
    return redirect("portal:api_keys", portal.tenant.slug)
