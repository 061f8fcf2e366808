"""eMSP roaming (issue 19, area "emsp"): send a command to a CPO partner and see the recent
ones with their results; the reconciliation report of a partner's CDRs for a period."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import NotFound, ValidationFailed
from apps.parties.contracts import Capability
from apps.roaming import api as roaming_api
from portal.access import portal_view
from portal.forms.roaming_emsp import CommandForm, ReconciliationForm
from portal.views.common import actor, notify, page, problem_messages


def _render(
    request: HttpRequest, command_form: CommandForm | None = None, status: int = 200
) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    connections = roaming_api.emsp_cpo_connections(tenant_id=portal.tenant_id)
    names = dict(connections)
    recon = ReconciliationForm(request.GET or None, connections=connections)
    report = None
    if recon.is_bound and recon.is_valid():
        d = recon.cleaned_data
        report = roaming_api.reconciliation_report(
            tenant_id=portal.tenant_id,
            connection_id=d["connection"],
            period_from=datetime.combine(d["period_from"], time(0), tzinfo=UTC),
            period_to=datetime.combine(d["period_to"], time(0), tzinfo=UTC),
        )
    commands = [
        {"c": c, "partner": names.get(c.connection_id, str(c.connection_id))}
        for c in roaming_api.commands_sent(tenant_id=portal.tenant_id, limit=20)
    ]
    return page(
        request,
        "portal/roaming/emsp.html",
        {
            "connections": connections,
            "command_form": command_form or CommandForm(connections=connections),
            "may_command": portal.may(Capability.STATIONS_COMMAND),
            "commands": commands,
            "recon_form": recon,
            "report": report,
        },
        section="roaming",
        status=status,
    )


@portal_view(Capability.VIEW)
def emsp_roaming(request: HttpRequest) -> HttpResponse:
    return _render(request)


@portal_view(Capability.STATIONS_COMMAND)
def emsp_command_send(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    connections = roaming_api.emsp_cpo_connections(tenant_id=portal.tenant_id)
    form = CommandForm(request.POST, connections=connections)
    if not form.is_valid():
        return _render(request, form, status=400)
    data = dict(form.cleaned_data)
    connection_id = data.pop("connection")
    command = data.pop("command")
    try:
        sent = roaming_api.command_send(
            tenant_id=portal.tenant_id,
            connection_id=connection_id,
            command=command,
            args=data,
            actor=actor(request),
        )
    except (ValidationFailed, NotFound) as exc:
        for message in problem_messages(exc):
            form.add_error(None, message)
        return _render(request, form, status=400)
    notify(request, f"{sent.command} sent: the partner answered {sent.response or 'nothing'}.")
    return redirect("portal:roaming_emsp", portal.tenant.slug)
