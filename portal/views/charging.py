"""Sessions, CDRs (list, CSV export, detail) and the flagged-CDR queue."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from functools import partial
from itertools import islice
from typing import TypedDict

from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect

from apps.charging import api as charging
from apps.charging.contracts import CdrKind, FlagReason, FlagStatus
from apps.common import api as common_api
from apps.common.errors import DomainError, NotFound
from apps.locations import api as locations
from apps.parties.contracts import Capability
from portal.access import portal_view
from portal.forms.actions import FlagNoteForm
from portal.views.common import (
    actor,
    day_start,
    id_page,
    keyset_page,
    not_found,
    notify,
    now,
    page,
    parse_date,
    problem_messages,
    q,
    querystring,
)
from portal.views.money import cost_breakdown
from portal.views.rating import cdr_rated_context
from portal.views.streaming import streaming_response


def _station_id(request: HttpRequest, tenant_id: int) -> tuple[int | None, str]:
    identity = q(request, "station")
    if not identity:
        return None, ""
    ids = locations.station_ids_by_identity(tenant_id=tenant_id, identities=[identity])
    return ids.get(identity, -1), identity


@portal_view()
def session_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    status = q(request, "status")
    station_id, identity = _station_id(request, portal.tenant_id)
    date_from = parse_date(q(request, "from"))
    date_to = parse_date(q(request, "to"))
    pager = keyset_page(
        request,
        lambda before, after, limit: charging.session_rows(
            tenant_id=portal.tenant_id,
            limit=limit,
            before=before,
            after=after,
            status=status or None,
            charge_station_id=station_id,
            search=q(request, "q") or None,
            started_from=day_start(date_from),
            started_before=day_start(date_to),
        ),
        key=lambda r: common_api.encode_time_cursor(r.started_at, r.id),
        forward="before",
        back="after",
        parse=common_api.decode_time_cursor,
    )
    live = status == "ACTIVE"
    context = {
        "rows": pager.rows,
        "pager": pager,
        "status": status,
        "station": identity,
        "search": q(request, "q"),
        "from": q(request, "from"),
        "to": q(request, "to"),
        "live": live,
        "filtered": any(q(request, k) for k in ("status", "station", "q", "from", "to")),
        "poll_qs": request.GET.urlencode(),
    }
    if getattr(request, "htmx", False) and request.GET.get("fragment") == "rows":
        return page(request, "portal/sessions/_rows.html", context, section="sessions")
    return page(request, "portal/sessions/list.html", context, section="sessions")


@portal_view()
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        d = charging.session_detail(tenant_id=portal.tenant_id, session_id=session_id)
    except NotFound:
        return not_found(request, f"session {session_id}", section="sessions")
    points = d.meter_values
    chart = {
        "type": "line",
        "labels": [p.timestamp.strftime("%H:%M:%S") for p in points],
        "y": "kWh",
        "y2": "kW",
        "datasets": [
            {
                "label": "Energy (kWh since start)",
                "data": [
                    None
                    if p.energy_wh is None
                    else float((p.energy_wh - d.meter_start_wh) / Decimal(1000))
                    for p in points
                ],
                "yAxisID": "y",
                "borderColor": "#2563eb",
            },
            {
                "label": "Power (kW)",
                "data": [None if p.power_w is None else float(p.power_w / 1000) for p in points],
                "yAxisID": "y2",
                "borderColor": "#dc2626",
            },
        ],
    }
    return page(
        request,
        "portal/sessions/detail.html",
        {"d": d, "s": d.row, "chart": chart, "has_chart": bool(points)},
        section="sessions",
    )


class CdrFilters(TypedDict):
    """The CDR list's filters, as `charging.cdr_rows` takes them."""

    date_from: datetime | None
    date_to: datetime | None
    party: str | None
    charge_station_id: int | None
    kind: str | None
    search: str | None


def _cdr_filters(request: HttpRequest, tenant_id: int) -> CdrFilters:
    station_id, _ = _station_id(request, tenant_id)
    date_to = parse_date(q(request, "to"))
    kind = q(request, "kind")
    return {
        "date_from": day_start(parse_date(q(request, "from"))),
        "date_to": day_start(date_to),
        "party": q(request, "party") or None,
        "charge_station_id": station_id,
        "kind": kind if kind in {k.value for k in CdrKind} else None,
        "search": q(request, "q") or None,
    }


@portal_view()
def cdr_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    filters = _cdr_filters(request, portal.tenant_id)
    pager = keyset_page(
        request,
        lambda before, after, limit: charging.cdr_rows(
            tenant_id=portal.tenant_id, limit=limit, before=before, after=after, **filters
        ),
        key=lambda r: common_api.encode_time_cursor(r.end_date_time, r.id),
        forward="before",
        back="after",
        parse=common_api.decode_time_cursor,
    )
    return page(
        request,
        "portal/cdrs/list.html",
        {
            "rows": pager.rows,
            "pager": pager,
            "parties": charging.cdr_parties(tenant_id=portal.tenant_id),
            "f": {k: q(request, k) for k in ("from", "to", "party", "station", "kind", "q")},
            "kinds": [k.value for k in CdrKind],
            "filtered": any(q(request, k) for k in ("from", "to", "party", "station", "kind", "q")),
            "export_qs": querystring(request, before=None, after=None),
            "may_export": portal.may(Capability.CDRS_EXPORT),
        },
        section="cdrs",
    )


CSV_COLUMNS = [
    "id",
    "kind",
    "party",
    "station",
    "start_date_time",
    "end_date_time",
    "currency",
    "total_energy_kwh",
    "total_time_hours",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "credited",
]


EXPORT_CHUNK = 1000  # CDRs per database read, and per chunk of CSV sent


class _Echo:
    def write(self, value: str) -> str:
        return value


@portal_view(Capability.CDRS_EXPORT, methods=("GET",))
def cdr_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every CDR matching the list's filters as CSV, streamed: one keyset read of
    `EXPORT_CHUNK` rows becomes one chunk of the response, under ASGI too
    (`portal.views.streaming`), so memory stays flat for a million rows. Amounts are exact
    decimals as stored."""
    portal = request.portal  # type: ignore[attr-defined]
    filters = _cdr_filters(request, portal.tenant_id)
    writer = csv.writer(_Echo())
    chunk = EXPORT_CHUNK

    def lines() -> Iterator[str]:
        yield writer.writerow(CSV_COLUMNS)
        rows = charging.cdr_rows_iter(tenant_id=portal.tenant_id, chunk=chunk, **filters)
        while batch := list(islice(rows, chunk)):
            yield "".join(
                writer.writerow(
                    [
                        r.ocpi_id,
                        r.kind,
                        r.party,
                        r.station_identity or "",
                        r.start_date_time.isoformat(),
                        r.end_date_time.isoformat(),
                        r.currency,
                        r.total_energy_kwh,
                        r.total_time_hours,
                        r.total_cost_excl_vat,
                        "" if r.total_cost_incl_vat is None else r.total_cost_incl_vat,
                        "yes" if r.credited else "no",
                    ]
                )
                for r in batch
            )

    response = streaming_response(request, lines(), content_type="text/csv; charset=utf-8")
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = (
        f'attachment; filename="cdrs-{portal.tenant.slug}-{stamp}.csv"'
    )
    return response


DIMENSIONS = [
    ("Start fee (flat)", "fixed_cost"),
    ("Energy", "energy_cost"),
    ("Charging time", "time_cost"),
    ("Parking time", "parking_cost"),
    ("Reservation", "reservation_cost"),
]


@portal_view()
def cdr_detail(request: HttpRequest, cdr_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        cdr = charging.cdr_get(tenant_id=portal.tenant_id, cdr_id=cdr_id)
    except NotFound:
        return not_found(request, f"CDR {cdr_id}", section="cdrs")
    pricing = charging.cdr_pricing(tenant_id=portal.tenant_id, cdr_id=cdr_id)
    breakdown = cost_breakdown(
        [
            (
                label,
                cdr.amounts.get(f"total_{key}_excl_vat"),
                cdr.amounts.get(f"total_{key}_incl_vat"),
            )
            for label, key in DIMENSIONS
        ],
        ("Total", cdr.amounts.get("total_cost_excl_vat"), cdr.amounts.get("total_cost_incl_vat")),
        currency=cdr.currency,
        adjusted=bool(pricing.get("price_adjustments")),
    )
    return page(
        request,
        "portal/cdrs/detail.html",
        {
            "c": cdr,
            "breakdown": breakdown,
            "periods": pricing.get("charging_periods") or [],
            "warnings": pricing.get("warnings") or [],
            "location": cdr.data.get("cdr_location") or {},
            "token": cdr.data.get("cdr_token") or {},
            **cdr_rated_context(portal, cdr_id),
        },
        section="cdrs",
    )


@portal_view()
def flag_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    status = request.GET.get("status", FlagStatus.OPEN.value)
    reason = q(request, "reason")
    pager = id_page(
        request,
        partial(
            charging.flag_rows,
            tenant_id=portal.tenant_id,
            status=status or None,
            reason=reason or None,
        ),
        newest_first=True,
    )
    return page(
        request,
        "portal/cdrs/flags.html",
        {
            "rows": pager.rows,
            "pager": pager,
            "status": status,
            "reason": reason,
            "reasons": [r.value for r in FlagReason],
            "words": {k.value: v for k, v in charging.FLAG_REASON_WORDS.items()},
            "statuses": [s.value for s in FlagStatus],
            "may_review": portal.may(Capability.CDRS_REVIEW),
        },
        section="flags",
    )


@portal_view(Capability.CDRS_REVIEW)
def flag_action(request: HttpRequest, flag_id: int, action: str) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = FlagNoteForm(request.POST)
    form.is_valid()  # an optional free text: always valid
    try:
        with transaction.atomic():
            if action == "dismiss":
                row = charging.flag_dismiss(
                    tenant_id=portal.tenant_id,
                    flag_id=flag_id,
                    note=form.cleaned_data["note"],
                    actor=actor(request),
                )
                message = "dismissed"
            else:
                row, message = charging.flag_reprice(
                    tenant_id=portal.tenant_id, flag_id=flag_id, now=now(), actor=actor(request)
                )
        notify(request, f"Flag {flag_id} ({row.reason}): {message}.")
    except DomainError as exc:
        notify(request, f"Flag {flag_id}: " + "; ".join(problem_messages(exc)))
    return redirect("portal:flags", portal.tenant.slug)
