"""Locations ▸ EVSEs ▸ connectors: list, detail, create and edit (OCPI 2.2.1 shapes)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import DomainError, NotFound, Problem, ValidationFailed
from apps.locations import api as locations
from apps.locations.contracts import (
    ConnectorFormat,
    ConnectorStandard,
    EvseStatus,
    ParkingType,
    PowerType,
)
from apps.parties import api as parties
from apps.parties.contracts import Capability, PartyRole
from portal.access import portal_view
from portal.views.common import (
    actor,
    id_page,
    int_or_none,
    not_found,
    notify,
    now,
    page,
    problem_messages,
    q,
)

DAY_NUMBERS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_HOURS_LINE = re.compile(
    r"^(?P<d1>mon|tue|wed|thu|fri|sat|sun)(?:\s*-\s*(?P<d2>mon|tue|wed|thu|fri|sat|sun))?\s+"
    r"(?P<b>\d{2}:\d{2})\s*-\s*(?P<e>\d{2}:\d{2})$",
    re.IGNORECASE,
)


def parse_opening_times(text: str, twentyfourseven: bool) -> dict[str, Any] | None:
    """'Mon-Fri 07:00-22:00' lines -> OCPI Hours. Raises ValidationFailed naming the line."""
    if twentyfourseven:
        return {"twentyfourseven": True}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    regular = []
    problems = []
    for n, line in enumerate(lines, 1):
        m = _HOURS_LINE.match(line)
        if not m:
            problems.append(
                Problem("opening_times", f"line {n} “{line}”: write e.g. “Mon-Fri 07:00-22:00”")
            )
            continue
        d1 = DAY_NUMBERS[m["d1"].lower()]
        d2 = DAY_NUMBERS[(m["d2"] or m["d1"]).lower()]
        if d2 < d1:
            problems.append(Problem("opening_times", f"line {n}: {m['d1']} comes after {m['d2']}"))
            continue
        for day in range(d1, d2 + 1):
            regular.append({"weekday": day, "period_begin": m["b"], "period_end": m["e"]})
    if problems:
        raise ValidationFailed("invalid opening times", problems=tuple(problems))
    return {"twentyfourseven": False, "regular_hours": regular}


def opening_times_text(value: dict[str, Any] | None) -> tuple[str, bool]:
    if not value:
        return "", False
    if value.get("twentyfourseven"):
        return "", True
    names = {v: k.title() for k, v in DAY_NUMBERS.items()}
    return "\n".join(
        f"{names.get(r['weekday'], r['weekday'])} {r['period_begin']}-{r['period_end']}"
        for r in value.get("regular_hours") or []
    ), False


@portal_view()
def location_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    pager = id_page(
        request,
        partial(
            locations.location_rows, tenant_id=portal.tenant_id, search=q(request, "q") or None
        ),
    )
    rows = pager.rows
    # Several locations may share one address: show how many share each.
    shared: dict[str, int] = {}
    for r in rows:
        shared[f"{r.address}|{r.postal_code}|{r.city}"] = (
            shared.get(f"{r.address}|{r.postal_code}|{r.city}", 0) + 1
        )
    return page(
        request,
        "portal/locations/list.html",
        {
            "rows": [(r, shared[f"{r.address}|{r.postal_code}|{r.city}"]) for r in rows],
            "search": q(request, "q"),
            "pager": pager,
            "may_edit": portal.may(Capability.LOCATIONS_EDIT),
        },
        section="locations",
    )


@portal_view()
def location_detail(request: HttpRequest, location_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        loc = locations.location_get(tenant_id=portal.tenant_id, location_id=location_id)
    except NotFound:
        return not_found(request, f"location {location_id}", section="locations")
    stations = locations.charge_station_list(
        tenant_id=portal.tenant_id, after_id=None, limit=200, location_id=location_id
    )
    hours, always = opening_times_text(loc.opening_times)
    identities = {st.id: st.identity for st in stations}
    elsewhere = {e.charge_station_id for e in loc.evses} - set(identities) - {None}
    if elsewhere:  # an EVSE of a station placed at another location
        identities |= {
            r.id: r.identity
            for r in locations.station_rows(
                tenant_id=portal.tenant_id, now=now(), limit=len(elsewhere), station_ids=elsewhere
            )
        }
    return page(
        request,
        "portal/locations/detail.html",
        {
            "loc": loc,
            "evses": [(e, identities.get(e.charge_station_id)) for e in loc.evses],
            "stations": stations,
            "hours": hours,
            "always": always,
            "may_edit": portal.may(Capability.LOCATIONS_EDIT),
            "statuses": [s.value for s in EvseStatus],
            "standards": [s.value for s in ConnectorStandard],
            "formats": [s.value for s in ConnectorFormat],
            "power_types": [s.value for s in PowerType],
        },
        section="locations",
    )


_FIELDS = (
    "name",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "latitude",
    "longitude",
    "time_zone",
    "parking_type",
)


def _location_values(post: Any) -> dict[str, Any]:
    values: dict[str, Any] = {f: post.get(f, "").strip() for f in _FIELDS}
    values["country"] = values["country"].upper()
    for f in ("latitude", "longitude"):
        try:
            values[f] = Decimal(values[f].replace(",", "."))
        except InvalidOperation:
            pass  # the model's validation names the field
    values["publish"] = bool(post.get("publish"))
    values["charging_when_closed"] = bool(post.get("charging_when_closed"))
    values["opening_times"] = parse_opening_times(
        post.get("opening_times", ""), bool(post.get("twentyfourseven"))
    )
    return values


def _form(request: HttpRequest, *, loc: Any, errors: list[str], status: int = 200) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    hours, always = opening_times_text(loc.opening_times) if loc else ("", False)
    return page(
        request,
        "portal/locations/form.html",
        {
            "loc": loc,
            "v": {
                f: request.POST.get(f, getattr(loc, f, "") if loc else "")
                for f in (*_FIELDS, "ocpi_id")
            },
            "errors": errors,
            "post": request.POST,
            "hours": hours,
            "always": always,
            "parking_types": [""] + [p.value for p in ParkingType],
            "parties": parties.parties_of_tenant(tenant_id=portal.tenant_id, role=PartyRole.CPO),
        },
        section="locations",
        status=status,
    )


@portal_view(Capability.LOCATIONS_EDIT, methods=("GET", "POST"))
def location_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    if request.method == "GET":
        return _form(request, loc=None, errors=[])
    party = next(
        (
            p
            for p in parties.parties_of_tenant(tenant_id=portal.tenant_id)
            if str(p.id) == request.POST.get("party")
        ),
        None,
    )
    try:
        if party is None:
            raise ValidationFailed("choose the CPO party that runs this location")
        values = _location_values(request.POST)
        with transaction.atomic():
            record = locations.location_create(
                tenant_id=portal.tenant_id,
                country_code=party.country_code,
                party_id=party.party_id,
                ocpi_id=request.POST.get("ocpi_id", "").strip(),
                values=values,
                actor=actor(request),
            )
    except DomainError as exc:
        return _form(request, loc=None, errors=problem_messages(exc), status=400)
    notify(request, f"Location {record.name or record.id} created. Add its EVSEs below.")
    return redirect("portal:location", portal.tenant.slug, record.platform_id)


@portal_view(Capability.LOCATIONS_EDIT, methods=("GET", "POST"))
def location_edit(request: HttpRequest, location_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        loc = locations.location_get(tenant_id=portal.tenant_id, location_id=location_id)
    except NotFound:
        return not_found(request, f"location {location_id}", section="locations")
    if request.method == "GET":
        return _form(request, loc=loc, errors=[])
    try:
        values = _location_values(request.POST)
        with transaction.atomic():
            locations.location_update(
                tenant_id=portal.tenant_id,
                location_id=location_id,
                if_match=request.POST.get("etag") or None,
                values=values,
                actor=actor(request),
            )
    except DomainError as exc:
        return _form(request, loc=loc, errors=problem_messages(exc), status=400)
    notify(request, "Location saved.")
    return redirect("portal:location", portal.tenant.slug, location_id)


@portal_view(Capability.LOCATIONS_EDIT)
def evse_save(request: HttpRequest, location_id: int) -> HttpResponse:
    """Create or update one EVSE with its connectors (the rows filled in)."""
    portal = request.portal  # type: ignore[attr-defined]
    post = request.POST
    uid = post.get("uid", "").strip()
    connectors = []
    for n in range(3):
        cid = post.get(f"c{n}-id", "").strip()
        if not cid:
            continue
        power = post.get(f"c{n}-max_electric_power", "").strip()
        connectors.append(
            {
                "id": cid,
                "standard": post.get(f"c{n}-standard", ""),
                "format": post.get(f"c{n}-format", ""),
                "power_type": post.get(f"c{n}-power_type", ""),
                "max_voltage": int_or_none(post.get(f"c{n}-max_voltage")) or 0,
                "max_amperage": int_or_none(post.get(f"c{n}-max_amperage")) or 0,
                "max_electric_power": int_or_none(power),
            }
        )
    values = {
        "evse_id": post.get("evse_id", "").strip(),
        "status": post.get("status", "UNKNOWN"),
        "connectors": connectors,
    }
    try:
        if not uid:
            raise ValidationFailed("give the EVSE a uid (unique in this tenant)")
        with transaction.atomic():
            _, created = locations.evse_put(
                tenant_id=portal.tenant_id,
                location_id=location_id,
                uid=uid,
                values=values,
                actor=actor(request),
            )
        notify(request, f"EVSE {uid} {'created' if created else 'saved'}.")
    except DomainError as exc:
        notify(request, f"EVSE {uid or '(no uid)'} not saved: " + "; ".join(problem_messages(exc)))
    return redirect("portal:location", portal.tenant.slug, location_id)
