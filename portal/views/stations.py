from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.charging import api as charging
from apps.common.errors import DomainError, NotFound, ServiceUnavailable
from apps.locations import api as locations
from apps.locations.contracts import CommandRequest, CommandType, StationState
from apps.parties.contracts import Capability
from apps.tariffs import api as tariffs
from portal.access import portal_view
from portal.views.common import (
    PAGE_SIZE,
    audit,
    notify,
    now,
    page,
    parse_datetime_local,
    problem_messages,
    q,
    querystring,
)


@portal_view()
def station_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    state = q(request, "state")
    rows = locations.station_rows(
        tenant_id=portal.tenant_id,
        now=now(),
        limit=PAGE_SIZE + 1,
        after_identity=q(request, "after") or None,
        search=q(request, "q") or None,
        state=state if state in {s.value for s in StationState} else None,
        unstable=q(request, "unstable") == "1",
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    context = {
        "rows": rows,
        "states": [s.value for s in StationState],
        "state": state,
        "search": q(request, "q"),
        "unstable": q(request, "unstable") == "1",
        "next_qs": querystring(request, after=rows[-1].identity) if more and rows else "",
        "first_qs": querystring(request, after=None) if q(request, "after") else "",
        "poll_qs": request.GET.urlencode(),
        "filtered": bool(state or q(request, "q") or q(request, "unstable")),
    }
    if getattr(request, "htmx", False) and request.GET.get("fragment") == "rows":
        return page(request, "portal/stations/_rows.html", context, section="stations")
    return page(request, "portal/stations/list.html", context, section="stations")


COMMANDS = [
    ("RESET", "Reset", ["type"]),
    ("UNLOCK_CONNECTOR", "Unlock connector", ["evse_uid"]),
    ("CHANGE_AVAILABILITY", "Change availability", ["evse_uid", "operative"]),
    ("START_SESSION", "Start session", ["evse_uid", "token_uid"]),
    ("STOP_SESSION", "Stop session", ["session_id"]),
    ("GET_CONFIGURATION", "Get configuration", ["key"]),
    ("CHANGE_CONFIGURATION", "Change configuration", ["key", "value"]),
    ("TRIGGER_MESSAGE", "Trigger message", ["key"]),
]


@portal_view()
def station_detail(request: HttpRequest, station_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    at = now()
    try:
        detail = locations.station_detail(tenant_id=portal.tenant_id, station_id=station_id, now=at)
    except NotFound:
        return page(
            request,
            "portal/not_found.html",
            {"what": f"charge station {station_id}"},
            section="stations",
            status=404,
        )
    sessions = charging.session_rows(
        tenant_id=portal.tenant_id, limit=10, charge_station_id=station_id
    )
    messages = charging.station_messages(
        tenant_id=portal.tenant_id, charge_station_id=station_id, limit=30
    )
    assignments = tariffs.assignments_of_station(
        tenant_id=portal.tenant_id, charge_station_id=station_id, now=at
    )
    codes = tariffs.tariff_code_rows(tenant_id=portal.tenant_id)
    connectors = [
        (f"{e.uid}/{c.id}", f"{e.evse_id or e.uid} connector {c.id}")
        for e in detail.evses
        for c in e.connectors
    ]
    return page(
        request,
        "portal/stations/detail.html",
        {
            "d": detail,
            "s": detail.row,
            "sessions": sessions,
            "messages": messages,
            "assignments": assignments,
            "codes": codes,
            "connectors": connectors,
            "commands": COMMANDS,
            "command_result": request.session.pop("portal_command_result", None),
        },
        section="stations",
    )


@portal_view(Capability.STATIONS_COMMAND)
def station_command(request: HttpRequest, station_id: int) -> HttpResponse:
    """Send a remote command and show the station's answer (or why nothing was sent)."""
    portal = request.portal  # type: ignore[attr-defined]
    kind = request.POST.get("command", "")
    names = {c[0]: c[2] for c in COMMANDS}
    params = {k: request.POST.get(k, "").strip() for k in names.get(kind, [])}
    result: dict[str, str]
    try:
        command = CommandRequest(type=CommandType(kind), params=params)
    except ValueError:
        result = {
            "status": "error",
            "text": f"{kind or 'This command'} cannot be sent from the portal yet: this "
            "platform relays " + ", ".join(c.value for c in CommandType) + ".",
        }
    else:
        try:
            with transaction.atomic():
                answer = locations.charge_station_command_submit(
                    tenant_id=portal.tenant_id, station_id=station_id, command=command
                )
                audit(
                    request,
                    action="station.command",
                    object_type="charge_station",
                    object_id=station_id,
                    after={"command": kind, "params": params, "result": answer.result},
                )
            result = {
                "status": answer.result,
                "text": f"The station answered {answer.result}"
                + (f": {answer.message}" if answer.message else "."),
            }
        except ServiceUnavailable as exc:
            result = {"status": "error", "text": f"Not sent. {exc.message}"}
        except DomainError as exc:
            result = {"status": "error", "text": "Not sent. " + "; ".join(problem_messages(exc))}
    result["command"] = kind
    if getattr(request, "htmx", False):
        return page(
            request, "portal/stations/_command_result.html", {"r": result}, section="stations"
        )
    request.session["portal_command_result"] = result
    return redirect("portal:station", portal.tenant.slug, station_id)


@portal_view(Capability.TARIFFS_EDIT)
def station_assign_tariff(request: HttpRequest, station_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    code = request.POST.get("tariff_code", "")
    connector = request.POST.get("connector", "")
    at = now()
    effective = parse_datetime_local(request.POST.get("effective_from", "")) or at
    evse_uid, _, connector_id = connector.partition("/") if connector else (None, "", None)
    try:
        with transaction.atomic():
            record = tariffs.tariff_assignment_create(
                tenant_id=portal.tenant_id,
                charge_station_id=station_id,
                tariff_code=code,
                effective_from=max(effective, at),
                now=at,
                evse_uid=evse_uid or None,
                connector_id=connector_id or None,
            )
            audit(
                request,
                action="tariff.assign",
                object_type="charge_station",
                object_id=station_id,
                after=record,
            )
        target = f"connector {connector}" if connector else "the station (default)"
        notify(
            request,
            f"Tariff code {code} assigned to {target} "
            f"from {record.effective_from:%Y-%m-%d %H:%M} UTC.",
        )
    except DomainError as exc:
        notify(request, "Not assigned: " + "; ".join(problem_messages(exc)))
    return redirect("portal:station", portal.tenant.slug, station_id)
