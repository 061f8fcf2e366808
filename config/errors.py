"""The site's error handlers (each interface answers in its own format) and its icon."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.templatetags.static import static
from django.views.decorators.http import require_safe

from portal.views.errors import page_not_found
from restapi.problems import not_found_view as api_not_found


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    """404: problem+json under /api/ (the REST API), the portal's branded page elsewhere."""
    if request.path_info.startswith("/api/"):
        return api_not_found(request, exception)
    return page_not_found(request, exception)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """`/favicon.ico`, which browsers ask for on pages without an icon link (the admin, the
    API's browsable pages): the portal's icon, a public static file like the rest."""
    return HttpResponseRedirect(static("portal/favicon.svg"))
