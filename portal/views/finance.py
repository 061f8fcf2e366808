"""Finance (BILLING.md section 5, ADR 0039): the preview of a period (per account, cost
centre, VAT class and counterparty), exclusions, adjustments, the difference from the last
preview of the same period this browser session showed, dry run and post, the batch history
with downloads, and the GL mapping editor. Reading needs VIEW; every change FINANCE_POST.

The diff is against the last preview shown in this browser session (kept in the session per
period): what changed since you last looked, e.g. after adding an exclusion."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from djmoney.money import Money
from moneyed import CurrencyDoesNotExist, get_currency

from apps.common.errors import DomainError
from apps.invoicing import api as invoicing
from apps.invoicing.contracts import ExclusionKind, ExportFileKind, GlComponent, GlRole
from apps.parties.contracts import Capability
from apps.tariffs.contracts import BillingEngine
from portal.access import Portal, portal_view
from portal.forms.actions import problems_in_words
from portal.views.common import actor, not_found, notify, now, page, problem_messages
from portal.views.money import money

SECTION = "finance"
SESSION_KEY = "finance_last_preview"


# --- forms -----------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    """The period `[from, until)` in whole UTC days (until: the day after the last)."""

    period_start = forms.DateField(label="from", error_messages={"required": "give the first day"})
    period_end = forms.DateField(
        label="until (excl.)", error_messages={"required": "give the day after the last"}
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end <= start:
            self.add_error("period_end", "must be after the first day")
        return data


class PostForm(PeriodForm):
    dry_run = forms.BooleanField(required=False)


class ExclusionForm(forms.Form):
    kind = forms.ChoiceField(
        label="kind", choices=[(k.value, k.value.lower()) for k in ExclusionKind]
    )
    value = forms.CharField(
        label="value",
        max_length=64,
        error_messages={"required": "give the account, or the customer / party / payee id"},
    )
    reason = forms.CharField(
        label="reason", max_length=300, error_messages={"required": "say why it is left out"}
    )


class AdjustmentForm(PeriodForm):
    amount = forms.DecimalField(
        label="amount",
        max_digits=18,
        decimal_places=4,
        error_messages={"required": "give the amount (negative: a credit)"},
    )
    currency = forms.RegexField(
        label="currency",
        regex=r"^[A-Z]{3}$",
        initial="EUR",
        error_messages={"invalid": "a 3-letter currency code such as EUR"},
    )
    account = forms.CharField(
        label="account", max_length=32, error_messages={"required": "give the GL account"}
    )
    cost_centre = forms.CharField(label="cost centre", max_length=32, required=False)
    vat_class = forms.CharField(label="VAT class", max_length=8, required=False)
    counterparty = forms.CharField(label="counterparty", max_length=100, required=False)
    reason = forms.CharField(label="reason", max_length=300, error_messages={"required": "say why"})

    def clean_currency(self) -> str:
        value = str(self.cleaned_data["currency"])
        try:
            get_currency(value)
        except CurrencyDoesNotExist:
            raise forms.ValidationError("not an ISO 4217 currency code") from None
        return value


class GlMappingForm(forms.Form):
    engine = forms.ChoiceField(
        label="engine",
        choices=[("", "any"), *((e.value, e.value.lower()) for e in BillingEngine)],
        required=False,
    )
    role = forms.ChoiceField(label="role", choices=[(r.value, r.value.lower()) for r in GlRole])
    component = forms.ChoiceField(
        label="component", choices=[(c.value, c.value.lower()) for c in GlComponent]
    )
    vat_category = forms.ChoiceField(
        label="VAT category",
        choices=[("", "any"), ("S", "S"), ("Z", "Z"), ("E", "E"), ("AE", "AE"), ("O", "O")],
        required=False,
    )
    account = forms.CharField(
        label="account", max_length=32, error_messages={"required": "give the GL account"}
    )
    cost_centre = forms.CharField(label="cost centre", max_length=32, required=False)
    description = forms.CharField(label="description", max_length=200, required=False)


# --- helpers ---------------------------------------------------------------------------------


def _at(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def _default_period() -> tuple[date, date]:
    """The last whole month (UTC)."""
    first = now().date().replace(day=1)
    prev = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    return prev, first


def _period_form(data: Any) -> PeriodForm:
    start, end = _default_period()
    values = {
        "period_start": data.get("period_start") or start.isoformat(),
        "period_end": data.get("period_end") or end.isoformat(),
    }
    return PeriodForm(values)


def _home(portal: Portal, start: Any = "", end: Any = "") -> str:
    url = reverse("portal:finance", args=[portal.tenant.slug])
    if start and end:
        url += f"?period_start={start}&period_end={end}"
    return url


def _kwh(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.001')):f}"


def _table(groups: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "key": key or "—",
            "currency": cur,
            "debit": money(t.debit, cur),
            "credit": money(t.credit, cur),
            "kwh": _kwh(t.kwh),
            "lines": t.lines,
        }
        for key, per in groups.items()
        for cur, t in per.items()
    ]


def _net_per_account(preview: Any) -> dict[str, str]:
    return {
        f"{acc}|{cur}": str(t.credit - t.debit)
        for acc, per in preview.per_account.items()
        for cur, t in per.items()
    }


def _diff(request: HttpRequest, period: str, preview: Any) -> list[dict[str, Any]] | None:
    """Per account and currency, what changed since the last preview of this period shown
    in this session (credit minus debit); None when there was none. Stores this one."""
    stored: dict[str, dict[str, str]] = request.session.get(SESSION_KEY) or {}
    current = _net_per_account(preview)
    before = stored.get(period)
    stored = {period: current}  # one period kept: the session stays small
    request.session[SESSION_KEY] = stored
    if before is None:
        return None
    rows = []
    for key in sorted(set(before) | set(current)):
        old, new = Decimal(before.get(key, "0")), Decimal(current.get(key, "0"))
        if old != new:
            account, cur = key.split("|", 1)
            rows.append(
                {
                    "account": account,
                    "currency": cur,
                    "before": money(old, cur),
                    "after": money(new, cur),
                    "change": money(new - old, cur),
                }
            )
    return rows


def _context(request: HttpRequest, portal: Portal, form: PeriodForm) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "f": {k: form.data.get(k, "") for k in ("period_start", "period_end")},
        "problems": "",
        "may_post": portal.may(Capability.FINANCE_POST),
        "exclusions": invoicing.finance_exclusion_list(tenant_id=portal.tenant_id),
        "adjustments": [
            _with_amount(a)
            for a in invoicing.finance_adjustment_list(tenant_id=portal.tenant_id, limit=50)
        ],
        "batches": invoicing.export_batch_list(tenant_id=portal.tenant_id, limit=50),
        "exclusion_kinds": [k.value for k in ExclusionKind],
        "preview": None,
    }
    if not form.is_valid():
        ctx["problems"] = problems_in_words(form)
        return ctx
    d = form.cleaned_data
    preview = invoicing.finance_preview(
        tenant_id=portal.tenant_id,
        period_start=_at(d["period_start"]),
        period_end=_at(d["period_end"]),
        now=now(),
    )
    period = f"{d['period_start']}/{d['period_end']}"
    ctx["diff"] = _diff(request, period, preview)
    ctx["preview"] = {
        "cutoff": preview.cutoff,
        "per_account": _table(preview.per_account),
        "per_cost_centre": _table(preview.per_cost_centre),
        "per_vat_class": _table(preview.per_vat_class),
        "per_counterparty": _table(preview.per_counterparty),
        "totals": [
            {
                "currency": c,
                "debit": money(Decimal(t["debit"]), c),
                "credit": money(Decimal(t["credit"]), c),
            }
            for c, t in preview.totals.items()
        ],
        "excluded": [
            {**_row(e), "amount_text": money(e.amount, e.currency)} for e in preview.excluded
        ],
        "adjustments": [
            {**_row(a), "amount_text": money(a.amount, a.currency)} for a in preview.adjustments
        ],
        "own_charge_lines": preview.own_charge_lines,
        "own_charge_net": [money(v, c) for c, v in preview.own_charge_net.items()],
        "rated_lines": preview.rated_lines,
        "cdrs": len(preview.cdr_ids),
        "kwh": {role: _kwh(v) for role, v in preview.energy_kwh.items()},
        "unmapped": preview.unmapped,
        "journal_lines": len(preview.journal),
    }
    return ctx


def _row(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _with_amount(obj: Any) -> dict[str, Any]:
    return {**_row(obj), "amount_text": money(obj.amount, obj.currency)}


def _back(request: HttpRequest, portal: Portal) -> str:
    return _home(portal, request.POST.get("period_start", ""), request.POST.get("period_end", ""))


# --- pages -----------------------------------------------------------------------------------


@portal_view()
def finance(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = _period_form(request.GET)
    ctx = _context(request, portal, form)
    status = 400 if ctx["problems"] else 200
    return page(request, "portal/finance/finance.html", ctx, section=SECTION, status=status)


@portal_view(Capability.FINANCE_POST)
def finance_post(request: HttpRequest) -> HttpResponse:
    """Dry run (the page with what it would write) or post (back to the page, a notice)."""
    portal = request.portal  # type: ignore[attr-defined]
    form = PostForm(request.POST)
    if not form.is_valid():
        notify(request, f"Nothing posted: {problems_in_words(form)}.")
        return redirect(_back(request, portal))
    d = form.cleaned_data
    try:
        result = invoicing.export_batch_post(
            tenant_id=portal.tenant_id,
            period_start=_at(d["period_start"]),
            period_end=_at(d["period_end"]),
            actor=actor(request),
            dry_run=d["dry_run"],
            now=now(),
        )
    except DomainError as exc:
        notify(request, "Nothing posted: " + "; ".join(problem_messages(exc)))
        return redirect(_back(request, portal))
    if result.dry_run:
        ctx = _context(request, portal, _period_form(request.POST))
        ctx["dry_run"] = {
            "number": result.number,
            "files": [
                {"kind": f.kind, "filename": f.filename, "sha256": f.sha256, "size": f.size}
                for f in result.files
            ],
        }
        return page(request, "portal/finance/finance.html", ctx, section=SECTION)
    assert result.batch is not None
    b = result.batch
    if result.existing:
        notify(request, f"This period was posted before: batch {b.number}, unchanged.")
    else:
        notify(
            request,
            f"Batch {b.number} posted: {b.line_count} rated line(s) of {b.cdr_count} CDR(s).",
        )
    return redirect(_back(request, portal))


@portal_view(Capability.FINANCE_POST)
def finance_exclusion_add(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = ExclusionForm(request.POST)
    if not form.is_valid():
        notify(request, f"Exclusion not added: {problems_in_words(form)}.")
        return redirect(_back(request, portal))
    try:
        row = invoicing.finance_exclusion_add(
            tenant_id=portal.tenant_id, actor=actor(request), **form.cleaned_data
        )
    except DomainError as exc:
        notify(request, "Exclusion not added: " + "; ".join(problem_messages(exc)))
        return redirect(_back(request, portal))
    notify(request, f"{row.kind.capitalize()} {row.value} is left out of the export.")
    return redirect(_back(request, portal))


@portal_view(Capability.FINANCE_POST)
def finance_exclusion_retire(request: HttpRequest, exclusion_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        row = invoicing.finance_exclusion_retire(
            tenant_id=portal.tenant_id, actor=actor(request), exclusion_id=exclusion_id, now=now()
        )
    except DomainError as exc:
        notify(request, "Exclusion not retired: " + "; ".join(problem_messages(exc)))
        return redirect(_back(request, portal))
    notify(request, f"{row.kind.capitalize()} {row.value} is exported again from now on.")
    return redirect(_back(request, portal))


@portal_view(Capability.FINANCE_POST)
def finance_adjustment_add(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = AdjustmentForm(request.POST)
    if not form.is_valid():
        notify(request, f"Adjustment not added: {problems_in_words(form)}.")
        return redirect(_back(request, portal))
    d = form.cleaned_data
    try:
        row = invoicing.finance_adjustment_add(
            tenant_id=portal.tenant_id,
            actor=actor(request),
            period_start=_at(d["period_start"]),
            period_end=_at(d["period_end"]),
            amount=Money(d["amount"], d["currency"]),
            account=d["account"],
            cost_centre=d["cost_centre"],
            vat_class=d["vat_class"],
            counterparty=d["counterparty"],
            reason=d["reason"],
        )
    except DomainError as exc:
        notify(request, "Adjustment not added: " + "; ".join(problem_messages(exc)))
        return redirect(_back(request, portal))
    notify(
        request, f"Adjustment {row.id} added: {money(row.amount, row.currency)} on {row.account}."
    )
    return redirect(_back(request, portal))


@portal_view(Capability.VIEW)
def finance_batch_file(
    request: HttpRequest, batch_id: int, kind: str
) -> HttpResponse | StreamingHttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    if kind not in {k.value for k in ExportFileKind}:
        return not_found(request, "export file", section=SECTION)
    try:
        f = invoicing.export_file_open(tenant_id=portal.tenant_id, batch_id=batch_id, kind=kind)
    except DomainError:
        return not_found(request, "export file", section=SECTION)
    types = {
        "JOURNAL_CSV": "text/csv; charset=utf-8",
        "JOURNAL_JSON": "application/json",
        "RECORDS_JSONL": "application/gzip",
    }
    body = f.achunks if isinstance(request, ASGIRequest) else f.chunks  # see ExportFileStream
    response = StreamingHttpResponse(body, content_type=types[kind])
    response["Content-Length"] = str(f.size)
    response["Content-Disposition"] = f'attachment; filename="{f.filename}"'
    response["ETag"] = f'"{f.sha256}"'
    return response


def _gl_page(request: HttpRequest, form: GlMappingForm, status: int = 200) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    return page(
        request,
        "portal/finance/gl_mapping.html",
        {
            "form": form,
            "rows": invoicing.gl_mapping_list(tenant_id=portal.tenant_id),
            "unmapped": invoicing.GL_UNMAPPED,
            "may_post": portal.may(Capability.FINANCE_POST),
        },
        section=SECTION,
        status=status,
    )


@portal_view()
def finance_gl_mapping(request: HttpRequest) -> HttpResponse:
    """The GL mapping: its rows, and (FINANCE_POST) the form that sets one."""
    return _gl_page(request, GlMappingForm())


@portal_view(Capability.FINANCE_POST)
def finance_gl_mapping_set(request: HttpRequest) -> HttpResponse:
    """Create or change the row of (engine, role, component, VAT category); a form with
    problems is shown again with them, next to its fields."""
    portal = request.portal  # type: ignore[attr-defined]
    form = GlMappingForm(request.POST)
    if form.is_valid():
        try:
            row = invoicing.gl_mapping_set(
                tenant_id=portal.tenant_id, actor=actor(request), **form.cleaned_data
            )
        except DomainError as exc:
            for p in exc.problems or ():
                field = p.path.removeprefix("$.")
                form.add_error(field if field in form.fields else None, p.message)
            if not form.errors:
                form.add_error(None, "; ".join(problem_messages(exc)))
        else:
            notify(request, f"{row.role} {row.component} now books to {row.account}.")
            return redirect(reverse("portal:finance_gl_mapping", args=[portal.tenant.slug]))
    return _gl_page(request, form, status=400)
