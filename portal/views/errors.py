"""The portal's "page not found": inside the portal layout for an unknown page of a tenant
(`/portal/<tenant>/...`), a plain branded page elsewhere. Both answer 404; `config.errors`
routes every 404 of the site here except the REST API's (problem+json)."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from portal.access import READ_METHODS, portal_view
from portal.views.common import page

_TENANT_PAGE = re.compile(r"^/portal/(?P<tenant>[-\w]+)/")


@portal_view()
def _tenant_page_not_found(request: HttpRequest) -> HttpResponse:
    return page(
        request,
        "portal/not_found.html",
        {"what": "such page", "path": request.path},
        section="",
        status=404,
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    """Django's 404 handler for the site's HTML pages. Under a tenant the page goes through
    `portal_view` like every tenant page: signed out -> the sign-in page; a tenant that is
    not the user's answers exactly like one that does not exist."""
    match = _TENANT_PAGE.match(request.path_info)
    if match and request.method in READ_METHODS:
        return _tenant_page_not_found(request, match["tenant"])
    return render(
        request,
        "errors/page.html",
        {
            "title": "Page not found",
            "message": f"There is no page at {request.path}. Check the address, or start "
            "again from the portal.",
        },
        status=404,
    )
