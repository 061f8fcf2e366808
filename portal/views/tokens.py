"""Tokens and customers: search, detail, block / unblock, a customer's tokens and sessions."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.charging import api as charging
from apps.common.errors import DomainError, NotFound
from apps.customers import api as customers
from apps.parties import api as parties
from apps.parties.contracts import Capability
from apps.tokens import api as tokens
from portal.access import portal_view
from portal.forms.actions import TokenValidForm, problems_in_words
from portal.views.common import (
    actor,
    id_page,
    not_found,
    notify,
    page,
    problem_messages,
    q,
)


@portal_view()
def token_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    valid = {"valid": True, "blocked": False}.get(q(request, "state"))
    pager = id_page(
        request,
        partial(
            tokens.token_search,
            tenant_id=portal.tenant_id,
            search=q(request, "q") or None,
            valid=valid,
        ),
    )
    return page(
        request,
        "portal/tokens/list.html",
        {
            "rows": pager.rows,
            "pager": pager,
            "search": q(request, "q"),
            "state": q(request, "state"),
        },
        section="tokens",
    )


@portal_view()
def token_detail(request: HttpRequest, token_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        token = tokens.token_get(tenant_id=portal.tenant_id, token_id=token_id)
    except NotFound:
        return not_found(request, f"token {token_id}", section="tokens")
    contracts = customers.contract_list(
        tenant_id=portal.tenant_id, after_id=None, limit=20, token_id=token_id
    )
    sessions = charging.session_rows(tenant_id=portal.tenant_id, limit=20, token_ids=[token_id])
    return page(
        request,
        "portal/tokens/detail.html",
        {
            "k": token,
            "contracts": contracts,
            "sessions": sessions,
            "may_edit": portal.may(Capability.TOKENS_EDIT),
            "history": parties.audit_list(
                tenant_id=portal.tenant_id,
                before_id=None,
                limit=10,
                object_type="token",
                object_id=str(token_id),
            ),
        },
        section="tokens",
    )


@portal_view(Capability.TOKENS_EDIT)
def token_block(request: HttpRequest, token_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = TokenValidForm(request.POST)
    if not form.is_valid():
        notify(request, "Nothing changed: " + problems_in_words(form))
        return redirect("portal:token", portal.tenant.slug, token_id)
    valid = form.cleaned_data["valid"]
    try:
        with transaction.atomic():
            before = tokens.token_get(tenant_id=portal.tenant_id, token_id=token_id)
            tokens.token_set_valid(
                tenant_id=portal.tenant_id, token_id=token_id, valid=valid, actor=actor(request)
            )
        notify(
            request,
            f"Token {before.uid} {'unblocked' if valid else 'blocked'}: stations "
            f"{'accept' if valid else 'refuse'} it from the next authorisation on.",
        )
    except DomainError as exc:
        notify(request, "; ".join(problem_messages(exc)))
    return redirect("portal:token", portal.tenant.slug, token_id)


@portal_view()
def customer_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    pager = id_page(
        request,
        partial(
            customers.customer_search, tenant_id=portal.tenant_id, search=q(request, "q") or None
        ),
    )
    return page(
        request,
        "portal/tokens/customers.html",
        {"rows": pager.rows, "pager": pager, "search": q(request, "q")},
        section="customers",
    )


@portal_view()
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        c = customers.customer_get(tenant_id=portal.tenant_id, customer_id=customer_id)
    except NotFound:
        return not_found(request, f"customer {customer_id}", section="customers")
    contracts = customers.contract_list(
        tenant_id=portal.tenant_id, after_id=None, limit=100, customer_id=customer_id
    )
    token_ids = [k.token_id for k in contracts]
    token_rows = tokens.token_search(tenant_id=portal.tenant_id, limit=100, ids=token_ids)
    sessions = charging.session_rows(tenant_id=portal.tenant_id, limit=30, token_ids=token_ids)
    return page(
        request,
        "portal/tokens/customer.html",
        {"c": c, "contracts": contracts, "tokens": token_rows, "sessions": sessions},
        section="customers",
    )


@portal_view(Capability.AUDIT_VIEW, methods=("GET",))
def audit_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    pager = id_page(
        request,
        partial(
            parties.audit_list, tenant_id=portal.tenant_id, object_type=q(request, "type") or None
        ),
        newest_first=True,
    )
    return page(
        request,
        "portal/audit.html",
        {"rows": pager.rows, "pager": pager, "type": q(request, "type")},
        section="audit",
    )
