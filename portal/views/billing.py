"""Billing rules: the list (active only by default), a rule with its versions, the editor
(new rule, new version, copy) which shows the overlapping rules before saving and saves over
them only when confirmed, retire, and the "which rule would match" tester."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import Conflict, DomainError, NotFound
from apps.locations import api as locations
from apps.parties import api as parties
from apps.parties.contracts import Capability
from apps.rating import api as rating
from apps.rating.contracts import BillingRuleRecord, RuleOverlap
from apps.tariffs import api as tariffs
from apps.tariffs.contracts import BillingEngine
from apps.tokens import api as tokens
from portal.access import portal_view
from portal.forms.actions import problems_in_words
from portal.forms.billing import (
    CPO_SCOPES,
    EMSP_SCOPES,
    WEEKDAYS,
    BillingRuleForm,
    RuleRetireForm,
    RuleTesterForm,
    initial_of,
)
from portal.views.common import actor, not_found, notify, now, page, problem_messages

SECTION = "billing_rules"
_SCOPE_WORDS = dict(CPO_SCOPES) | dict(EMSP_SCOPES)


def _days(mask: int) -> str:
    if mask == 127:
        return "every day"
    return ", ".join(label for value, label in WEEKDAYS if mask & int(value))


def _summary(record: BillingRuleRecord) -> dict[str, Any]:
    """A rule as the list shows it: its version in force, in words."""
    v = record.current
    t = v.terms
    window = ""
    if t.time_from or t.time_until:
        start = t.time_from.strftime("%H:%M") if t.time_from else "00:00"
        end = t.time_until.strftime("%H:%M") if t.time_until else "24:00"
        window = f" {start}–{end}"
    return {
        "r": record,
        "cpo": _scope_words(t.cpo_scope.value, t.cpo_scope_value),
        "emsp": _scope_words(t.emsp_scope.value, t.emsp_scope_value),
        "pricing": _pricing_words(record),
        "when": _days(t.weekdays) + window,
    }


def _scope_words(scope: str, value: str) -> str:
    return "any" if scope == "ANY" else f"{_SCOPE_WORDS.get(scope, scope)} {value}"


def _pricing_words(record: BillingRuleRecord) -> str:
    t = record.current.terms
    if t.pricing.value == "COST_PLUS":
        extra = f" + {t.markup_per_kwh} {t.currency}/kWh" if t.markup_per_kwh is not None else ""
        return f"wholesale + {t.markup_percent} %{extra}"
    words = record.current.tariff_name or f"tariff {t.tariff_id}"
    margins = [
        f"{amount} {t.currency}{unit}"
        for amount, unit in ((t.margin_per_session, "/session"), (t.margin_per_kwh, "/kWh"))
        if amount is not None
    ]
    return words + (" minus " + " and ".join(margins) if margins else "")


@portal_view()
def rule_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    engine = request.GET.get("engine", "")
    retired = request.GET.get("retired") == "1"
    rows = rating.billing_rule_list(
        tenant_id=portal.tenant_id,
        at=now(),
        engine=BillingEngine(engine) if engine in BillingEngine.__members__ else None,
        include_retired=retired,
        limit=500,
    )
    return page(
        request,
        "portal/billing/list.html",
        {
            "rows": [_summary(r) for r in rows],
            "engine": engine,
            "engines": [e.value for e in BillingEngine],
            "retired": retired,
            "may_edit": portal.may(Capability.BILLING_EDIT),
        },
        section=SECTION,
    )


@portal_view()
def rule_detail(request: HttpRequest, rule_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    at = now()
    try:
        record = rating.billing_rule_get(tenant_id=portal.tenant_id, rule_id=rule_id, at=at)
    except NotFound:
        return not_found(request, f"billing rule {rule_id}", section=SECTION)
    versions = [
        {
            "v": v,
            "cpo": _scope_words(v.terms.cpo_scope.value, v.terms.cpo_scope_value),
            "emsp": _scope_words(v.terms.emsp_scope.value, v.terms.emsp_scope_value),
            "when": _days(v.terms.weekdays),
            "state": "in force"
            if v.id == record.current.id and v.effective_from <= at
            else ("scheduled" if v.effective_from > at else "past"),
        }
        for v in reversed(record.versions)
    ]
    return page(
        request,
        "portal/billing/detail.html",
        {
            "s": _summary(record),
            "r": record,
            "versions": versions,
            "may_edit": portal.may(Capability.BILLING_EDIT),
            "history": parties.audit_list(
                tenant_id=portal.tenant_id,
                before_id=None,
                limit=20,
                object_type="billing_rule",
                object_id=str(rule_id),
            ),
        },
        section=SECTION,
    )


def _editor(
    request: HttpRequest,
    form: BillingRuleForm,
    *,
    mode: str,
    record: BillingRuleRecord | None,
    errors: dict[str, list[str]] | None = None,
    overlaps: tuple[RuleOverlap, ...] = (),
    checked: bool = False,
    status: int = 200,
) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    engine = record.engine if record is not None else None
    tariff_rows = [
        {"id": pk, "name": name, "currency": currency, "engine": e.value}
        for e in BillingEngine
        if engine is None or e == engine
        for pk, name, currency in tariffs.tariff_choices(tenant_id=portal.tenant_id, engine=e)
    ]
    return page(
        request,
        "portal/billing/form.html",
        {
            "f": form,
            "mode": mode,
            "r": record,
            "errors": errors or {},
            "overlaps": overlaps,
            "checked": checked,
            "tariffs": tariff_rows,
            "weekday_choices": WEEKDAYS,
            "cpo_scopes": CPO_SCOPES,
            "emsp_scopes": EMSP_SCOPES,
        },
        section=SECTION,
        status=status,
    )


def _field_errors(exc: DomainError) -> dict[str, list[str]]:
    """A service's problems by form field ("$.exceptions[0].value" -> "exceptions")."""
    out: dict[str, list[str]] = {}
    for p in exc.problems:
        name = p.path.removeprefix("$.").split("[")[0].split(".")[0] or "__all__"
        out.setdefault(name, []).append(p.message)
    if not exc.problems:
        out["__all__"] = [exc.message]
    return out


def _save(request: HttpRequest, mode: str, record: BillingRuleRecord | None) -> HttpResponse:
    """Check (op=check: show the overlaps, store nothing) or save; a save the service
    refuses for overlaps shows them with a confirmation box."""
    portal = request.portal  # type: ignore[attr-defined]
    form = BillingRuleForm(request.POST)
    if not form.is_valid():
        errors = {k: [str(e) for e in v] for k, v in form.errors.items()}
        return _editor(request, form, mode=mode, record=record, errors=errors, status=400)
    d = form.cleaned_data
    at = now()
    effective = d["effective_from"] or at
    terms = form.terms()
    engine = record.engine if mode == "version" and record is not None else None
    if engine is None:
        engine = BillingEngine(d["engine"]) if d["engine"] else BillingEngine.WHOLESALE
    if mode == "copy" and record is not None:
        engine = record.engine
    if request.POST.get("op") == "check":
        overlaps = rating.billing_rule_overlaps(
            tenant_id=portal.tenant_id,
            engine=engine,
            terms=terms,
            effective_from=effective,
            rule_id=record.id if mode == "version" and record is not None else None,
        )
        return _editor(request, form, mode=mode, record=record, overlaps=overlaps, checked=True)
    common: dict[str, Any] = {
        "tenant_id": portal.tenant_id,
        "terms": terms,
        "effective_from": effective,
        "actor": actor(request),
        "now": at,
        "reason": d["reason"],
        "confirm_overlaps": d["confirm_overlaps"],
    }
    try:
        with transaction.atomic():
            if mode == "version" and record is not None:
                saved = rating.billing_rule_version_add(rule_id=record.id, **common)
            elif mode == "copy" and record is not None:
                saved = rating.billing_rule_copy(rule_id=record.id, name=d["name"], **common)
            else:
                saved = rating.billing_rule_create(engine=engine, name=d["name"], **common)
    except Conflict as exc:
        overlaps = rating.billing_rule_overlaps(
            tenant_id=portal.tenant_id,
            engine=engine,
            terms=terms,
            effective_from=effective,
            rule_id=record.id if mode == "version" and record is not None else None,
        )
        if not overlaps:
            return _editor(
                request, form, mode=mode, record=record, errors=_field_errors(exc), status=409
            )
        return _editor(
            request, form, mode=mode, record=record, overlaps=overlaps, checked=True, status=409
        )
    except DomainError as exc:
        return _editor(
            request, form, mode=mode, record=record, errors=_field_errors(exc), status=400
        )
    notify(request, f"Billing rule {saved.name!r} saved (version {saved.versions[-1].version}).")
    return redirect("portal:billing_rule", portal.tenant.slug, saved.id)


@portal_view(Capability.BILLING_EDIT, methods=("GET", "POST"))
def rule_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request, "new", None)
    engine = request.GET.get("engine", "WHOLESALE")
    form = BillingRuleForm(
        initial={
            "engine": engine,
            "cpo_scope": "ANY",
            "emsp_scope": "ANY",
            "pricing": "TARIFF",
            "weekdays": [v for v, _ in WEEKDAYS],
        }
    )
    return _editor(request, form, mode="new", record=None)


def _rule_or_404(request: HttpRequest, rule_id: int) -> BillingRuleRecord | None:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        return rating.billing_rule_get(tenant_id=portal.tenant_id, rule_id=rule_id, at=now())
    except NotFound:
        return None


@portal_view(Capability.BILLING_EDIT, methods=("GET", "POST"))
def rule_version_new(request: HttpRequest, rule_id: int) -> HttpResponse:
    record = _rule_or_404(request, rule_id)
    if record is None:
        return not_found(request, f"billing rule {rule_id}", section=SECTION)
    if request.method == "POST":
        return _save(request, "version", record)
    form = BillingRuleForm(initial=initial_of(record.versions[-1].terms))
    return _editor(request, form, mode="version", record=record)


@portal_view(Capability.BILLING_EDIT, methods=("GET", "POST"))
def rule_copy(request: HttpRequest, rule_id: int) -> HttpResponse:
    record = _rule_or_404(request, rule_id)
    if record is None:
        return not_found(request, f"billing rule {rule_id}", section=SECTION)
    if request.method == "POST":
        return _save(request, "copy", record)
    initial = initial_of(record.current.terms) | {"name": f"{record.name} (copy)"}
    return _editor(request, BillingRuleForm(initial=initial), mode="copy", record=record)


@portal_view(Capability.BILLING_EDIT)
def rule_retire(request: HttpRequest, rule_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = RuleRetireForm(request.POST)
    if not form.is_valid():
        notify(request, "Not retired: " + problems_in_words(form))
        return redirect("portal:billing_rule", portal.tenant.slug, rule_id)
    at = now()
    try:
        with transaction.atomic():
            rating.billing_rule_retire(
                tenant_id=portal.tenant_id,
                rule_id=rule_id,
                effective_from=form.cleaned_data["effective_from"] or at,
                actor=actor(request),
                now=at,
                reason=form.cleaned_data["reason"],
            )
    except NotFound:
        return not_found(request, f"billing rule {rule_id}", section=SECTION)
    except DomainError as exc:
        notify(request, "Not retired: " + "; ".join(problem_messages(exc)))
        return redirect("portal:billing_rule", portal.tenant.slug, rule_id)
    notify(request, "Billing rule retired.")
    return redirect("portal:billing_rule", portal.tenant.slug, rule_id)


@portal_view()
def rule_tester(request: HttpRequest) -> HttpResponse:
    """Which rule would match a session at a station with a token starting at a moment."""
    portal = request.portal  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "stations": locations.charge_station_list(
            tenant_id=portal.tenant_id, after_id=None, limit=500
        ),
        "tokens": tokens.token_list(tenant_id=portal.tenant_id, after_id=None, limit=500),
        "engines": [e.value for e in BillingEngine],
    }
    status = 200
    if request.GET.get("station_id"):
        form = RuleTesterForm(request.GET)
        if form.is_valid():
            d = form.cleaned_data
            try:
                results = rating.billing_rule_test(
                    tenant_id=portal.tenant_id,
                    station_id=d["station_id"],
                    token_id=d["token_id"],
                    at=d["at"],
                    engine=BillingEngine(d["engine"]) if d["engine"] else None,
                )
                context["results"] = results
                context["facts"] = results[0].facts if results else ()
            except DomainError as exc:
                context["errors"] = problem_messages(exc)
                status = 400
        else:
            context["errors"] = [problems_in_words(form)]
            status = 400
        context["q"] = {
            k: request.GET.get(k, "") for k in ("station_id", "token_id", "at", "engine")
        }
    else:
        context["q"] = {"at": now().strftime("%Y-%m-%dT%H:%M")}
    return page(request, "portal/billing/tester.html", context, section=SECTION, status=status)
