"""Our CPO sender interfaces (2.2.1 and 2.1.1 share the URLs): what an eMSP pulls.

    GET locations                                   paginated list
    GET locations/<location_id>[/<evse_uid>[/<connector_id>]]
    GET tariffs | sessions | cdrs                   paginated lists

Pagination (ROAMING.md "Pagination"): `date_from` inclusive, `date_to` exclusive on
`last_updated`; `offset` / `limit`, the limit capped at settings.OCPI_PAGE_LIMIT (said in
`X-Limit`); `X-Total-Count`; `Link: <...>; rel="next"` only when more remain, with every
filter kept. Order: (last_updated, id), oldest first. Locations and tariffs page by keyset:
their Link also carries `cursor`, the position after the page's last object, so an object
that changes during a crawl is seen again at the end and none ahead of it is skipped. What
each partner may see is decided by apps.roaming.api (publishing rules, the partner's own
sessions and CDRs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import URLPattern, path
from django.utils import timezone

from apps.common import api as common_api
from apps.roaming import api as roaming_api
from apps.roaming.api import transport
from apps.roaming.contracts import SUPPORTED_VERSIONS
from roaming.ocpi.base import OcpiCall, OcpiFailure, OcpiResult, endpoint

INVALID_PARAMETERS = transport.INVALID_PARAMETERS
UNKNOWN_LOCATION = transport.UNKNOWN_LOCATION
UNSUPPORTED_VERSION = transport.UNSUPPORTED_VERSION
# Locations and tariffs: the Link's opaque keyset position, (last_updated, id) of the page's
# last object; `offset` beside it only numbers the position (apps.common.keyset).
CURSOR = "cursor"


def _datetime(request: HttpRequest, name: str) -> datetime | None:
    """An OCPI DateTime parameter, leniently: `Z`, an offset, or none (taken as UTC)."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise OcpiFailure(
            400,
            INVALID_PARAMETERS,
            f"{name}: {raw!r} is not a DateTime (e.g. 2026-03-02T08:00:00Z)",
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _int(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise OcpiFailure(400, INVALID_PARAMETERS, f"{name}: {raw!r} is not a number") from exc
    if value < 0:
        raise OcpiFailure(400, INVALID_PARAMETERS, f"{name}: must not be negative")
    return value


def _version(call: OcpiCall) -> str:
    if call.version not in {v.value for v in SUPPORTED_VERSIONS}:
        raise OcpiFailure(404, UNSUPPORTED_VERSION, f"OCPI version {call.version!r} is not served")
    return call.version


def _cursor(request: HttpRequest) -> tuple[datetime, int] | None:
    """The `cursor` our own Link put there (opaque to the partner), or None."""
    raw = request.GET.get(CURSOR, "").strip()
    if not raw:
        return None
    key = common_api.decode_time_cursor(raw)
    if key is None:
        raise OcpiFailure(400, INVALID_PARAMETERS, f"{CURSOR}: {raw!r} is not one of our cursors")
    return key


def _query(request: HttpRequest) -> roaming_api.PageQuery:
    cap = int(settings.OCPI_PAGE_LIMIT)
    return roaming_api.PageQuery(
        date_from=_datetime(request, "date_from"),
        date_to=_datetime(request, "date_to"),
        offset=_int(request, "offset", 0),
        limit=min(_int(request, "limit", cap), cap),
        after=_cursor(request),
    )


Lister = Callable[[OcpiCall, roaming_api.PageQuery], roaming_api.SenderPage]


def _by_offset(query: roaming_api.PageQuery, page: tuple[int, list[Any]]) -> Any:
    """An offset list's (total, items) as a page: more remain while offset + n < total."""
    total, items = page
    return roaming_api.SenderPage(total, items, more=query.offset + len(items) < total)


def _page(call: OcpiCall, request: HttpRequest, lister: Lister) -> OcpiResult:
    _version(call)
    query = _query(request)
    page = lister(call, query)
    headers = {
        transport.TOTAL_COUNT: str(page.total),
        transport.LIMIT: str(settings.OCPI_PAGE_LIMIT),
    }
    if page.items and page.more:
        params = {k: v for k, v in request.GET.items() if k != CURSOR}
        if page.after is not None:  # keyset lists: the next page starts after this one's last
            params[CURSOR] = common_api.encode_time_cursor(*page.after)
        headers["Link"] = transport.next_link(
            request.build_absolute_uri(request.path),
            params,
            offset=query.offset + len(page.items),
            limit=query.limit,
        )
    return OcpiResult(data=page.items, headers=headers)


@endpoint("locations")
def locations_list(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    return _page(
        call,
        request,
        lambda c, q: roaming_api.sender_locations(
            tenant_id=c.tenant_id, connection_id=c.connection_id, version=c.version, query=q
        ),
    )


@endpoint("locations")
def location_detail(
    call: OcpiCall,
    request: HttpRequest,
    location_id: str,
    evse_uid: str | None = None,
    connector_id: str | None = None,
) -> OcpiResult:
    found = roaming_api.sender_location(
        tenant_id=call.tenant_id,
        connection_id=call.connection_id,
        version=_version(call),
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
    )
    if found is None:
        what = "/".join(p for p in (location_id, evse_uid, connector_id) if p is not None)
        raise OcpiFailure(404, UNKNOWN_LOCATION, f"unknown location, EVSE or connector: {what}")
    return OcpiResult(data=found)


@endpoint("tariffs")
def tariffs_list(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    return _page(
        call,
        request,
        lambda c, q: roaming_api.sender_tariffs(
            tenant_id=c.tenant_id,
            connection_id=c.connection_id,
            version=c.version,
            query=q,
            now=timezone.now(),
        ),
    )


@endpoint("sessions")
def sessions_list(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    return _page(
        call,
        request,
        lambda c, q: _by_offset(
            q,
            roaming_api.sender_sessions(
                tenant_id=c.tenant_id,
                connection_id=c.connection_id,
                version=c.version,
                query=q,
                routing=c.routing,
            ),
        ),
    )


@endpoint("cdrs")
def cdrs_list(call: OcpiCall, request: HttpRequest) -> OcpiResult:
    return _page(
        call,
        request,
        lambda c, q: _by_offset(
            q,
            roaming_api.sender_cdrs(
                tenant_id=c.tenant_id,
                connection_id=c.connection_id,
                version=c.version,
                query=q,
                routing=c.routing,
            ),
        ),
    )


# Lists answer with and without a trailing slash (partners write both).
urlpatterns: list[URLPattern] = [
    path("locations", locations_list, name="cpo-locations"),
    path("locations/", locations_list),
    path("tariffs/", tariffs_list),
    path("sessions/", sessions_list),
    path("cdrs/", cdrs_list),
    path("locations/<str:location_id>", location_detail, name="cpo-location"),
    path("locations/<str:location_id>/<str:evse_uid>", location_detail, name="cpo-evse"),
    path(
        "locations/<str:location_id>/<str:evse_uid>/<str:connector_id>",
        location_detail,
        name="cpo-connector",
    ),
    path("tariffs", tariffs_list, name="cpo-tariffs"),
    path("sessions", sessions_list, name="cpo-sessions"),
    path("cdrs", cdrs_list, name="cpo-cdrs"),
]
