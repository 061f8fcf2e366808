"""Billing runs in the portal: the runs with their progress (polled while one is queued or
running), the start form, a run's drafts; the invoicing settings and the billing profiles of
counterparties (docs/billing.md "Billing runs and drafts", ADR 0036)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.common.contracts import Actor
from apps.common.errors import DomainError, NotFound
from apps.invoicing import api as invoicing
from apps.invoicing.contracts import (
    INVOICING_SETTINGS_FIELDS,
    BillingRunRef,
    CounterpartyKind,
    Frequency,
    InvoicingSettingsRef,
)
from apps.parties.contracts import Capability
from portal.access import portal_view
from portal.views.common import actor, not_found, notify, now, page
from portal.views.money import money

SECTION = "invoicing_runs"
DOCUMENT_URL = "portal:document"  # the documents area's page of a document
DOC_TYPES = {
    "CUSTOMER_INVOICE": "Customer invoice",
    "EMSP_INVOICE": "eMSP invoice",
    "SELF_BILLING": "Self-billing statement",
    "CREDIT_NOTE": "Credit note",
}
FREQUENCIES = [(f.value, f.value.capitalize()) for f in Frequency]
LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("de", "Deutsch"), ("fr", "Français")]


class RunStartForm(forms.Form):
    frequency = forms.ChoiceField(choices=FREQUENCIES, initial=Frequency.MONTHLY.value)
    period_start = forms.DateField(
        label="period (any day of it)",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "choose a day of the period to bill"},
    )


class SettingsForm(forms.Form):
    legal_name = forms.CharField(max_length=200, required=False, label="legal name")
    address = forms.CharField(max_length=200, required=False)
    postal_code = forms.CharField(max_length=16, required=False, label="postal code")
    city = forms.CharField(max_length=100, required=False)
    country = forms.CharField(max_length=2, required=False, help_text="ISO code, e.g. NL")
    vat_number = forms.CharField(max_length=32, required=False, label="VAT number")
    company_id = forms.CharField(max_length=64, required=False, label="chamber of commerce")
    email = forms.EmailField(required=False, label="reply-to e-mail")
    iban = forms.CharField(max_length=34, required=False, label="IBAN")
    bic = forms.CharField(max_length=11, required=False, label="BIC")
    timezone = forms.CharField(max_length=64, label="timezone (periods' days)")
    default_language = forms.ChoiceField(choices=LANGUAGES, label="default language")
    grace_days = forms.IntegerField(min_value=0, max_value=60, label="grace days")
    payment_terms_days = forms.IntegerField(min_value=0, max_value=365, label="payment terms")
    year_in_prefix = forms.BooleanField(required=False, label="year in the number")
    prefix_customer_invoice = forms.CharField(max_length=16, label="prefix: customer invoices")
    prefix_emsp_invoice = forms.CharField(max_length=16, label="prefix: eMSP invoices")
    prefix_self_billing = forms.CharField(max_length=16, label="prefix: self-billing")
    prefix_credit_note = forms.CharField(max_length=16, label="prefix: credit notes")


class ProfileForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (CounterpartyKind.CUSTOMER.value, "Customer"),
            (CounterpartyKind.PARTY.value, "eMSP party"),
            (CounterpartyKind.PAYEE.value, "Payee"),
        ]
    )
    counterparty_id = forms.IntegerField(min_value=1, label="customer / party / payee id")
    frequency = forms.ChoiceField(choices=FREQUENCIES, initial=Frequency.MONTHLY.value)
    language = forms.ChoiceField(choices=[("", "(tenant default)"), *LANGUAGES], required=False)
    email = forms.EmailField(required=False, label="send to e-mail")
    legal_name = forms.CharField(max_length=200, required=False, label="legal name")
    vat_number = forms.CharField(max_length=32, required=False, label="VAT number")
    address = forms.CharField(max_length=200, required=False)
    postal_code = forms.CharField(max_length=16, required=False, label="postal code")
    city = forms.CharField(max_length=100, required=False)
    country = forms.CharField(max_length=2, required=False)


def document_url(slug: str, document_id: int) -> str:
    """The page of a document (portal/views/invoicing_documents.py)."""
    return reverse(DOCUMENT_URL, args=[slug, document_id])


def period_words(run: BillingRunRef, tz: str) -> str:
    p = invoicing.period_containing(run.frequency, run.period_start, tz)
    if run.frequency == Frequency.MONTHLY.value:
        return p.first_day.strftime("%B %Y")
    if run.frequency == Frequency.WEEKLY.value:
        week = p.first_day.isocalendar()
        return f"week {week.week} of {week.year} ({p.first_day:%d %b} – {p.last_day:%d %b %Y})"
    return p.first_day.strftime("%d %B %Y")


def _run(run: BillingRunRef, tz: str) -> dict[str, Any]:
    return {"r": run, "period": period_words(run, tz)}


def _add_problems(form: forms.Form, exc: DomainError) -> None:
    """The service's problems on the form's fields ($.name), the rest above the form."""
    if not exc.problems:
        form.add_error(None, exc.message)
    for p in exc.problems:
        name = p.path.removeprefix("$.")
        form.add_error(name if name in form.fields else None, p.message)


def _list(
    request: HttpRequest, form: RunStartForm | None = None, status: int = 200
) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    settings = invoicing.invoicing_settings_get(tenant_id=portal.tenant_id)
    runs = invoicing.billing_run_list(tenant_id=portal.tenant_id, newest_first=True, limit=50)
    rows = [_run(r, settings.timezone) for r in runs]
    live = any(r.live for r in runs)
    if request.GET.get("fragment") == "rows":
        return render(
            request,
            "portal/invoicing/runs_rows.html",
            {"rows": rows, "t": portal.tenant.slug, "live": live},
        )
    return page(
        request,
        "portal/invoicing/runs.html",
        {
            "rows": rows,
            "live": live,
            "form": form or RunStartForm(),
            "may_edit": portal.may(Capability.INVOICING_EDIT),
            "settings": settings,
        },
        section=SECTION,
        status=status,
    )


@portal_view()
def run_list(request: HttpRequest) -> HttpResponse:
    return _list(request)


@portal_view(Capability.INVOICING_EDIT)
def run_start(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = RunStartForm(request.POST)
    if not form.is_valid():
        return _list(request, form, status=422)
    try:
        run_id = invoicing.billing_run_start(
            tenant_id=portal.tenant_id,
            # Named by e-mail: the run shows who started it.
            actor=Actor(user_id=portal.user_id, name=portal.email),
            frequency=form.cleaned_data["frequency"],
            period_start=form.cleaned_data["period_start"],
            now=now(),
        )
    except DomainError as exc:
        _add_problems(form, exc)
        return _list(request, form, status=422)
    notify(request, f"Billing run {run_id} started: its drafts appear as it makes them.")
    return redirect("portal:billing_run", portal.tenant.slug, run_id)


@portal_view()
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        run = invoicing.billing_run_get(tenant_id=portal.tenant_id, run_id=run_id)
    except NotFound:
        return not_found(request, f"billing run {run_id}", section=SECTION)
    settings = invoicing.invoicing_settings_get(tenant_id=portal.tenant_id)
    slug = portal.tenant.slug
    documents = [
        {
            "d": d,
            "type": DOC_TYPES.get(d.doc_type, d.doc_type),
            "url": document_url(slug, d.id),
            "net": money(d.net_total, d.currency),
            "vat": money(d.vat_total, d.currency),
            "total": money(d.total, d.currency),
            "counterparty": d.seller_name if d.doc_type == "SELF_BILLING" else d.buyer_name,
        }
        for d in invoicing.billing_run_documents(tenant_id=portal.tenant_id, run_id=run_id)
    ]
    context = {"run": _run(run, settings.timezone), "documents": documents, "t": slug}
    if request.GET.get("fragment") == "progress":
        return render(request, "portal/invoicing/runs_progress.html", context)
    return page(request, "portal/invoicing/runs_detail.html", context, section=SECTION)


def _settings_initial(s: InvoicingSettingsRef) -> dict[str, Any]:
    return {name: getattr(s, name) for name in INVOICING_SETTINGS_FIELDS}


def _settings_page(
    request: HttpRequest,
    form: SettingsForm | None = None,
    profile_form: ProfileForm | None = None,
    status: int = 200,
) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    s = invoicing.invoicing_settings_get(tenant_id=portal.tenant_id)
    return page(
        request,
        "portal/invoicing/settings.html",
        {
            "s": s,
            "form": form or SettingsForm(initial=_settings_initial(s)),
            "profile_form": profile_form or ProfileForm(),
            "profiles": invoicing.billing_profile_list(tenant_id=portal.tenant_id, limit=500),
            "may_edit": portal.may(Capability.INVOICING_EDIT),
        },
        section=SECTION,
        status=status,
    )


@portal_view()
def settings_view(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


@portal_view(Capability.INVOICING_EDIT)
def settings_save(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = SettingsForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, form=form, status=422)
    try:
        invoicing.invoicing_settings_update(
            tenant_id=portal.tenant_id, actor=actor(request), now=now(), **form.cleaned_data
        )
    except DomainError as exc:
        _add_problems(form, exc)
        return _settings_page(request, form=form, status=422)
    notify(request, "Invoicing settings saved.")
    return redirect("portal:invoicing_settings", portal.tenant.slug)


@portal_view(Capability.INVOICING_EDIT)
def profile_save(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, profile_form=form, status=422)
    data = dict(form.cleaned_data)
    try:
        ref = invoicing.billing_profile_set(
            tenant_id=portal.tenant_id, actor=actor(request), now=now(), **data
        )
    except DomainError as exc:
        _add_problems(form, exc)
        return _settings_page(request, profile_form=form, status=422)
    notify(request, f"Billing profile of {ref.counterparty_name} saved ({ref.frequency.lower()}).")
    return redirect("portal:invoicing_settings", portal.tenant.slug)
