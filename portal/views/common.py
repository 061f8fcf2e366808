"""What every portal page shares: the navigation by role, cursors, parsing of filters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.common.contracts import Actor
from apps.common.errors import DomainError
from apps.parties.contracts import Capability, TenantRole
from portal.access import Portal

PAGE_SIZE = 50
# The tenant of the last tenant page this browser showed: where the next sign-in lands.
LAST_TENANT_COOKIE = "portal_tenant"
LAST_TENANT_MAX_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    url: str


# Sections per role: a role sees the pages that concern its work (all are readable).
_SECTIONS: list[tuple[str, str, str, set[TenantRole] | None]] = [
    ("dashboard", "Dashboard", "portal:dashboard", None),
    (
        "stations",
        "Charge stations",
        "portal:stations",
        {TenantRole.PLATFORM_ADMIN, TenantRole.CPO_ADMIN, TenantRole.SUPPORT},
    ),
    (
        "locations",
        "Locations",
        "portal:locations",
        {TenantRole.PLATFORM_ADMIN, TenantRole.CPO_ADMIN, TenantRole.SUPPORT},
    ),
    ("sessions", "Sessions", "portal:sessions", None),
    ("cdrs", "CDRs", "portal:cdrs", None),
    (
        "emsp",
        "Drivers elsewhere",
        "portal:emsp",
        {TenantRole.PLATFORM_ADMIN, TenantRole.EMSP_ADMIN, TenantRole.FINANCE, TenantRole.SUPPORT},
    ),
    (
        "flags",
        "Flagged CDRs",
        "portal:flags",
        {TenantRole.PLATFORM_ADMIN, TenantRole.CPO_ADMIN, TenantRole.FINANCE, TenantRole.SUPPORT},
    ),
    (
        "settlement",
        "Settlement",
        "portal:settlement",
        None,
    ),
    ("documents", "Invoices", "portal:documents", None),  # issue 18, area "docs"
    (
        "tariffs",
        "Tariffs",
        "portal:tariffs",
        {TenantRole.PLATFORM_ADMIN, TenantRole.CPO_ADMIN, TenantRole.FINANCE, TenantRole.SUPPORT},
    ),
    ("billing_rules", "Billing rules", "portal:billing_rules", None),
    (
        "tokens",
        "Tokens",
        "portal:tokens",
        {TenantRole.PLATFORM_ADMIN, TenantRole.EMSP_ADMIN, TenantRole.SUPPORT},
    ),
    (
        "customers",
        "Customers",
        "portal:customers",
        {TenantRole.PLATFORM_ADMIN, TenantRole.EMSP_ADMIN, TenantRole.SUPPORT},
    ),
    ("billing", "Billing", "portal:billing", None),
    ("invoicing_runs", "Billing runs", "portal:billing_runs", None),
    ("partners", "Partners", "portal:partners", None),
    ("roaming", "Roaming", "portal:roaming", None),  # issue 19, area "connections"
    ("finance", "Finance", "portal:finance", None),  # issue 18, area "finance"
    ("audit", "Audit log", "portal:audit", None),
    ("api_keys", "API keys", "portal:api_keys", None),
    ("sign_in_locks", "Sign-in locks", "portal:sign_in_locks", None),
]
# Sections shown only to roles with the capability they need.
_SECTION_CAPABILITY = {
    "audit": Capability.AUDIT_VIEW,
    "api_keys": Capability.API_KEYS_MANAGE,
    "sign_in_locks": Capability.SIGN_IN_UNLOCK,
}


def nav_for(portal: Portal) -> list[NavItem]:
    items = []
    for key, label, url, roles in _SECTIONS:
        if roles is not None and portal.tenant.role not in roles:
            continue
        needed = _SECTION_CAPABILITY.get(key)
        if needed is not None and not portal.may(needed):
            continue
        items.append(NavItem(key, label, reverse(url, args=[portal.tenant.slug])))
    return items


def page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    section: str,
    status: int = 200,
) -> HttpResponse:
    portal: Portal = request.portal  # type: ignore[attr-defined]
    notice = request.session.pop("portal_notice", "")
    response = render(
        request,
        template,
        {
            "portal": portal,
            "nav": nav_for(portal),
            "section": section,
            "notice": notice,
            "t": portal.tenant.slug,
            **context,
        },
        status=status,
    )
    if request.COOKIES.get(LAST_TENANT_COOKIE) != portal.tenant.slug:
        response.set_cookie(
            LAST_TENANT_COOKIE,
            portal.tenant.slug,
            max_age=LAST_TENANT_MAX_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return response


def notify(request: HttpRequest, message: str) -> None:
    request.session["portal_notice"] = message


def now() -> datetime:
    return datetime.now(UTC)


def display_tz() -> str:
    return str(getattr(settings, "PORTAL_TIME_ZONE", "UTC"))


def q(request: HttpRequest, name: str) -> str:
    return request.GET.get(name, "").strip()


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def day_start(d: date | None) -> datetime | None:
    return datetime.combine(d, time(0), tzinfo=UTC) if d else None


def not_found(request: HttpRequest, what: str, *, section: str) -> HttpResponse:
    """The portal's 404 page for an object that is not in this tenant (or does not exist)."""
    return page(request, "portal/not_found.html", {"what": what}, section=section, status=404)


def querystring(request: HttpRequest, **changes: Any) -> str:
    params = request.GET.copy()
    for k, v in changes.items():
        if v in (None, ""):
            params.pop(k, None)
        else:
            params[k] = v
    return params.urlencode()


@dataclass(frozen=True)
class Pager:
    """One page of a keyset-paged list and the links around it (query strings that keep
    every filter; "" when there is no such page)."""

    rows: list[Any]
    next_qs: str  # the page after this one ("Next »" / "Older »")
    prev_qs: str  # the page before it ("‹ Previous" / "‹ Newer")
    first_qs: str  # the first page with the same filters
    paged: bool  # this is not the first page's URL (show "« First" / "« Newest")


def keyset_page(
    request: HttpRequest,
    fetch: Any,
    *,
    key: Any,
    forward: str,
    back: str,
    parse: Any = None,
    size: int | None = None,
) -> Pager:
    """A page of a list in keyset order, in both directions, without OFFSET.

    `fetch(forward_cursor, back_cursor, limit)` returns rows in display order: the first
    `limit` after `forward_cursor`, or the last `limit` before `back_cursor`. The URL names the
    cursor `forward` (the key of the last row of the page before) or `back` (the key of the
    first row of the page after); `key(row)` makes a row's cursor, `parse(text)` reads one
    (None: not a cursor, ignored). One extra row tells whether there is a further page that
    way; a page reached going back from the second page is exactly the first (no "Previous").
    """
    size = size or PAGE_SIZE
    read = parse or (lambda text: text or None)
    onward = read(q(request, forward)) if q(request, forward) else None
    backward = read(q(request, back)) if q(request, back) and onward is None else None
    if backward is not None:
        rows = list(fetch(None, backward, size + 1))
        has_prev, has_next = len(rows) > size, True
        rows = rows[-size:]
    else:
        rows = list(fetch(onward, None, size + 1))
        has_prev, has_next = onward is not None, len(rows) > size
        rows = rows[:size]
    paged = bool(q(request, forward) or q(request, back))
    return Pager(
        rows=rows,
        next_qs=querystring(request, **{forward: key(rows[-1]), back: None})
        if has_next and rows
        else "",
        prev_qs=querystring(request, **{back: key(rows[0]), forward: None})
        if has_prev and rows
        else "",
        first_qs=querystring(request, **{forward: None, back: None}),
        paged=paged,
    )


def id_page(request: HttpRequest, fetch: Any, *, newest_first: bool = False) -> Pager:
    """`keyset_page` for a list ordered by id: `fetch(after_id=, before_id=, limit=)`
    (ascending: Next `after=`, Previous `before=`; newest first: Older `before=`, Newer
    `after=`)."""

    def rows(forward: int | None, back: int | None, limit: int) -> Any:
        after, before = (back, forward) if newest_first else (forward, back)
        return fetch(after_id=after, before_id=before, limit=limit)

    forward, back = ("before", "after") if newest_first else ("after", "before")
    return keyset_page(
        request, rows, key=lambda r: r.id, forward=forward, back=back, parse=int_or_none
    )


_PATH_WORDS = [
    (re.compile(r"\$\.elements\[(\d+)\]\.price_components\[(\d+)\]"), "element {0}, component {1}"),
    (re.compile(r"\$\.elements\[(\d+)\]\.restrictions"), "element {0}, restrictions"),
    (re.compile(r"\$\.elements\[(\d+)\]"), "element {0}"),
]


# What the tariff form calls the fields the pricing core's paths name.
FIELD_WORDS = {
    "price": "price",
    "vat": "VAT %",
    "step_size": "step size",
    "type": "dimension",
    "min_price": "minimum price",
    "max_price": "maximum price",
    "excl_vat": "excl. VAT",
    "incl_vat": "incl. VAT",
    "start_time": "from (hh:mm)",
    "end_time": "until (hh:mm)",
    "min_kwh": "min kWh",
    "max_kwh": "max kWh",
    "min_power": "min kW",
    "max_power": "max kW",
    "min_duration": "min seconds",
    "max_duration": "max seconds",
    "day_of_week": "days",
    "currency": "currency",
    "elements": "elements",
}


def field_words(name: str) -> str:
    """`min_price.excl_vat` -> `minimum price excl. VAT`; unknown names without underscores."""
    return " ".join(
        FIELD_WORDS.get(part, part.replace("_", " ")) for part in name.split(".") if part
    )


def in_words(path: str) -> str:
    """`$.elements[0].price_components[1].vat` -> `element 1, component 2: VAT %`;
    `$.min_price.excl_vat` -> `minimum price excl. VAT`."""
    for pattern, words in _PATH_WORDS:
        m = pattern.match(path)
        if m:
            rest = path[m.end() :].lstrip(".")
            head = words.format(*(int(g) + 1 for g in m.groups()))
            return f"{head}: {field_words(rest)}" if rest else head
    return field_words(path.removeprefix("$").lstrip(".")) or "the form"


def problem_messages(exc: DomainError) -> list[str]:
    if not exc.problems:
        return [exc.message]
    return [f"{in_words(p.path)} — {p.message}" for p in exc.problems]


def actor(request: HttpRequest) -> Actor:
    """The signed-in user, as the services' audit entries name who made a change."""
    portal: Portal = request.portal  # type: ignore[attr-defined]
    return Actor.user(portal.user_id)
