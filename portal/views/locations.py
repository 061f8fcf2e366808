"""Locations ▸ EVSEs ▸ connectors: list, detail, create and edit (OCPI 2.2.1 shapes)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import DomainError, NotFound, Problem
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
from portal.forms.locations import (
    CONNECTOR_ROWS,
    LOCATION_FIELDS,
    ConnectorForm,
    EvseForm,
    LocationForm,
    form_errors_in_words,
    opening_times_text,
    place_problems,
)
from portal.views.common import (
    actor,
    id_page,
    not_found,
    notify,
    now,
    page,
    problem_messages,
    q,
)


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
    placed = {e.charge_station_id for e in loc.evses if e.charge_station_id is not None}
    elsewhere = placed - set(identities)
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
            "evses": [
                (e, None if e.charge_station_id is None else identities.get(e.charge_station_id))
                for e in loc.evses
            ],
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


def _party_choices(tenant_id: int) -> list[tuple[int, str]]:
    return [
        (p.id, f"{p.country_code}*{p.party_id} {p.name}")
        for p in parties.parties_of_tenant(tenant_id=tenant_id, role=PartyRole.CPO)
    ]


def _location_form(request: HttpRequest, loc: Any) -> LocationForm:
    """The form bound to the POST, or (GET) unbound with the location's values."""
    portal = request.portal  # type: ignore[attr-defined]
    choices = _party_choices(portal.tenant_id) if loc is None else []
    if request.method == "POST":
        return LocationForm(request.POST, new=loc is None, party_choices=choices)
    initial: dict[str, Any] = {"charging_when_closed": True, "publish": True}
    if loc is not None:
        hours, always = opening_times_text(loc.opening_times)
        initial = {
            **{f: getattr(loc, f, "") for f in LOCATION_FIELDS},
            "opening_times": hours,
            "twentyfourseven": always,
            "charging_when_closed": loc.charging_when_closed,
            "publish": loc.publish,
            "etag": loc.etag,
        }
    return LocationForm(initial=initial, new=loc is None, party_choices=choices)


def _form(request: HttpRequest, form: LocationForm, *, loc: Any, status: int = 200) -> HttpResponse:
    return page(
        request,
        "portal/locations/form.html",
        {
            "loc": loc,
            "f": form,
            "v": {name: form[name].value() for name in form.fields},
            "errors": form_errors_in_words(form),
            "parking_types": [""] + [p.value for p in ParkingType],
            "parties": form.fields["party"].choices if "party" in form.fields else [],  # type: ignore[attr-defined]
        },
        section="locations",
        status=status,
    )


@portal_view(Capability.LOCATIONS_EDIT, methods=("GET", "POST"))
def location_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = _location_form(request, None)
    if request.method == "GET":
        return _form(request, form, loc=None)
    if not form.is_valid():
        return _form(request, form, loc=None, status=400)
    party = next(
        p
        for p in parties.parties_of_tenant(tenant_id=portal.tenant_id)
        if p.id == form.cleaned_data["party"]
    )
    try:
        with transaction.atomic():
            record = locations.location_create(
                tenant_id=portal.tenant_id,
                country_code=party.country_code,
                party_id=party.party_id,
                ocpi_id=form.cleaned_data["ocpi_id"].strip(),
                values=form.values(),
                actor=actor(request),
            )
    except DomainError as exc:
        place_problems(form, exc.problems or (Problem("", exc.message),))
        return _form(request, form, loc=None, status=400)
    notify(request, f"Location {record.name or record.id} created. Add its EVSEs below.")
    return redirect("portal:location", portal.tenant.slug, record.platform_id)


@portal_view(Capability.LOCATIONS_EDIT, methods=("GET", "POST"))
def location_edit(request: HttpRequest, location_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        loc = locations.location_get(tenant_id=portal.tenant_id, location_id=location_id)
    except NotFound:
        return not_found(request, f"location {location_id}", section="locations")
    form = _location_form(request, loc)
    if request.method == "GET":
        return _form(request, form, loc=loc)
    if not form.is_valid():
        return _form(request, form, loc=loc, status=400)
    try:
        with transaction.atomic():
            locations.location_update(
                tenant_id=portal.tenant_id,
                location_id=location_id,
                if_match=form.cleaned_data["etag"] or None,
                values=form.values(),
                actor=actor(request),
            )
    except DomainError as exc:
        place_problems(form, exc.problems or (Problem("", exc.message),))
        return _form(request, form, loc=loc, status=400)
    notify(request, "Location saved.")
    return redirect("portal:location", portal.tenant.slug, location_id)


@portal_view(Capability.LOCATIONS_EDIT)
def evse_save(request: HttpRequest, location_id: int) -> HttpResponse:
    """Create or update one EVSE with its connectors (the rows filled in)."""
    portal = request.portal  # type: ignore[attr-defined]
    form = EvseForm(request.POST)
    rows = [ConnectorForm(request.POST, prefix=f"c{n}") for n in range(CONNECTOR_ROWS)]
    uid = request.POST.get("uid", "").strip() or "(no uid)"
    valid = all([form.is_valid(), *(row.is_valid() for row in rows)])
    if not valid:
        problems = form_errors_in_words(form) + [
            e
            for n, row in enumerate(rows, 1)
            for e in form_errors_in_words(row, row=f"connector row {n}, ")
        ]
        notify(request, f"EVSE {uid} not saved: " + "; ".join(problems))
        return redirect("portal:location", portal.tenant.slug, location_id)
    values = {
        "evse_id": form.cleaned_data["evse_id"].strip(),
        "status": form.cleaned_data["status"] or "UNKNOWN",
        "connectors": [c for row in rows if (c := row.connector()) is not None],
    }
    try:
        with transaction.atomic():
            _, created = locations.evse_put(
                tenant_id=portal.tenant_id,
                location_id=location_id,
                uid=form.cleaned_data["uid"].strip(),
                values=values,
                actor=actor(request),
            )
        notify(request, f"EVSE {uid} {'created' if created else 'saved'}.")
    except DomainError as exc:
        notify(request, f"EVSE {uid} not saved: " + "; ".join(problem_messages(exc)))
    return redirect("portal:location", portal.tenant.slug, location_id)
