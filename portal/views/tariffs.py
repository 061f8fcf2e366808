"""Tariffs: list, detail with version history, the OCPI tariff form with a live price
preview, new versions (scheduled price changes), copy, tariff codes, CSV import."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import DomainError, NotFound, Problem, ValidationFailed
from apps.parties import api as parties
from apps.parties.contracts import Capability, PartyKind, PartyRef, PartyRole
from apps.tariffs import api as tariffs
from apps.tariffs.contracts import BillingEngine
from billing import pricing
from billing.pricing import PricingInputError
from portal.access import portal_view
from portal.forms.actions import (
    TariffCodeForm,
    TariffCopyForm,
    TariffImportForm,
    problems_in_words,
)
from portal.forms.tariffs import (
    DAYS,
    DIMENSIONS,
    ENGINE_CHOICES,
    RESTRICTIONS,
    TYPES,
    SampleSessionForm,
    TariffEditor,
    ocpi_to_initial,
)
from portal.views.common import (
    actor,
    field_words,
    not_found,
    notify,
    now,
    page,
    problem_messages,
)

STEP_SIZE_WORDS = (
    "must be 1 or more: the dimension is billed in blocks of this many Wh (ENERGY) or "
    "seconds (TIME, PARKING_TIME); 1 bills the exact amount"
)


def editor_problems(ocpi: dict[str, Any]) -> tuple[Problem, ...]:
    """What the tariff editor refuses although OCPI and the pricing core take it: a step size
    of 0 (no block size: "bill in blocks of nothing") on a component that uses one. Tariffs
    from roaming partners are not checked here; the pricing core reads 0 as "no rounding"."""
    return tuple(
        Problem(f"$.elements[{i}].price_components[{j}].step_size", STEP_SIZE_WORDS)
        for i, el in enumerate(ocpi.get("elements") or [])
        for j, c in enumerate(el.get("price_components") or [])
        if c.get("type") != "FLAT" and c.get("step_size") == 0
    )


def _check_editor_rules(ocpi: dict[str, Any]) -> None:
    """Raise the editor's own problems together with the pricing core's, if any."""
    own = editor_problems(ocpi)
    if not own:
        return
    try:
        pricing.parse_tariff(ocpi)
    except PricingInputError as exc:
        core = tuple(Problem(i.path, i.message) for i in exc.issues)
    else:
        core = ()
    raise ValidationFailed("the tariff is not valid", problems=own + core)


# --- pages -----------------------------------------------------------------------------------


@portal_view()
def tariff_list(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    rows = tariffs.tariff_list(tenant_id=portal.tenant_id, after_id=None, limit=500, at=now())
    search = request.GET.get("q", "").strip().lower()
    if search:
        rows = [r for r in rows if search in r.id.lower() or search in r.name.lower()]
    return page(
        request,
        "portal/tariffs/list.html",
        {
            "rows": rows,
            "codes": tariffs.tariff_code_rows(tenant_id=portal.tenant_id),
            "search": search,
            "may_edit": portal.may(Capability.TARIFFS_EDIT),
        },
        section="tariffs",
    )


@portal_view()
def tariff_detail(request: HttpRequest, tariff_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    at = now()
    try:
        record = tariffs.tariff_get(tenant_id=portal.tenant_id, tariff_id=tariff_id, at=at)
    except NotFound:
        return not_found(request, f"tariff {tariff_id}", section="tariffs")
    return page(
        request,
        "portal/tariffs/detail.html",
        {
            "r": record,
            "form": ocpi_to_initial(record.ocpi),
            "now": at,
            "codes": [
                c
                for c in tariffs.tariff_code_rows(tenant_id=portal.tenant_id)
                if c["tariff_id"] == tariff_id
            ],
            "may_edit": portal.may(Capability.TARIFFS_EDIT),
            "history": parties.audit_list(
                tenant_id=portal.tenant_id,
                before_id=None,
                limit=20,
                object_type="tariff",
                object_id=str(tariff_id),
            ),
        },
        section="tariffs",
    )


def _own_parties(tenant_id: int) -> list[PartyRef]:
    """The tenant's own CPO and eMSP identities: the parties a tariff may belong to."""
    return [
        p
        for p in parties.parties_of_tenant(tenant_id=tenant_id)
        if p.kind is PartyKind.OWN and p.role in (PartyRole.CPO, PartyRole.EMSP)
    ]


def _party_choices(tenant_id: int) -> list[tuple[int, str]]:
    return [
        (p.id, f"{p.country_code}*{p.party_id} ({p.role.value}) {p.name}")
        for p in _own_parties(tenant_id)
    ]


def _words(errors: Any) -> str:
    """A field's or form's messages as one line."""
    return " ".join(str(e) for e in errors)


def _component_line(form: Any) -> str:
    """The line under a price component naming its problems in words."""
    return "; ".join(f"{field_words(k)}: {v[0]}" for k, v in form.errors.items())


def _form_page(
    request: HttpRequest,
    editor: TariffEditor,
    *,
    errors: list[str] | None = None,
    record: Any = None,
    status: int = 200,
) -> HttpResponse:
    """The editor page; `errors` the list above the form (default: every field's problem)."""
    tariff_form = editor.form
    elements = [
        {
            "form": rows.form,
            "prefix": rows.form.prefix,
            "management": rows.components.management_form,
            "restr": [
                (key, label, rows.form[key].value(), _words(rows.form.errors.get(key, [])))
                for key, label in RESTRICTIONS
            ],
            "days": rows.form["days"].value() or [],
            "err": _words([*rows.form.non_field_errors(), *rows.form.errors.get("days", [])]),
            "open": any(rows.form[key].value() for key, _ in RESTRICTIONS)
            or bool(rows.form["days"].value())
            or bool(rows.form.errors),
            "components": [
                {
                    "form": c,
                    "prefix": c.prefix,
                    "value": {k: c[k].value() for k in ("type", "price", "vat", "step_size")},
                    "invalid": set(c.errors),
                    "err": _component_line(c),
                }
                for c in rows.components.forms
            ],
        }
        for rows in editor.elements
    ]
    return page(
        request,
        "portal/tariffs/form.html",
        {
            "f": tariff_form,
            "v": {name: tariff_form[name].value() for name in tariff_form.fields},
            "management": editor.element_forms.management_form,
            "elements": elements,
            "errors": editor.errors() if errors is None else errors,
            "r": record,
            "dimensions": DIMENSIONS,
            "types": TYPES,
            "engines": ENGINE_CHOICES,
            "days": DAYS,
            "parties": _party_choices(request.portal.tenant_id),  # type: ignore[attr-defined]
            "sample": request.POST,
            "default_effective": (now() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        },
        section="tariffs",
        status=status,
    )


def _save(
    request: HttpRequest,
    editor: TariffEditor,
    *,
    identity: dict[str, str],
    record: Any,
    write: Any,
) -> HttpResponse | None:
    """Validate the editor, then `write(ocpi)` in one transaction. The form page with its
    problems (400), or None when it was written."""
    ocpi = editor.to_ocpi(identity=identity, last_updated=now())
    try:
        _check_editor_rules(ocpi)
        with transaction.atomic():
            write(ocpi)
    except DomainError as exc:
        editor.add_problems(exc.problems)
        return _form_page(request, editor, errors=problem_messages(exc), record=record, status=400)
    return None


def _bound_editor(request: HttpRequest, *, new: bool) -> TariffEditor:
    portal = request.portal  # type: ignore[attr-defined]
    return TariffEditor(request.POST, new=new, party_choices=_party_choices(portal.tenant_id))


@portal_view(Capability.TARIFFS_EDIT, methods=("GET", "POST"))
def tariff_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    if request.method == "GET":
        return _form_page(
            request, TariffEditor(new=True, party_choices=_party_choices(portal.tenant_id))
        )
    editor = _bound_editor(request, new=True)
    valid = editor.is_valid()
    op = request.POST.get("op", "save")
    if op != "save":
        return _form_page(request, editor.changed(op))
    if not valid:
        return _form_page(request, editor, status=400)
    data = editor.form.cleaned_data
    party = next(p for p in _own_parties(portal.tenant_id) if p.id == data["party"])
    engine = BillingEngine(data.get("engine") or BillingEngine.WHOLESALE.value)
    wanted = PartyRole.EMSP if engine is BillingEngine.RETAIL else PartyRole.CPO
    if party.role is not wanted:
        editor.form.add_error(
            "party",
            f"A {engine.value.lower()} tariff belongs to one of your {wanted.value} identities; "
            f"{party.country_code}*{party.party_id} is your {party.role.value} identity.",
        )
        return _form_page(request, editor, status=400)
    created: list[Any] = []

    def write(ocpi: dict[str, Any]) -> None:
        created.append(
            tariffs.tariff_create(
                tenant_id=portal.tenant_id,
                ocpi=ocpi,
                effective_from=data["effective_from"] or now(),
                now=now(),
                actor=actor(request),
                engine=engine,
            )
        )

    refused = _save(
        request,
        editor,
        identity={
            "country_code": party.country_code,
            "party_id": party.party_id,
            "id": data["ocpi_id"].strip(),
        },
        record=None,
        write=write,
    )
    if refused is not None:
        return refused
    record = created[0]
    notify(request, f"Tariff {record.id} created (version 1).")
    return redirect("portal:tariff", portal.tenant.slug, record.platform_id)


@portal_view(Capability.TARIFFS_EDIT, methods=("GET", "POST"))
def tariff_version_new(request: HttpRequest, tariff_id: int) -> HttpResponse:
    """A new version: the price change applies to sessions starting at its effective date."""
    portal = request.portal  # type: ignore[attr-defined]
    at = now()
    try:
        record = tariffs.tariff_get(tenant_id=portal.tenant_id, tariff_id=tariff_id, at=at)
    except NotFound:
        return not_found(request, f"tariff {tariff_id}", section="tariffs")
    if request.method == "GET":
        editor = TariffEditor(initial=ocpi_to_initial(record.ocpi), new=False, party_choices=[])
        return _form_page(request, editor, record=record)
    editor = _bound_editor(request, new=False)
    valid = editor.is_valid()
    op = request.POST.get("op", "save")
    if op != "save":
        return _form_page(request, editor.changed(op), record=record)
    if not valid:
        return _form_page(request, editor, record=record, status=400)
    written: list[Any] = []

    def write(ocpi: dict[str, Any]) -> None:
        written.append(
            tariffs.tariff_version_create(
                tenant_id=portal.tenant_id,
                tariff_id=tariff_id,
                ocpi=ocpi,
                effective_from=editor.form.cleaned_data["effective_from"],
                now=at,
                actor=actor(request),
            )
        )

    refused = _save(
        request,
        editor,
        identity={
            "country_code": record.country_code,
            "party_id": record.party_id,
            "id": record.id,
        },
        record=record,
        write=write,
    )
    if refused is not None:
        return refused
    newest = written[0].versions[-1]
    notify(
        request,
        f"Version {newest.version} saved: it applies to sessions starting from "
        f"{newest.effective_from:%Y-%m-%d %H:%M} UTC.",
    )
    return redirect("portal:tariff", portal.tenant.slug, tariff_id)


@portal_view(Capability.TARIFFS_EDIT)
def tariff_preview(request: HttpRequest) -> HttpResponse:
    """The price of a sample session with the tariff as currently typed (htmx fragment)."""
    editor = TariffEditor(request.POST, new=False, party_choices=[])
    editor.form.fields["effective_from"].required = False  # not needed for a price
    sample = SampleSessionForm(request.POST)
    context: dict[str, Any] = {}
    editor_valid, sample_valid = editor.is_valid(), sample.is_valid()
    if not (editor_valid and sample_valid):
        context["errors"] = editor.errors() + [
            f"The sample session is not complete: {sample.fields[k].label}: {e}"
            for k, errors in sample.errors.items()
            for e in errors
        ]
        return page(request, "portal/tariffs/_preview.html", context, section="tariffs")
    ocpi = editor.to_ocpi(
        identity={"country_code": "XX", "party_id": "XXX", "id": "preview"}, last_updated=now()
    )
    try:
        _check_editor_rules(ocpi)
        context["preview"] = tariffs.tariff_preview(ocpi=ocpi, **sample.session())
    except DomainError as exc:
        context["errors"] = problem_messages(exc)
    return page(request, "portal/tariffs/_preview.html", context, section="tariffs")


@portal_view(Capability.TARIFFS_EDIT)
def tariff_copy(request: HttpRequest, tariff_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = TariffCopyForm(request.POST)
    if not form.is_valid():
        notify(request, "Not copied: " + problems_in_words(form))
        return redirect("portal:tariff", portal.tenant.slug, tariff_id)
    new_id = form.cleaned_data["new_id"]
    try:
        with transaction.atomic():
            record = tariffs.tariff_copy(
                tenant_id=portal.tenant_id,
                tariff_id=tariff_id,
                new_ocpi_id=new_id,
                effective_from=now(),
                now=now(),
                actor=actor(request),
            )
    except DomainError as exc:
        notify(request, "Not copied: " + "; ".join(problem_messages(exc)))
        return redirect("portal:tariff", portal.tenant.slug, tariff_id)
    notify(request, f"Copied as {record.id}.")
    return redirect("portal:tariff", portal.tenant.slug, record.platform_id)


@portal_view(Capability.TARIFFS_EDIT)
def tariff_code_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    form = TariffCodeForm(request.POST)
    if not form.is_valid():
        notify(request, "Tariff code not created: " + problems_in_words(form))
        return redirect("portal:tariffs", portal.tenant.slug)
    try:
        with transaction.atomic():
            record = tariffs.tariff_code_create(
                tenant_id=portal.tenant_id,
                code=form.cleaned_data["code"],
                tariff_id=form.cleaned_data["tariff_id"],
                description=form.cleaned_data["description"],
                actor=actor(request),
            )
        notify(request, f"Tariff code {record.code} created.")
    except DomainError as exc:
        notify(request, "Tariff code not created: " + "; ".join(problem_messages(exc)))
    return redirect("portal:tariffs", portal.tenant.slug)


# --- bulk update of default tariff codes -----------------------------------------------------


@portal_view(Capability.TARIFFS_EDIT, methods=("GET", "POST"))
def tariff_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV `station,tariff_code` -> preview; confirm -> queued import."""
    portal = request.portal  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "default_effective": (now() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    }
    if request.method == "POST":
        form = TariffImportForm(request.POST, request.FILES)
        valid = form.is_valid()
        context["csv_text"] = form.cleaned_data.get("text", "")
        if not valid:
            context["errors"] = [str(e) for errors in form.errors.values() for e in errors]
        else:
            effective = form.cleaned_data["effective_from"] or now()
            context["effective"] = effective.strftime("%Y-%m-%dT%H:%M")
            text = form.cleaned_data["text"]
            try:
                if request.POST.get("op") == "start":
                    with transaction.atomic():
                        job = tariffs.tariff_code_import_start(
                            tenant_id=portal.tenant_id,
                            csv_text=text,
                            effective_from=effective,
                            now=now(),
                            created_by_id=portal.user_id,
                            actor=actor(request),
                        )
                    return redirect("portal:tariff_import_status", portal.tenant.slug, job)
                context["preview"] = tariffs.tariff_code_import_preview(
                    tenant_id=portal.tenant_id, csv_text=text, now=now()
                )
            except DomainError as exc:
                context["errors"] = problem_messages(exc)
    return page(
        request,
        "portal/tariffs/import.html",
        context,
        section="tariffs",
        status=400 if context.get("errors") else 200,
    )


@portal_view(Capability.TARIFFS_EDIT, methods=("GET",))
def tariff_import_status(request: HttpRequest, import_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    try:
        job = tariffs.tariff_code_import_get(tenant_id=portal.tenant_id, import_id=import_id)
    except NotFound:
        return not_found(request, f"import {import_id}", section="tariffs")
    template = (
        "portal/tariffs/_import_progress.html"
        if getattr(request, "htmx", False)
        else "portal/tariffs/import_status.html"
    )
    pct = 100 if job.total == 0 else int(job.done * 100 / job.total)
    return page(request, template, {"job": job, "pct": pct}, section="tariffs")
