"""Tariffs: list, detail with version history, the OCPI tariff form with a live price
preview, new versions (scheduled price changes), copy, tariff codes, CSV import."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.common.errors import DomainError, NotFound, Problem, ValidationFailed
from apps.parties import api as parties
from apps.parties.contracts import Capability, PartyRole
from apps.tariffs import api as tariffs
from billing import pricing
from billing.pricing import PricingInputError
from portal.access import portal_view
from portal.views.common import (
    actor,
    field_words,
    not_found,
    notify,
    now,
    page,
    parse_datetime_local,
    problem_messages,
)

DIMENSIONS = ["ENERGY", "FLAT", "TIME", "PARKING_TIME"]
TYPES = ["", "REGULAR", "AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN"]
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
RESTRICTIONS = [
    ("start_time", "From (hh:mm)"),
    ("end_time", "Until (hh:mm)"),
    ("min_kwh", "Min kWh"),
    ("max_kwh", "Max kWh"),
    ("min_power", "Min kW"),
    ("max_power", "Max kW"),
    ("min_duration", "Min seconds"),
    ("max_duration", "Max seconds"),
]
_NUMBER_RESTRICTIONS = {"min_kwh", "max_kwh", "min_power", "max_power"}
_INT_RESTRICTIONS = {"min_duration", "max_duration"}


# --- the form <-> OCPI -----------------------------------------------------------------------


def _number(value: str) -> Any:
    """A number as typed (comma or point), as Decimal; the text itself if it is not one
    (the pricing core's parser then says what is wrong, at its path)."""
    text = value.strip().replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def form_to_ocpi(post: Any, *, identity: dict[str, str]) -> dict[str, Any]:
    """The OCPI 2.2.1 tariff the form describes. Fields: el-<i>-pc-<j>-<type|price|vat|
    step_size>, el-<i>-<restriction>, el-<i>-day-<DAY>; currency, type, name, min/max."""
    elements: list[dict[str, Any]] = []
    indexes = sorted({int(m.group(1)) for k in post for m in [re.match(r"el-(\d+)-", k)] if m})
    for i in indexes:
        if post.get(f"el-{i}-delete"):
            continue
        components = []
        cidx = sorted(
            {int(m.group(1)) for k in post for m in [re.match(rf"el-{i}-pc-(\d+)-", k)] if m}
        )
        for j in cidx:
            price = post.get(f"el-{i}-pc-{j}-price", "").strip()
            if post.get(f"el-{i}-pc-{j}-delete") or price == "":
                continue
            comp: dict[str, Any] = {
                "type": post.get(f"el-{i}-pc-{j}-type", "ENERGY"),
                "price": _number(price),
                "step_size": _number(post.get(f"el-{i}-pc-{j}-step_size", "1") or "1"),
            }
            vat = post.get(f"el-{i}-pc-{j}-vat", "").strip()
            if vat:
                comp["vat"] = _number(vat)
            if (
                isinstance(comp["step_size"], Decimal)
                and comp["step_size"] == comp["step_size"].to_integral_value()
            ):
                comp["step_size"] = int(comp["step_size"])
            components.append(comp)
        element: dict[str, Any] = {"price_components": components}
        restrictions: dict[str, Any] = {}
        for key, _ in RESTRICTIONS:
            raw = post.get(f"el-{i}-{key}", "").strip()
            if not raw:
                continue
            if key in _NUMBER_RESTRICTIONS:
                restrictions[key] = _number(raw)
            elif key in _INT_RESTRICTIONS:
                n = _number(raw)
                restrictions[key] = int(n) if isinstance(n, Decimal) and n == int(n) else raw
            else:
                restrictions[key] = raw
        days = [d for d in DAYS if post.get(f"el-{i}-day-{d}")]
        if days:
            restrictions["day_of_week"] = days
        if restrictions:
            element["restrictions"] = restrictions
        elements.append(element)
    ocpi: dict[str, Any] = {
        **identity,
        "currency": post.get("currency", "").strip().upper(),
        "elements": elements,
        "last_updated": now().isoformat().replace("+00:00", "Z"),
    }
    if post.get("type"):
        ocpi["type"] = post["type"]
    if post.get("name", "").strip():
        ocpi["tariff_alt_text"] = [{"language": "en", "text": post["name"].strip()}]
    for limit in ("min_price", "max_price"):
        raw = post.get(limit, "").strip()
        if raw:
            ocpi[limit] = {"excl_vat": _number(raw)}
    return ocpi


def ocpi_to_form(ocpi: dict[str, Any] | None) -> dict[str, Any]:
    """The form's view of a tariff: elements with components and restrictions."""
    if not ocpi:
        return {
            "currency": "EUR",
            "type": "REGULAR",
            "name": "",
            "elements": [
                {
                    "components": [{"type": "ENERGY", "price": "", "vat": "", "step_size": "1"}],
                    "r": {},
                    "days": [],
                }
            ],
        }
    alt = ocpi.get("tariff_alt_text") or []
    elements = []
    for el in ocpi.get("elements") or []:
        r = el.get("restrictions") or {}
        elements.append(
            {
                "components": [
                    {
                        "type": c.get("type"),
                        "price": c.get("price"),
                        "vat": "" if c.get("vat") is None else c.get("vat"),
                        "step_size": c.get("step_size", 1),
                    }
                    for c in el.get("price_components") or []
                ],
                "r": {k: r.get(k) for k, _ in RESTRICTIONS if r.get(k) is not None},
                "days": list(r.get("day_of_week") or []),
            }
        )
    return {
        "currency": ocpi.get("currency", "EUR"),
        "type": ocpi.get("type") or "",
        "name": alt[0].get("text", "") if alt else "",
        "min_price": (ocpi.get("min_price") or {}).get("excl_vat", ""),
        "max_price": (ocpi.get("max_price") or {}).get("excl_vat", ""),
        "elements": elements,
    }


def _form_state(post: Any) -> dict[str, Any]:
    """Re-render what was posted (with an element or component added when asked)."""
    ocpi = form_to_ocpi(post, identity={})
    state = ocpi_to_form({**ocpi, "elements": ocpi["elements"]})
    for i, el in enumerate(state["elements"]):
        if post.get("op") == f"add-component-{i}":
            el["components"].append({"type": "ENERGY", "price": "", "vat": "", "step_size": "1"})
        if not el["components"]:
            el["components"].append({"type": "ENERGY", "price": "", "vat": "", "step_size": "1"})
    if post.get("op") == "add-element" or not state["elements"]:
        state["elements"].append(
            {
                "components": [{"type": "ENERGY", "price": "", "vat": "", "step_size": "1"}],
                "r": {},
                "days": [],
            }
        )
    state["min_price"] = post.get("min_price", "")
    state["max_price"] = post.get("max_price", "")
    return state


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


def _field_errors(problems: tuple[Problem, ...], elements: list[dict[str, Any]]) -> dict[str, str]:
    """Put each parser problem next to its field: `$.elements[0].price_components[1].price`
    -> el-0-pc-1-price. Paths refer to the posted (non-empty) components."""
    out: dict[str, str] = {}
    for p in problems:
        m = re.match(r"\$\.elements\[(\d+)\]\.price_components\[(\d+)\]\.?(\w*)", p.path)
        if m:
            out[f"el-{m.group(1)}-pc-{m.group(2)}-{m.group(3) or 'price'}"] = p.message
            continue
        m = re.match(r"\$\.elements\[(\d+)\]\.restrictions\.?(\w*)", p.path)
        if m:
            out[f"el-{m.group(1)}-{m.group(2) or 'restrictions'}"] = p.message
            continue
        out[p.path.removeprefix("$.")] = p.message
    return out


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
            "form": ocpi_to_form(record.ocpi),
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


def _form_page(
    request: HttpRequest,
    *,
    state: dict[str, Any],
    errors: list[str],
    field_errors: dict[str, str],
    record: Any = None,
    status: int = 200,
) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    for i, el in enumerate(state["elements"]):
        el["err"] = {
            k.removeprefix(f"el-{i}-"): v
            for k, v in field_errors.items()
            if k.startswith(f"el-{i}-") and "-pc-" not in k
        }
        el["restr"] = [
            (k, label, el["r"].get(k, ""), el["err"].get(k, "")) for k, label in RESTRICTIONS
        ]
        for j, comp in enumerate(el["components"]):
            prefix = f"el-{i}-pc-{j}-"
            # Each input is marked by its own problem (`invalid`); the line under the
            # component names the fields in words.
            comp["invalid"] = {
                k.removeprefix(prefix): v for k, v in field_errors.items() if k.startswith(prefix)
            }
            comp["err"] = "; ".join(f"{field_words(k)}: {v}" for k, v in comp["invalid"].items())
    state["limit_errors"] = {
        limit: " ".join(v for k, v in field_errors.items() if k.split(".")[0] == limit)
        for limit in ("min_price", "max_price")
    }
    return page(
        request,
        "portal/tariffs/form.html",
        {
            "state": state,
            "errors": errors,
            "fe": field_errors,
            "r": record,
            "dimensions": DIMENSIONS,
            "types": TYPES,
            "days": DAYS,
            "restrictions": RESTRICTIONS,
            "parties": parties.parties_of_tenant(tenant_id=portal.tenant_id, role=PartyRole.CPO),
            "post": request.POST,
            "default_effective": (now() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        },
        section="tariffs",
        status=status,
    )


@portal_view(Capability.TARIFFS_EDIT, methods=("GET", "POST"))
def tariff_new(request: HttpRequest) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    if request.method == "GET":
        return _form_page(request, state=ocpi_to_form(None), errors=[], field_errors={})
    state = _form_state(request.POST)
    if request.POST.get("op", "save") != "save":
        return _form_page(request, state=state, errors=[], field_errors={})
    party_pk = int(request.POST.get("party") or 0)
    party = next(
        (p for p in parties.parties_of_tenant(tenant_id=portal.tenant_id) if p.id == party_pk),
        None,
    )
    ocpi_id = request.POST.get("ocpi_id", "").strip()
    errors = []
    if party is None:
        errors.append("Choose the CPO party that owns this tariff.")
    if not ocpi_id:
        errors.append("Give the tariff an id (1 to 36 characters, e.g. AC-STANDARD).")
    effective = parse_datetime_local(request.POST.get("effective_from", "")) or now()
    if errors:
        return _form_page(request, state=state, errors=errors, field_errors={}, status=400)
    assert party is not None
    ocpi = form_to_ocpi(
        request.POST,
        identity={"country_code": party.country_code, "party_id": party.party_id, "id": ocpi_id},
    )
    try:
        _check_editor_rules(ocpi)
        with transaction.atomic():
            record = tariffs.tariff_create(
                tenant_id=portal.tenant_id,
                ocpi=ocpi,
                effective_from=effective,
                now=now(),
                actor=actor(request),
            )
    except DomainError as exc:
        return _form_page(
            request,
            state=state,
            errors=problem_messages(exc),
            field_errors=_field_errors(exc.problems, state["elements"]),
            status=400,
        )
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
        return _form_page(
            request, state=ocpi_to_form(record.ocpi), errors=[], field_errors={}, record=record
        )
    state = _form_state(request.POST)
    if request.POST.get("op", "save") != "save":
        return _form_page(request, state=state, errors=[], field_errors={}, record=record)
    effective = parse_datetime_local(request.POST.get("effective_from", ""))
    if effective is None:
        return _form_page(
            request,
            state=state,
            record=record,
            field_errors={},
            status=400,
            errors=["Give the date and time from which the new prices apply."],
        )
    ocpi = form_to_ocpi(
        request.POST,
        identity={
            "country_code": record.country_code,
            "party_id": record.party_id,
            "id": record.id,
        },
    )
    try:
        _check_editor_rules(ocpi)
        with transaction.atomic():
            after = tariffs.tariff_version_create(
                tenant_id=portal.tenant_id,
                tariff_id=tariff_id,
                ocpi=ocpi,
                effective_from=effective,
                now=at,
                actor=actor(request),
            )
    except DomainError as exc:
        return _form_page(
            request,
            state=state,
            record=record,
            status=400,
            errors=problem_messages(exc),
            field_errors=_field_errors(exc.problems, state["elements"]),
        )
    newest = after.versions[-1]
    notify(
        request,
        f"Version {newest.version} saved: it applies to sessions starting from "
        f"{newest.effective_from:%Y-%m-%d %H:%M} UTC.",
    )
    return redirect("portal:tariff", portal.tenant.slug, tariff_id)


@portal_view(Capability.TARIFFS_EDIT)
def tariff_preview(request: HttpRequest) -> HttpResponse:
    """The price of a sample session with the tariff as currently typed (htmx fragment)."""
    ocpi = form_to_ocpi(
        request.POST, identity={"country_code": "XX", "party_id": "XXX", "id": "preview"}
    )
    tz = request.POST.get("sample_tz", "Europe/Amsterdam") or "Europe/Amsterdam"
    context: dict[str, Any] = {}
    try:
        import zoneinfo

        start_local = datetime.fromisoformat(request.POST.get("sample_start") or "2026-03-02T18:00")
        start = start_local.replace(tzinfo=zoneinfo.ZoneInfo(tz))
        _check_editor_rules(ocpi)
        context["preview"] = tariffs.tariff_preview(
            ocpi=ocpi,
            start=start,
            charging_minutes=int(request.POST.get("sample_minutes") or 60),
            parking_minutes=int(request.POST.get("sample_parking") or 0),
            energy_kwh=Decimal((request.POST.get("sample_kwh") or "20").replace(",", ".")),
            time_zone=tz,
        )
    except DomainError as exc:
        context["errors"] = problem_messages(exc)
    except (ValueError, InvalidOperation, KeyError) as exc:
        context["errors"] = [f"The sample session is not complete: {exc}"]
    return page(request, "portal/tariffs/_preview.html", context, section="tariffs")


@portal_view(Capability.TARIFFS_EDIT)
def tariff_copy(request: HttpRequest, tariff_id: int) -> HttpResponse:
    portal = request.portal  # type: ignore[attr-defined]
    new_id = request.POST.get("new_id", "").strip()
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
    try:
        with transaction.atomic():
            record = tariffs.tariff_code_create(
                tenant_id=portal.tenant_id,
                code=request.POST.get("code", "").strip(),
                tariff_id=int(request.POST.get("tariff_id") or 0),
                description=request.POST.get("description", "").strip(),
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
        upload = request.FILES.get("file")
        text = request.POST.get("csv_text", "")
        if upload is not None:
            raw = upload.read(5_000_001)
            if len(raw) > 5_000_000:
                context["errors"] = ["The file is larger than 5 MB; split it."]
            else:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    context["errors"] = ["The file is not UTF-8 text: save it as CSV UTF-8."]
        context["csv_text"] = text
        if text and "errors" not in context:
            effective = parse_datetime_local(request.POST.get("effective_from", "")) or now()
            context["effective"] = effective.strftime("%Y-%m-%dT%H:%M")
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
        elif not text and "errors" not in context:
            context["errors"] = ["Choose a CSV file with lines 'station,tariff_code'."]
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
