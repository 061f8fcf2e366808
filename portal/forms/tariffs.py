"""The tariff editor as Django forms: the tariff's own fields, a formset of elements and, per
element, a formset of price components (field names `el-<i>-<field>` and
`el-<i>-pc-<j>-<field>`), plus the sample session of the live preview.

The forms read and keep what was typed; the tariff's content (prices, VAT, step sizes,
restrictions) is validated by the pricing core's parser, the same one that prices sessions,
and `TariffEditor.add_problems` puts each of its problems on the form and field it names."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.forms import formset_factory

from apps.common.errors import Problem
from apps.tariffs.contracts import BillingEngine
from portal.forms.fields import LocalDateTimeField, UtcDateTimeField

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


def number(value: str) -> Any:
    """A number as typed (comma or point), as Decimal; the text itself if it is not one
    (the pricing core's parser then says what is wrong, at its path)."""
    text = value.strip().replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


class ComponentForm(forms.Form):
    """One price component; a row without a price is left out of the tariff."""

    type = forms.ChoiceField(choices=[(d, d) for d in DIMENSIONS], required=False)
    price = forms.CharField(required=False)
    vat = forms.CharField(required=False)
    step_size = forms.CharField(required=False)

    def component(self) -> dict[str, Any] | None:
        """The OCPI price component of this row (None: no price, or removed)."""
        data = self.cleaned_data
        price = data.get("price", "")
        if data.get("DELETE") or not price:
            return None
        comp: dict[str, Any] = {
            "type": data.get("type") or "ENERGY",
            "price": number(price),
            "step_size": number(data.get("step_size") or "1"),
        }
        if data.get("vat"):
            comp["vat"] = number(data["vat"])
        step = comp["step_size"]
        if isinstance(step, Decimal) and step == step.to_integral_value():
            comp["step_size"] = int(step)
        return comp


class ElementForm(forms.Form):
    """One tariff element's restrictions (its components are a formset of their own)."""

    start_time = forms.CharField(required=False)
    end_time = forms.CharField(required=False)
    min_kwh = forms.CharField(required=False)
    max_kwh = forms.CharField(required=False)
    min_power = forms.CharField(required=False)
    max_power = forms.CharField(required=False)
    min_duration = forms.CharField(required=False)
    max_duration = forms.CharField(required=False)
    days = forms.MultipleChoiceField(
        choices=[(d, d) for d in DAYS], required=False, widget=forms.CheckboxSelectMultiple
    )

    def restrictions(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, _ in RESTRICTIONS:
            raw = self.cleaned_data.get(key, "")
            if not raw:
                continue
            if key in _NUMBER_RESTRICTIONS:
                out[key] = number(raw)
            elif key in _INT_RESTRICTIONS:
                n = number(raw)
                out[key] = int(n) if isinstance(n, Decimal) and n == int(n) else raw
            else:
                out[key] = raw
        days = [d for d in DAYS if d in (self.cleaned_data.get("days") or [])]
        if days:
            out["day_of_week"] = days
        return out


ComponentFormSet = formset_factory(ComponentForm, extra=0, can_delete=True)
ElementFormSet = formset_factory(ElementForm, extra=0, can_delete=True)

EMPTY_COMPONENT = {"type": "ENERGY", "price": "", "vat": "", "step_size": "1"}
EMPTY_ELEMENT: dict[str, Any] = {"components": [EMPTY_COMPONENT], "r": {}, "days": []}


# What a tariff serves (ADR 0027), as the form offers it.
ENGINE_CHOICES = [
    (BillingEngine.WHOLESALE.value, "Wholesale: the station price, charged to eMSPs"),
    (BillingEngine.RETAIL.value, "Retail: an eMSP's price to its drivers"),
    (BillingEngine.REIMBURSEMENT.value, "Reimbursement: a charger owner's rate"),
]


class TariffForm(forms.Form):
    """The tariff's own fields. `ocpi_id` and `party` only for a new tariff; `effective_from`
    is required for a new version (a new tariff starts now when it is empty)."""

    ocpi_id = forms.CharField(
        max_length=36,
        label="Tariff id",
        error_messages={
            "required": "Give the tariff an id (1 to 36 characters, e.g. AC-STANDARD).",
            "max_length": "Give the tariff an id (1 to 36 characters, e.g. AC-STANDARD).",
        },
    )
    party = forms.TypedChoiceField(
        coerce=int,
        label="Party",
        error_messages={
            "required": "Choose the party that owns this tariff.",
            "invalid_choice": "Choose the party that owns this tariff.",
        },
    )
    engine = forms.ChoiceField(
        choices=ENGINE_CHOICES,
        required=False,
        label="Serves",
        error_messages={"invalid_choice": "Choose what the tariff serves."},
    )
    name = forms.CharField(required=False, label="Name")
    type = forms.ChoiceField(choices=[(t, t) for t in TYPES], required=False, label="Type")
    currency = forms.CharField(required=False, label="Currency")
    effective_from = UtcDateTimeField(
        required=False,
        label="Prices apply from",
        error_messages={
            "required": "Give the date and time from which the new prices apply.",
            "invalid": "Give the date and time from which the new prices apply.",
        },
    )
    min_price = forms.CharField(required=False, label="Minimum price excl. VAT")
    max_price = forms.CharField(required=False, label="Maximum price excl. VAT")

    def __init__(
        self, *args: Any, new: bool, party_choices: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if new:
            self.fields["party"].choices = party_choices  # type: ignore[attr-defined]
        else:
            del self.fields["ocpi_id"], self.fields["party"], self.fields["engine"]
            self.fields["effective_from"].required = True


SAMPLE_START = "2026-03-02T18:00"


class SampleSessionForm(forms.Form):
    """The sample session the preview prices (start in local time of `sample_tz`)."""

    sample_start = LocalDateTimeField(required=False, label="start")
    sample_tz = forms.CharField(required=False, label="time zone")
    sample_kwh = forms.DecimalField(required=False, label="kWh", localize=False)
    sample_minutes = forms.IntegerField(required=False, min_value=0, label="charging minutes")
    sample_parking = forms.IntegerField(required=False, min_value=0, label="parked minutes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and args[0] is not None:  # a decimal comma is a decimal point
            data = args[0].copy()
            data["sample_kwh"] = data.get("sample_kwh", "").replace(",", ".")
            args = (data, *args[1:])
        super().__init__(*args, **kwargs)

    def clean_sample_tz(self) -> str:
        tz = self.cleaned_data["sample_tz"].strip() or "Europe/Amsterdam"
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                f"“{tz}” is no IANA time zone (e.g. Europe/Amsterdam)"
            ) from None
        return tz

    def session(self) -> dict[str, Any]:
        """`tariffs.tariff_preview`'s sample-session arguments (defaults for empty fields)."""
        data = self.cleaned_data
        tz = data["sample_tz"]
        start: datetime = data["sample_start"] or datetime.fromisoformat(SAMPLE_START)
        kwh = data["sample_kwh"]
        return {
            "start": start.replace(tzinfo=zoneinfo.ZoneInfo(tz)),
            "charging_minutes": 60 if data["sample_minutes"] is None else data["sample_minutes"],
            "parking_minutes": data["sample_parking"] or 0,
            "energy_kwh": Decimal(20) if kwh is None else kwh,
            "time_zone": tz,
        }


@dataclass
class ElementRows:
    """One element of the editor: its form and its components' formset."""

    form: ElementForm
    components: Any  # ComponentFormSet


class TariffEditor:
    """The whole editor: `TariffForm`, the elements' formset and one components' formset per
    element. Bound to a POST, or unbound with `initial` (the form's view of a stored OCPI
    tariff, `ocpi_to_initial`)."""

    def __init__(
        self,
        data: Any = None,
        *,
        initial: dict[str, Any] | None = None,
        new: bool,
        party_choices: list[tuple[int, str]],
    ) -> None:
        initial = initial or ocpi_to_initial(None)
        self.form = TariffForm(
            data,
            initial={k: v for k, v in initial.items() if k != "elements"},
            new=new,
            party_choices=party_choices,
        )
        elements = initial["elements"]
        self.element_forms = ElementFormSet(
            data,
            prefix="el",
            initial=[{**el["r"], "days": el["days"]} for el in elements] if data is None else None,
        )
        self.elements = [
            ElementRows(
                form=form,
                components=ComponentFormSet(
                    data,
                    prefix=f"{form.prefix}-pc",
                    initial=elements[i]["components"] if data is None else None,
                ),
            )
            for i, form in enumerate(self.element_forms.forms)
        ]
        # For each OCPI element / component index: the form it came from (`to_ocpi`).
        self._placed: list[tuple[ElementRows, list[ComponentForm]]] = []

    def is_valid(self) -> bool:
        return all(
            [  # a list, not a generator: every form is validated, so every error is shown
                self.form.is_valid(),
                self.element_forms.is_valid(),
                *(rows.components.is_valid() for rows in self.elements),
            ]
        )

    def to_ocpi(self, *, identity: dict[str, str], last_updated: datetime) -> dict[str, Any]:
        """The OCPI 2.2.1 tariff the (valid) editor describes: elements and components
        marked for removal, and components without a price, are left out."""
        self._placed = []
        elements: list[dict[str, Any]] = []
        for rows in self.elements:
            if rows.form.cleaned_data.get("DELETE"):
                continue
            components, placed = [], []
            for comp_form in rows.components.forms:
                comp = comp_form.component()
                if comp is not None:
                    components.append(comp)
                    placed.append(comp_form)
            element: dict[str, Any] = {"price_components": components}
            restrictions = rows.form.restrictions()
            if restrictions:
                element["restrictions"] = restrictions
            elements.append(element)
            self._placed.append((rows, placed))
        data = self.form.cleaned_data
        ocpi: dict[str, Any] = {
            **identity,
            "currency": (data.get("currency") or "").strip().upper(),
            "elements": elements,
            "last_updated": last_updated.isoformat().replace("+00:00", "Z"),
        }
        if data.get("type"):
            ocpi["type"] = data["type"]
        if (data.get("name") or "").strip():
            ocpi["tariff_alt_text"] = [{"language": "en", "text": data["name"].strip()}]
        for limit in ("min_price", "max_price"):
            raw = (data.get(limit) or "").strip()
            if raw:
                ocpi[limit] = {"excl_vat": number(raw)}
        return ocpi

    def add_problems(self, problems: tuple[Problem, ...]) -> None:
        """Put each problem of the pricing core (a JSON path into the OCPI tariff `to_ocpi`
        made) on the form and field it names; one it cannot place goes to the tariff form."""
        for p in problems:
            form, field = self._place(p.path)
            if field is not None and field not in form.fields:
                field = None
            if field is not None and form.has_error(field):
                continue  # one message per field, the first
            form.add_error(field, p.message)

    def _place(self, path: str) -> tuple[forms.Form, str | None]:
        head, _, rest = path.removeprefix("$.").partition(".")
        if head.startswith("elements[") and head.endswith("]"):
            i = _index(head)
            if i is not None and i < len(self._placed):
                rows, placed = self._placed[i]
                part, _, field = rest.partition(".")
                if part.startswith("price_components["):
                    j = _index(part)
                    if j is not None and j < len(placed):
                        return placed[j], field.partition(".")[0] or "price"
                if part == "restrictions":
                    name = field.partition(".")[0]
                    return rows.form, {"day_of_week": "days"}.get(name, name) or None
                return rows.form, None
            return self.form, None
        if head in ("min_price", "max_price", "currency", "type", "effective_from"):
            return self.form, head
        return self.form, None

    def changed(self, op: str) -> TariffEditor:
        """The editor re-rendered for an `op` that is not "save": what was typed, without
        removed elements and components, with the element or component it asks for."""
        state = ocpi_to_initial(
            self.to_ocpi(identity={}, last_updated=datetime.min.replace(tzinfo=UTC))
        )
        elements = state["elements"]
        for i, el in enumerate(elements):
            if op == f"add-component-{i}" or not el["components"]:
                el["components"].append(dict(EMPTY_COMPONENT))
        if op == "add-element" or not elements:
            elements.append({**EMPTY_ELEMENT, "components": [dict(EMPTY_COMPONENT)]})
        # The tariff's own fields as typed, valid or not (checked when it is saved).
        for name in ("ocpi_id", "party", "effective_from", "min_price", "max_price"):
            if name in self.form.fields:
                state[name] = self.form[name].value()
        return TariffEditor(
            initial=state,
            new="ocpi_id" in self.form.fields,
            party_choices=list(self.form.fields["party"].choices)  # type: ignore[attr-defined]
            if "party" in self.form.fields
            else [],
        )

    def errors(self) -> list[str]:
        """Every problem the forms hold, in words ('<where> — <what>'), for the list above
        the form."""
        out = self.management_errors() + [str(e) for e in self.form.non_field_errors()]
        for name, field in self.form.fields.items():
            out += [f"{field.label} — {e}" for e in self.form.errors.get(name, [])]
        for i, rows in enumerate(self.elements, 1):
            out += [f"element {i} — {e}" for e in rows.form.non_field_errors()]
            for name in rows.form.fields:
                out += [f"element {i}, {name} — {e}" for e in rows.form.errors.get(name, [])]
            for j, comp in enumerate(rows.components.forms, 1):
                for name in comp.fields:
                    out += [
                        f"element {i}, component {j}, {name} — {e}"
                        for e in comp.errors.get(name, [])
                    ]
        return out

    def management_errors(self) -> list[str]:
        """A POST without the formsets' management fields (not the editor's own page)."""
        return [
            str(e)
            for fs in (self.element_forms, *(r.components for r in self.elements))
            for e in fs.non_form_errors()
        ]


def _index(part: str) -> int | None:
    """`elements[2]` -> 2."""
    _, _, tail = part.partition("[")
    number_text = tail.removesuffix("]")
    return int(number_text) if number_text.isdigit() else None


def ocpi_to_initial(ocpi: dict[str, Any] | None) -> dict[str, Any]:
    """The editor's initial values for a stored OCPI tariff (None: a new tariff)."""
    if not ocpi:
        return {
            "currency": "EUR",
            "type": "REGULAR",
            "name": "",
            "elements": [{**EMPTY_ELEMENT, "components": [dict(EMPTY_COMPONENT)]}],
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
