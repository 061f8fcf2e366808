from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.charging import api as charging
from apps.charging.contracts import OcppMessage
from apps.common.errors import DomainError, NotFound, Problem, ServiceUnavailable, ValidationFailed
from apps.devices import api as devices
from apps.locations import api as locations
from apps.locations.contracts import (
    ChangeConfiguration,
    ClearCache,
    CommandOutcome,
    CommandRequest,
    CommandStatus,
    CommandType,
    ConfigurationChanged,
    ConfigurationKey,
    ConfigurationReport,
    DataTransfer,
    GetConfiguration,
    GetLocalListVersion,
    LocalListVersion,
    RemoteStarted,
    StationCommand,
    StationDetail,
    StationState,
    TriggerMessage,
    VendorData,
)
from apps.parties.contracts import Capability
from apps.tariffs import api as tariffs
from portal.access import portal_view
from portal.forms.actions import StationCommandForm, TariffAssignForm, problems_in_words
from portal.views.common import (
    actor,
    keyset_page,
    not_found,
    notify,
    now,
    page,
    problem_messages,
    q,
)


@portal_view()
def station_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    state = q(request, "state")
    at = now()
    pager = keyset_page(
        request,
        lambda after, before, limit: locations.station_rows(
            tenant_id=portal.tenant_id,
            now=at,
            limit=limit,
            after_identity=after,
            before_identity=before,
            search=q(request, "q") or None,
            state=state if state in {s.value for s in StationState} else None,
            unstable=q(request, "unstable") == "1",
        ),
        key=lambda r: r.identity,
        forward="after",
        back="before",
    )
    context = {
        "rows": pager.rows,
        "pager": pager,
        "states": [s.value for s in StationState],
        "state": state,
        "search": q(request, "q"),
        "unstable": q(request, "unstable") == "1",
        "poll_qs": request.GET.urlencode(),
        "filtered": bool(state or q(request, "q") or q(request, "unstable")),
    }
    if getattr(request, "htmx", False) and request.GET.get("fragment") == "rows":
        return page(request, "portal/stations/_rows.html", context, section="stations")
    return page(request, "portal/stations/list.html", context, section="stations")


# (kind, label, the form fields it reads, what the form calls a field for this command).
# The first five are the REST API's commands (OCPI CommandType); the others are built here
# from the protocol-neutral command classes. The form shows a command's own fields only.
COMMANDS: list[tuple[str, str, list[str], dict[str, str]]] = [
    ("RESET", "Reset", ["type"], {}),
    ("UNLOCK_CONNECTOR", "Unlock connector", ["evse_uid"], {}),
    ("CHANGE_AVAILABILITY", "Change availability", ["evse_uid", "operative"], {}),
    ("START_SESSION", "Start session", ["evse_uid", "token_uid"], {}),
    ("STOP_SESSION", "Stop session", ["session_id"], {}),
    ("GET_CONFIGURATION", "Get configuration", ["key"], {"key": "Configuration keys"}),
    (
        "CHANGE_CONFIGURATION",
        "Change configuration",
        ["key", "value"],
        {"key": "Configuration key", "value": "New value"},
    ),
    ("TRIGGER_MESSAGE", "Trigger message", ["key", "evse_uid"], {"key": "Message"}),
    ("CLEAR_CACHE", "Clear authorization cache", [], {}),
    ("GET_LOCAL_LIST_VERSION", "Get local list version", [], {}),
    (
        "DATA_TRANSFER",
        "Data transfer (vendor message)",
        ["key", "value"],
        {"key": "Vendor id / message id", "value": "Data"},
    ),
]


def _config_key(text: str) -> ConfigurationKey:
    """`HeartbeatInterval` (1.x) or `OCPPCommCtrlr/HeartbeatInterval` (2.0.1 component and
    variable)."""
    component, _, name = text.strip().rpartition("/")
    return ConfigurationKey(name=name, component=component)


def _field_problem(path: str, text: str) -> ValidationFailed:
    return ValidationFailed("invalid command", problems=(Problem(path, text),))


def _evse_ocpp_id(detail: StationDetail, uid: str) -> int | None:
    for e in detail.evses:
        if e.uid == uid:
            return e.ocpp_evse_id
    return None


def _portal_command(
    tenant_id: int, station_id: int, kind: str, p: dict[str, str]
) -> StationCommand:
    """The command a portal form asks for (ValidationFailed naming the field if unusable)."""
    if kind in {t.value for t in CommandType}:
        params: dict[str, str] = {}
        if p.get("evse_uid"):
            params["evse_uid"] = p["evse_uid"]
        if kind == "RESET":
            params["reset_type"] = "HARD" if p.get("type", "").lower() == "hard" else "SOFT"
        elif kind == "CHANGE_AVAILABILITY":
            params["availability"] = "OPERATIVE" if p.get("operative") != "false" else "INOPERATIVE"
        elif kind == "START_SESSION":
            params["token_uid"] = p.get("token_uid", "")
        elif kind == "STOP_SESSION":
            if not p.get("session_id", "").isdigit():
                raise _field_problem("session_id", "the id of one of this station's sessions")
            owner, txid = charging.session_ocpp_transaction(
                tenant_id=tenant_id, session_id=int(p["session_id"])
            )
            if owner != station_id:
                raise _field_problem("session_id", "that session is not at this station")
            params["ocpp_transaction_id"] = txid
        return locations.charge_station_command_build(
            tenant_id=tenant_id,
            station_id=station_id,
            command=CommandRequest(type=CommandType(kind), params=params),
        )
    key = p.get("key", "").strip()
    if kind == "GET_CONFIGURATION":
        return GetConfiguration(keys=tuple(_config_key(k) for k in key.split(",") if k.strip()))
    if kind == "CHANGE_CONFIGURATION":
        if not key:
            raise _field_problem("key", "the configuration key to change")
        return ChangeConfiguration(key=_config_key(key), value=p.get("value", ""))
    if kind == "TRIGGER_MESSAGE":
        if not key:
            raise _field_problem("key", "the message to trigger, e.g. StatusNotification")
        detail = locations.station_detail(tenant_id=tenant_id, station_id=station_id, now=now())
        evse = _evse_ocpp_id(detail, p.get("evse_uid", "")) if p.get("evse_uid") else None
        return TriggerMessage(message=key, evse_id=evse)
    if kind == "CLEAR_CACHE":
        return ClearCache()
    if kind == "GET_LOCAL_LIST_VERSION":
        return GetLocalListVersion()
    if kind == "DATA_TRANSFER":
        vendor, _, message = key.partition("/")
        if not vendor.strip():
            raise _field_problem("key", "the vendor id, e.g. com.vendor or com.vendor/MessageId")
        return DataTransfer(
            vendor_id=vendor.strip(), message_id=message.strip(), data=p.get("value") or None
        )
    raise _field_problem("command", f"unknown command {kind!r}")


def _key_name(key: ConfigurationKey) -> str:
    return f"{key.component}/{key.name}" if key.component else key.name


def _answer_lines(outcome: CommandOutcome) -> list[str]:
    """What the station's parsed answer says, line by line (configuration values, ...)."""
    data = outcome.data
    if isinstance(data, ConfigurationReport):
        lines = [
            f"{_key_name(v.key)} = {v.value if v.value is not None else '(no value)'}"
            + (" (read-only)" if v.readonly else "")
            for v in data.values
        ]
        return lines + [f"{_key_name(k)}: unknown to the station" for k in data.unknown]
    if isinstance(data, ConfigurationChanged) and data.reboot_required:
        return ["the station needs a reboot for the change to take effect"]
    if isinstance(data, RemoteStarted) and data.transaction_id:
        return [f"transaction {data.transaction_id}"]
    if isinstance(data, LocalListVersion):
        return [f"local list version {data.version}" + (" (no list)" if not data.version else "")]
    if isinstance(data, VendorData) and data.data is not None:
        return [f"data: {data.data}"]
    return []


def _message_log(tenant_id: int, station_id: int, *, limit: int) -> list[OcppMessage]:
    """The station's messages, newest first: transaction messages (verbatim) and status
    notifications (charging), everything else it reported (devices: firmware, diagnostics,
    logs, security events, DataTransfer, 2.0.1 notifications) and the commands sent to it
    with its answers (locations' command log)."""
    out = charging.station_messages(tenant_id=tenant_id, charge_station_id=station_id, limit=limit)
    for e in devices.station_events(tenant_id=tenant_id, station_id=station_id, limit=limit):
        out.append(
            OcppMessage(
                at=e.received_at,
                direction="station → CSMS",
                action=e.action,
                summary=" ".join(
                    x for x in (str(e.kind).lower(), e.status, _request_id(e.request_id)) if x
                ),
                frame=json.dumps(e.details, indent=1, sort_keys=True) if e.details else "",
            )
        )
    for c in locations.charge_station_commands(
        tenant_id=tenant_id, station_id=station_id, limit=limit, newest_first=True
    ):
        said = f" ({c.station_status})" if c.station_status else ""
        out.append(
            OcppMessage(
                at=c.requested_at,
                direction="CSMS → station",
                action=c.ocpp_action or str(c.kind),
                summary=f"{c.status}{said}"
                + (f", then {c.progress[-1].get('status')}" if c.progress else ""),
                frame=json.dumps(
                    {"sent": c.ocpp_request, "answer": c.response}, indent=1, sort_keys=True
                )
                if c.ocpp_request is not None
                else "",
            )
        )
    out.sort(key=lambda m: m.at, reverse=True)
    return out[:limit]


def _request_id(value: int | None) -> str:
    return f"request {value}" if value is not None else ""


@portal_view()
def station_detail(request: HttpRequest, station_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    at = now()
    try:
        detail = locations.station_detail(tenant_id=portal.tenant_id, station_id=station_id, now=at)
    except NotFound:
        return not_found(request, f"charge station {station_id}", section="stations")
    sessions = charging.session_rows(
        tenant_id=portal.tenant_id, limit=10, charge_station_id=station_id
    )
    messages = _message_log(portal.tenant_id, station_id, limit=30)
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
            "commands": [
                {
                    "kind": kind,
                    "label": label,
                    "fields": " ".join(fields),
                    "names": json.dumps(names),
                }
                for kind, label, fields, names in COMMANDS
            ],
            "command_result": request.session.pop("portal_command_result", None),
            "command_log": _command_log(portal.tenant_id, station_id),
        },
        section="stations",
    )


@portal_view(Capability.STATIONS_COMMAND)
def station_command(request: HttpRequest, station_id: int) -> HttpResponse:
    """Send a remote command and show the station's answer (or why nothing was sent). The
    command waits for the station (up to STATION_COMMAND_TIMEOUT), so it runs outside any
    database transaction; the command log keeps it whatever the outcome, the audit log
    records who sent it."""
    portal = request.portal  # type: ignore[attr-defined]
    form = StationCommandForm(request.POST, commands={c[0]: c[2] for c in COMMANDS})
    kind = request.POST.get("command", "")
    result: dict[str, Any]
    try:
        if not form.is_valid():
            raise ValidationFailed(
                "invalid command",
                problems=tuple(Problem(k, str(e)) for k, es in form.errors.items() for e in es),
            )
        command = _portal_command(portal.tenant_id, station_id, kind, form.params())
        outcome = locations.charge_station_command(
            tenant_id=portal.tenant_id,
            station_id=station_id,
            command=command,
            requested_by=f"user:{request.user.pk}",
            actor=actor(request),
        )
    except ServiceUnavailable as exc:
        result = {"status": "error", "text": f"Not sent. {exc.message}"}
    except DomainError as exc:
        result = {"status": "error", "text": "Not sent. " + "; ".join(problem_messages(exc))}
    else:
        said = f" ({outcome.station_status})" if outcome.station_status else ""
        result = {
            "status": outcome.status.value,
            "text": _OUTCOME_TEXT[outcome.status]
            + said
            + (f": {outcome.message}" if outcome.message else "."),
            "lines": _answer_lines(outcome),
        }
    result["command"] = kind
    if getattr(request, "htmx", False):
        return page(
            request,
            "portal/stations/_command_answer.html",
            {"r": result, "command_log": _command_log(portal.tenant_id, station_id)},
            section="stations",
        )
    request.session["portal_command_result"] = result
    return redirect("portal:station", portal.tenant.slug, station_id)


def _command_log(tenant_id: int, station_id: int) -> Any:
    """The station page's command log: its newest 20 commands."""
    return locations.charge_station_commands(
        tenant_id=tenant_id, station_id=station_id, limit=20, newest_first=True
    )


_OUTCOME_TEXT = {
    CommandStatus.ACCEPTED: "The station accepted it",
    CommandStatus.REJECTED: "The station rejected it",
    CommandStatus.NOT_SUPPORTED: "The station (or its OCPP version) does not support it",
    CommandStatus.FAILED: "The station could not do it",
    CommandStatus.OFFLINE: "Not sent: the station is not connected to any gateway node",
    CommandStatus.TIMEOUT: "The station did not answer in time",
    CommandStatus.PENDING: "No outcome yet",
}


@portal_view(Capability.TARIFFS_EDIT)
def station_assign_tariff(request: HttpRequest, station_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = TariffAssignForm(request.POST)
    if not form.is_valid():
        notify(request, "Not assigned: " + problems_in_words(form))
        return redirect("portal:station", portal.tenant.slug, station_id)
    code, connector = form.cleaned_data["tariff_code"], form.cleaned_data["connector"]
    at = now()
    effective = form.cleaned_data["effective_from"] or at
    evse_uid, _, connector_id = connector.partition("/") if connector else (None, "", None)
    try:
        with transaction.atomic():
            record = tariffs.tariff_assignment_create(
                tenant_id=portal.tenant_id,
                charge_station_id=station_id,
                tariff_code=code,
                effective_from=max(effective, at),
                now=at,
                actor=actor(request),
                evse_uid=evse_uid or None,
                connector_id=connector_id or None,
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
