"""Where people see rating: a CDR's three rated views (the CDR page includes them), the
billing part of the flagged queue with its re-rate button, and the per-eMSP settlement
report with its CSV export (docs/billing.md "Seeing the money")."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import partial
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from apps.common.errors import DomainError
from apps.parties.contracts import Capability
from apps.rating import api as rating
from apps.rating.contracts import (
    EngineView,
    RatedLineRow,
    RatingFlagReason,
    RatingFlagRow,
    RatingFlagStatus,
    SettlementReport,
    SettlementSide,
)
from apps.tariffs.contracts import BillingEngine
from portal.access import Portal, portal_view
from portal.forms.actions import problems_in_words
from portal.forms.rating import RerateForm, SettlementForm
from portal.views.common import actor, id_page, notify, now, page, problem_messages, q
from portal.views.money import money
from portal.views.streaming import streaming_response

ENGINE_TITLES = {
    BillingEngine.RETAIL.value: ("Driver pays", "retail: eMSP → driver"),
    BillingEngine.WHOLESALE.value: ("eMSP pays CPO", "wholesale: CPO → eMSP"),
    BillingEngine.REIMBURSEMENT.value: ("Owner receives", "reimbursement: CPO → charger owner"),
}
DIMENSION_LABELS = [
    ("fixed", "Start fee"),
    ("energy", "Energy"),
    ("time", "Time"),
    ("parking", "Parking"),
    ("reservation", "Reservation"),
    ("adjustment", "Mark-up / margin"),
]
RULE_URL = "portal:billing_rule"  # the billing rule editor's page (rules' area), when present


def rule_url(slug: str, rule_id: int | None) -> str:
    """The billing rule's page, or "" when there is none (yet) in this build."""
    if rule_id is None:
        return ""
    try:
        return reverse(RULE_URL, args=[slug, rule_id])
    except NoReverseMatch:
        return ""


def _line(line: RatedLineRow, slug: str, keys: list[str]) -> dict[str, Any]:
    c = line.currency
    return {
        "id": line.id,
        "seq": line.seq,
        "kind": line.kind,
        "reverses_seq": line.reverses_id,
        "reason": line.reason,
        "seller": line.seller,
        "buyer": line.buyer,
        "own_charge": line.own_charge,
        "rule": f"{line.rule} v{line.rule_version}" if line.rule else "",
        "rule_url": rule_url(slug, line.rule_id),
        "tariff": f"{line.tariff} v{line.tariff_version}" if line.tariff else "—",
        "currency": c,
        "dimensions": [
            {"label": label, "amount": money(line.amounts[key], c), "exact": line.exact[key]}
            for key, label in DIMENSION_LABELS
            if key in keys
        ],
        "excl": money(line.total_excl_vat, c),
        "vat_rate": f"{line.vat_rate.normalize():f}",
        "vat_source": line.vat_source,
        "vat_exemption_reason": line.vat_exemption_reason,
        "vat": money(line.vat, c),
        "incl": money(line.total_incl_vat, c),
        "hcc": line.hcc,
        "rated_by": line.rated_by,
        "created_at": line.created_at,
        "kwh": line.energy_kwh,
    }


def _flag(flag: RatingFlagRow, slug: str) -> dict[str, Any]:
    return {
        "id": flag.id,
        "cdr_id": flag.cdr_id,
        "cdr_ocpi_id": flag.cdr_ocpi_id,
        "engine": flag.engine,
        "reason": flag.reason,
        "words": rating.RATING_FLAG_REASON_WORDS.get(RatingFlagReason(flag.reason), ""),
        "rules": [{"id": i, "url": rule_url(slug, i)} for i in flag.rule_ids],
        "status": flag.status,
        "attempts": flag.attempts,
        "flagged_at": flag.flagged_at,
        "last_tried_at": flag.last_tried_at,
        "next_retry_at": flag.next_retry_at,
        "closed_at": flag.closed_at,
    }


def _view(view: EngineView, slug: str) -> dict[str, Any]:
    title, subtitle = ENGINE_TITLES[view.engine]
    # Only the dimensions some line of this engine has (energy at least): a narrow table.
    keys = [k for k, _ in DIMENSION_LABELS if any(x.amounts[k] for x in view.lines)]
    keys = keys or ["energy"]
    lines = [_line(line, slug, keys) for line in view.lines]
    seqs = {line.id: line.seq for line in view.lines}
    for line in lines:
        line["reverses_seq"] = seqs.get(line["reverses_seq"]) if line["reverses_seq"] else None
    return {
        "engine": view.engine,
        "title": title,
        "subtitle": subtitle,
        "lines": lines,
        "totals": [
            {
                "currency": t.currency,
                "excl": money(t.total_excl_vat, t.currency),
                "vat": money(t.vat, t.currency),
                "incl": money(t.total_incl_vat, t.currency),
            }
            for t in view.totals
        ],
        "flags": [_flag(f, slug) for f in view.flags],
    }


def cdr_rated_context(portal: Portal, cdr_id: int) -> dict[str, Any]:
    """The CDR page's rated views, as primitives for `portal/cdrs/_rated.html`."""
    views = rating.cdr_rated_views(tenant_id=portal.tenant_id, cdr_id=cdr_id)
    return {
        "rated_views": [_view(v, portal.tenant.slug) for v in views.views],
        "may_rerate": portal.may(Capability.CDRS_REVIEW),
        "rated_cdr_id": cdr_id,
    }


@portal_view()
def rating_flag_list(request: HttpRequest) -> HttpResponse:
    """The billing part of the flagged queue: CDRs an engine could not rate."""
    portal = request.portal  # type: ignore[attr-defined]
    status = request.GET.get("status", RatingFlagStatus.OPEN.value)
    reason, engine = q(request, "reason"), q(request, "engine")
    pager = id_page(
        request,
        partial(
            rating.rating_flag_rows,
            tenant_id=portal.tenant_id,
            status=status or None,
            reason=reason or None,
            engine=engine or None,
        ),
        newest_first=True,
    )
    return page(
        request,
        "portal/cdrs/rating_flags.html",
        {
            "rows": [_flag(f, portal.tenant.slug) for f in pager.rows],
            "pager": pager,
            "status": status,
            "reason": reason,
            "engine": engine,
            "reasons": [r.value for r in RatingFlagReason],
            "engines": [e.value for e in BillingEngine],
            "statuses": [s.value for s in RatingFlagStatus],
            "may_review": portal.may(Capability.CDRS_REVIEW),
            "here": request.get_full_path(),
        },
        section="flags",
    )


@portal_view(Capability.CDRS_REVIEW)
def cdr_rerate(request: HttpRequest, cdr_id: int) -> HttpResponse:
    """Re-rate one CDR now (after a rule fix): the rating service writes a reversal and a
    new line where the result differs and resolves the flags it fixes."""
    portal = request.portal  # type: ignore[attr-defined]
    form = RerateForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    target = back or reverse("portal:rating_flags", args=[portal.tenant.slug])
    if not form.is_valid():
        notify(request, f"CDR {cdr_id} not re-rated: {problems_in_words(form)}.")
        return redirect(target)
    try:
        outcome = rating.cdr_rerate(
            tenant_id=portal.tenant_id,
            cdr_id=cdr_id,
            actor=actor(request),
            reason=form.cleaned_data["reason"],
            now=now(),
        )
    except DomainError as exc:
        notify(request, f"CDR {cdr_id}: " + "; ".join(problem_messages(exc)))
        return redirect(target)
    notify(
        request,
        f"CDR {cdr_id} re-rated: {outcome.lines_written} line(s) written, "
        f"{outcome.flags_opened} flag(s) opened, {outcome.skipped} unchanged.",
    )
    return redirect(target)


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _at(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def _settlement_form(request: HttpRequest) -> SettlementForm:
    today = now().date()
    data = request.GET.copy()
    data.setdefault("date_from", _month_start(today).isoformat())
    data.setdefault("date_to", _next_month(today).isoformat())
    return SettlementForm(data)


def _report(portal: Portal, form: SettlementForm) -> SettlementReport:
    d = form.cleaned_data
    return rating.settlement_report(
        tenant_id=portal.tenant_id,
        period_from=_at(d["date_from"]),
        period_to=_at(d["date_to"]),
        party_id=d.get("party"),
        side=d["side"],
    )


def _kwh(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.001')):f}"


@portal_view()
def settlement(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = _settlement_form(request)
    raw_side = form.data.get("side") or ""
    sides = {s.value: s for s in SettlementSide}
    side = sides.get(raw_side, SettlementSide.RECEIVABLE)
    context: dict[str, Any] = {
        "form": form,
        "f": {k: form.data.get(k, "") for k in ("date_from", "date_to", "side", "party")},
        "sides": [s.value for s in SettlementSide],
        "parties": rating.settlement_parties(tenant_id=portal.tenant_id, side=side),
        "may_export": portal.may(Capability.CDRS_EXPORT),
        "rows": [],
        "totals": [],
        "problems": "",
    }
    if not form.is_valid():
        context["problems"] = problems_in_words(form)
        return page(request, "portal/settlement.html", context, section="settlement", status=400)
    report = _report(portal, form)
    context["rows"] = [
        {
            "party": r.party or "—",
            "party_name": r.party_name,
            "currency": r.currency,
            "own_charge": r.own_charge,
            "cdrs": r.cdrs,
            "kwh": _kwh(r.energy_kwh),
            "excl": money(r.total_excl_vat, r.currency),
            "vat": money(r.vat, r.currency),
            "incl": money(r.total_incl_vat, r.currency),
        }
        for r in report.rows
    ]
    context["totals"] = [
        {
            "currency": t.currency,
            "excl": money(t.total_excl_vat, t.currency),
            "vat": money(t.vat, t.currency),
            "incl": money(t.total_incl_vat, t.currency),
        }
        for t in report.totals
    ]
    context["export_qs"] = request.GET.urlencode()
    context["side"] = report.side.value
    return page(request, "portal/settlement.html", context, section="settlement")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(report: SettlementReport) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rating.settlement_csv_rows(report):
        yield writer.writerow(row)


@portal_view(Capability.CDRS_EXPORT, methods=("GET",))
def settlement_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = _settlement_form(request)
    if not form.is_valid():
        notify(request, f"No export: {problems_in_words(form)}.")
        return redirect(reverse("portal:settlement", args=[portal.tenant.slug]))
    report = _report(portal, form)
    response = streaming_response(
        request, _csv_lines(report), content_type="text/csv; charset=utf-8"
    )
    d = form.cleaned_data
    response["Content-Disposition"] = (
        f'attachment; filename="settlement-{portal.tenant.slug}-'
        f'{d["date_from"].isoformat()}-{d["date_to"].isoformat()}.csv"'
    )
    return response
