from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from apps.charging import api as charging
from apps.locations import api as locations
from portal.access import portal_view
from portal.views.common import display_tz, now, page


@portal_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    tenant_id = request.portal.tenant_id  # type: ignore[attr-defined]
    at = now()
    # The month's figures aggregate every CDR of the month: computed at most once a minute
    # per tenant (the page says when); the station summary is always fresh.
    key = f"portal:dashboard:{tenant_id}:{display_tz()}"
    cached = cache.get(key)
    if cached is None:
        cached = (
            at,
            charging.dashboard_figures(tenant_id=tenant_id, now=at, time_zone=display_tz()),
        )
        cache.set(key, cached, settings.PORTAL_DASHBOARD_CACHE_SECONDS)
    figures_at, figures = cached
    stations = locations.station_status_summary(tenant_id=tenant_id, now=at)
    chart = {
        "type": "bar",
        "labels": [d.day[5:] for d in figures.days],
        "y": "kWh",
        "y2": f"revenue {figures.currency}",
        "datasets": [
            {
                "label": "Energy (kWh)",
                "data": [float(d.energy_kwh) for d in figures.days],
                "yAxisID": "y",
                "backgroundColor": "#60a5fa",
            },
            {
                "label": f"Revenue excl. VAT ({figures.currency})",
                "data": [float(d.revenue_excl_vat) for d in figures.days],
                "yAxisID": "y2",
                "type": "line",
                "borderColor": "#059669",
            },
        ],
    }
    sessions_chart = {
        "type": "bar",
        "labels": [d.day[5:] for d in figures.days],
        "y": "CDRs",
        "datasets": [
            {"label": "CDRs", "data": [d.cdrs for d in figures.days], "backgroundColor": "#a78bfa"}
        ],
    }
    return page(
        request,
        "portal/dashboard.html",
        {
            "f": figures,
            "stations": stations,
            "chart": chart,
            "sessions_chart": sessions_chart,
            "tz": display_tz(),
            "figures_at": figures_at,
        },
        section="dashboard",
    )
