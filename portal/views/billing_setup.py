"""Billing set-up pages (issue 17): retail packages and user groups, CPO contracts and their
versions, payees and their charge stations, home-charger flags by CSV. Reading is for every
role; changes need BILLING_EDIT and go through the services (audited with the user)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import DomainError, NotFound
from apps.customers import api as customers
from apps.locations import api as locations
from apps.parties import api as parties
from apps.parties.contracts import Capability, PartyRole
from apps.rating import api as rating
from portal.access import portal_view
from portal.forms.actions import problems_in_words
from portal.forms.commercial import (
    CpoContractForm,
    CpoTermsForm,
    HccImportForm,
    NameForm,
    PayeeAssignForm,
    PayeeForm,
)
from portal.views.common import actor, not_found, notify, now, page, problem_messages

SECTION = "billing"


def _failed(request: HttpRequest, what: str, exc: DomainError) -> None:
    notify(request, f"{what}: " + "; ".join(problem_messages(exc)))


# --- retail packages and user groups ----------------------------------------------------------


@portal_view()
def billing_home(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    return page(
        request,
        "portal/billing/home.html",
        {
            "packages": customers.retail_package_list(tenant_id=portal.tenant_id, limit=500),
            "groups": customers.user_group_list(tenant_id=portal.tenant_id, limit=500),
            "may_edit": portal.may(Capability.BILLING_EDIT),
        },
        section=SECTION,
    )


@portal_view(Capability.BILLING_EDIT)
def retail_package_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = NameForm(request.POST)
    if not form.is_valid():
        notify(request, "Retail package not created: " + problems_in_words(form))
        return redirect("portal:billing", portal.tenant.slug)
    try:
        record = customers.retail_package_create(
            tenant_id=portal.tenant_id,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            actor=actor(request),
        )
        notify(request, f"Retail package {record.name} created.")
    except DomainError as exc:
        _failed(request, "Retail package not created", exc)
    return redirect("portal:billing", portal.tenant.slug)


@portal_view(Capability.BILLING_EDIT)
def user_group_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = NameForm(request.POST)
    if not form.is_valid():
        notify(request, "User group not created: " + problems_in_words(form))
        return redirect("portal:billing", portal.tenant.slug)
    try:
        record = customers.user_group_create(
            tenant_id=portal.tenant_id, name=form.cleaned_data["name"], actor=actor(request)
        )
        notify(request, f"User group {record.name} created.")
    except DomainError as exc:
        _failed(request, "User group not created", exc)
    return redirect("portal:billing", portal.tenant.slug)


# --- CPO contracts ----------------------------------------------------------------------------


@portal_view()
def cpo_contract_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    return page(
        request,
        "portal/billing/cpo_contracts.html",
        {
            "rows": rating.cpo_contract_list(tenant_id=portal.tenant_id, limit=500),
            "parties": parties.parties_of_tenant(tenant_id=portal.tenant_id, role=PartyRole.CPO),
            "form": CpoContractForm(initial={"rounding_mode": "ROUND_HALF_UP"}),
            "may_edit": portal.may(Capability.BILLING_EDIT),
        },
        section=SECTION,
    )


@portal_view(Capability.BILLING_EDIT)
def cpo_contract_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = CpoContractForm(request.POST)
    if not form.is_valid():
        notify(request, "CPO contract not created: " + problems_in_words(form))
        return redirect("portal:cpo_contracts", portal.tenant.slug)
    party = next(
        (
            p
            for p in parties.parties_of_tenant(tenant_id=portal.tenant_id, role=PartyRole.CPO)
            if p.id == form.cleaned_data["party"]
        ),
        None,
    )
    if party is None:
        notify(request, "CPO contract not created: CPO party — choose one of this tenant's")
        return redirect("portal:cpo_contracts", portal.tenant.slug)
    try:
        with transaction.atomic():
            record = rating.cpo_contract_create(
                tenant_id=portal.tenant_id,
                country_code=party.country_code,
                party_id=party.party_id,
                reference=form.cleaned_data["reference"],
                effective_from=form.cleaned_data["effective_from"] or now(),
                terms=form.terms(),
                actor=actor(request),
            )
    except DomainError as exc:
        _failed(request, "CPO contract not created", exc)
        return redirect("portal:cpo_contracts", portal.tenant.slug)
    notify(request, f"CPO contract {record.reference} created.")
    return redirect("portal:cpo_contract", portal.tenant.slug, record.id)


@portal_view()
def cpo_contract_detail(request: HttpRequest, cpo_contract_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        record = rating.cpo_contract_get(tenant_id=portal.tenant_id, contract_id=cpo_contract_id)
    except NotFound:
        return not_found(request, f"CPO contract {cpo_contract_id}", section=SECTION)
    latest = record.versions[-1]
    initial: dict[str, Any] = {
        "vat_country": latest.vat_country,
        "vat_rate": latest.vat_rate,
        "rounding_mode": latest.rounding_mode.value,
        "payee_name": latest.payee_name,
        "payee_iban": latest.payee_iban,
        "payee_bic": latest.payee_bic,
        "payee_address": latest.payee_address,
    }
    return page(
        request,
        "portal/billing/cpo_contract.html",
        {
            "r": record,
            "form": CpoTermsForm(initial=initial),
            "may_edit": portal.may(Capability.BILLING_EDIT),
        },
        section=SECTION,
    )


@portal_view(Capability.BILLING_EDIT)
def cpo_contract_version_new(request: HttpRequest, cpo_contract_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = CpoTermsForm(request.POST)
    if not form.is_valid():
        notify(request, "No new version: " + problems_in_words(form))
        return redirect("portal:cpo_contract", portal.tenant.slug, cpo_contract_id)
    at = now()
    try:
        record = rating.cpo_contract_version_add(
            tenant_id=portal.tenant_id,
            contract_id=cpo_contract_id,
            effective_from=form.cleaned_data["effective_from"] or at,
            terms=form.terms(),
            actor=actor(request),
            now=at,
        )
    except NotFound:
        return not_found(request, f"CPO contract {cpo_contract_id}", section=SECTION)
    except DomainError as exc:
        _failed(request, "No new version", exc)
    else:
        notify(request, f"Version {record.versions[-1].version} added.")
    return redirect("portal:cpo_contract", portal.tenant.slug, cpo_contract_id)


# --- payees -----------------------------------------------------------------------------------


@portal_view()
def payee_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    at = now()
    payees = rating.payee_list(tenant_id=portal.tenant_id, limit=500)
    assignments = rating.payee_assignments(tenant_id=portal.tenant_id)
    in_force = rating.payees_in_force(keys=[(a.charge_station_id, at) for a in assignments])
    stations: dict[int, list[int]] = {}
    for (station_id, _), payee_id in in_force.items():
        if payee_id is not None:
            stations.setdefault(payee_id, []).append(station_id)
    return page(
        request,
        "portal/billing/payees.html",
        {
            "rows": [(p, sorted(stations.get(p.id, []))) for p in payees],
            "assignments": assignments,
            "form": PayeeForm(),
            "assign_form": PayeeAssignForm(),
            "may_edit": portal.may(Capability.BILLING_EDIT),
        },
        section=SECTION,
    )


@portal_view(Capability.BILLING_EDIT)
def payee_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = PayeeForm(request.POST)
    if not form.is_valid():
        notify(request, "Payee not created: " + problems_in_words(form))
        return redirect("portal:payees", portal.tenant.slug)
    try:
        record = rating.payee_create(
            tenant_id=portal.tenant_id, values=dict(form.cleaned_data), actor=actor(request)
        )
        notify(request, f"Payee {record.name} created (id {record.id}).")
    except DomainError as exc:
        _failed(request, "Payee not created", exc)
    return redirect("portal:payees", portal.tenant.slug)


@portal_view(Capability.BILLING_EDIT)
def payee_assign(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = PayeeAssignForm(request.POST)
    if not form.is_valid():
        notify(request, "Payee not assigned: " + problems_in_words(form))
        return redirect("portal:payees", portal.tenant.slug)
    identity = form.cleaned_data["station"].strip()
    ids = locations.station_ids_by_identity(tenant_id=portal.tenant_id, identities=[identity])
    if identity not in ids:
        notify(request, f"Payee not assigned: no charge station {identity} in this tenant.")
        return redirect("portal:payees", portal.tenant.slug)
    at = now()
    try:
        rating.payee_assign(
            tenant_id=portal.tenant_id,
            station_id=ids[identity],
            payee_id=form.cleaned_data["payee"],
            effective_from=form.cleaned_data["effective_from"] or at,
            actor=actor(request),
            now=at,
        )
        notify(request, f"Payee of {identity} set.")
    except DomainError as exc:
        _failed(request, "Payee not assigned", exc)
    return redirect("portal:payees", portal.tenant.slug)


# --- home-charger flags by CSV ----------------------------------------------------------------


@portal_view(Capability.BILLING_EDIT, methods=("GET", "POST"))
def hcc_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV `target,id,hcc` -> preview with each line's problem; apply -> all or
    nothing (the same check again, in the service)."""
    portal = request.portal  # type: ignore[attr-defined]
    context: dict[str, Any] = {"may_edit": True}  # only editors reach this page
    if request.method == "POST":
        form = HccImportForm(request.POST, request.FILES)
        valid = form.is_valid()
        context["csv_text"] = form.cleaned_data.get("text", "")
        if not valid:
            context["errors"] = [str(e) for errors in form.errors.values() for e in errors]
        else:
            text = form.cleaned_data["text"]
            rows, labels = rating.hcc_csv_rows(tenant_id=portal.tenant_id, csv_text=text)
            if request.POST.get("op") == "apply":
                try:
                    outcome = rating.hcc_flags_set(
                        tenant_id=portal.tenant_id, rows=rows, labels=labels, actor=actor(request)
                    )
                except DomainError as exc:
                    context["errors"] = problem_messages(exc)
                else:
                    changed = len(outcome.charge_stations_changed) + len(outcome.tokens_changed)
                    notify(
                        request,
                        f"Home-charger flags applied: {changed} changed, "
                        f"{outcome.rows - changed} already so.",
                    )
                    return redirect("portal:hcc_import", portal.tenant.slug)
            problems = rating.hcc_rows_problems(
                tenant_id=portal.tenant_id, rows=rows, labels=labels
            )
            by_line: dict[str, list[str]] = {}
            for p in problems:
                by_line.setdefault(p.path.split(".")[0], []).append(p.message)
            context["preview"] = {
                "rows": [
                    {
                        "line": label,
                        "target": "station" if row.charge_station_id is not None else "token",
                        "id": row.charge_station_identity or row.token_uid or "",
                        "hcc": row.hcc or "(clear)",
                        "problems": by_line.get(label, []),
                    }
                    for row, label in zip(rows, labels, strict=True)
                ],
                "errors": len(by_line),
            }
    return page(
        request,
        "portal/billing/hcc_import.html",
        context,
        section=SECTION,
        status=400 if context.get("errors") else 200,
    )
