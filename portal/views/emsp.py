"""The eMSP view (ADR 0027): a marketplace tenant's drivers' sessions and CDRs at other
tenants' stations, as the OCPI objects a roaming eMSP would receive (no CPO internals)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.charging import api as charging_api
from apps.common.errors import NotFound
from apps.parties.contracts import Capability
from portal.access import portal_view
from portal.views.common import not_found, page
from portal.views.rating import cdr_rated_context

LIMIT = 100


@portal_view(Capability.VIEW)
def emsp_list(request: HttpRequest) -> HttpResponse:
    """The newest 100 sessions and CDRs of the tenant's drivers at other tenants' stations."""
    portal = request.portal  # type: ignore[attr-defined]
    sessions = [
        charging_api.emsp_session_object(r)
        for r in charging_api.emsp_session_list(
            tenant_id=portal.tenant_id, after_id=None, limit=LIMIT
        )
    ]
    cdrs = [
        charging_api.emsp_cdr_object(r)
        for r in charging_api.emsp_cdr_list(tenant_id=portal.tenant_id, after_id=None, limit=LIMIT)
    ]
    return page(
        request,
        "portal/emsp/list.html",
        {"sessions": sessions, "cdrs": cdrs, "limit": LIMIT},
        section="emsp",
    )


@portal_view(Capability.VIEW)
def emsp_cdr(request: HttpRequest, cdr_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        record = charging_api.emsp_cdr_get(tenant_id=portal.tenant_id, cdr_id=cdr_id)
    except NotFound:
        return not_found(request, f"CDR {cdr_id} of this tenant's drivers", section="emsp")
    cdr = charging_api.emsp_cdr_object(record)
    return page(
        request,
        "portal/emsp/cdr.html",
        {
            "c": cdr,
            "location": cdr.get("cdr_location") or {},
            "token": cdr.get("cdr_token") or {},
            # What the driver pays (retail) and what the tenant pays the CPO (wholesale).
            **cdr_rated_context(portal, cdr_id),
        },
        section="emsp",
    )
