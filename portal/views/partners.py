"""Partners (ADR 0027): the counterparties a tenant deals with (list, create, edit) and the
platform marketplace setting (platform admins only)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from apps.parties import api as parties_api
from apps.parties.contracts import Capability, PartnerInput, TenantRole
from portal.access import portal_view
from portal.forms.partners import MarketplaceForm, PartnerEditForm, PartnerForm
from portal.views.common import actor, not_found, notify, page, problem_messages


def _render_list(
    request: HttpRequest, form: PartnerForm | None = None, status: int = 200
) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    marketplace = parties_api.operator_marketplace(tenant_id=portal.tenant_id)
    return page(
        request,
        "portal/partners/list.html",
        {
            "partners": parties_api.partner_list(tenant_id=portal.tenant_id),
            "form": form or PartnerForm(),
            "may_edit": portal.may(Capability.PARTNERS_EDIT),
            "marketplace": marketplace,
            "may_marketplace": portal.tenant.role == TenantRole.PLATFORM_ADMIN,
        },
        section="partners",
        status=status,
    )


@portal_view(Capability.VIEW)
def partner_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@portal_view(Capability.PARTNERS_EDIT, methods=("POST",))
def partner_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = PartnerForm(request.POST)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    data = form.cleaned_data
    try:
        record = parties_api.partner_create(
            tenant_id=portal.tenant_id,
            actor=actor(request),
            data=PartnerInput(
                role=data["role"],
                country_code=data["country_code"],
                party_id=data["party_id"],
                name=data["name"],
                website=data["website"],
                vat_rate=data["vat_rate"],
            ),
        )
    except (ValidationFailed, Conflict) as exc:
        for message in problem_messages(exc):
            form.add_error(None, message)
        return _render_list(request, form, status=400)
    notify(
        request,
        f"Partner {record.role} {record.country_code}*{record.party_id} ({record.name}) added.",
    )
    return redirect("portal:partners", portal.tenant.slug)


@portal_view(Capability.PARTNERS_EDIT, methods=("GET", "POST"))
def partner_edit(request: HttpRequest, partner_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        record = parties_api.partner_get(tenant_id=portal.tenant_id, partner_id=partner_id)
    except NotFound:
        return not_found(request, f"partner {partner_id}", section="partners")
    status = 200
    if request.method == "POST":
        form = PartnerEditForm(request.POST)
        if form.is_valid():
            try:
                parties_api.partner_update(
                    tenant_id=portal.tenant_id,
                    actor=actor(request),
                    partner_id=partner_id,
                    if_match=request.POST.get("etag") or None,
                    **form.cleaned_data,
                )
            except PreconditionFailed:
                form.add_error(None, "Someone changed this partner meanwhile: reload and retry.")
            except ValidationFailed as exc:
                for message in problem_messages(exc):
                    form.add_error(None, message)
            else:
                notify(request, f"Partner {record.country_code}*{record.party_id} saved.")
                return redirect("portal:partners", portal.tenant.slug)
        status = 400
    else:
        form = PartnerEditForm(
            initial={"name": record.name, "website": record.website, "vat_rate": record.vat_rate}
        )
    return page(
        request,
        "portal/partners/edit.html",
        {"partner": record, "form": form},
        section="partners",
        status=status,
    )


@portal_view(Capability.PARTNERS_EDIT, methods=("POST",))
def marketplace_set(request: HttpRequest) -> HttpResponse:
    """The tenant's marketplace setting: platform admins only (other roles that may edit
    partners are told so, nothing changes)."""
    portal = request.portal  # type: ignore[attr-defined]
    if portal.tenant.role != TenantRole.PLATFORM_ADMIN:
        notify(request, "Only a platform admin may change the marketplace setting.")
        return redirect("portal:partners", portal.tenant.slug)
    form = MarketplaceForm(request.POST)
    form.is_valid()  # a boolean: missing is False
    on = bool(form.cleaned_data.get("marketplace"))
    changed = parties_api.operator_marketplace_set(
        tenant_id=portal.tenant_id, actor=actor(request), marketplace=on
    )
    if changed:
        notify(request, "In the marketplace now." if on else "Out of the marketplace now.")
    return redirect("portal:partners", portal.tenant.slug)
