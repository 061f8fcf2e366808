"""The location form, its opening-times field, and the EVSE form with its connector rows.

The forms read what was typed and say where it is wrong; the location's and the EVSE's own
rules (country code, time zone, coordinates, uids) stay in `apps.locations`' services, whose
problems `place_problems` puts on the field they name."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms

from apps.common.errors import Problem
from apps.locations.contracts import ConnectorFormat, ConnectorStandard, EvseStatus, ParkingType

DAY_NUMBERS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
HOURS_EXAMPLE = "write e.g. “Mon-Fri 07:00-22:00”"


def _hhmm(text: str) -> bool:
    hours, colon, minutes = text.partition(":")
    return bool(colon) and len(hours) == len(minutes) == 2 and (hours + minutes).isdigit()


def parse_hours_line(line: str) -> tuple[int, int, str, str]:
    """'Mon-Fri 07:00-22:00' (or 'Sat 09:00 - 17:00') -> (1, 5, '07:00', '22:00').
    Raises ValueError with what to write instead."""
    # "Mon - Fri 07:00 - 22:00" -> "Mon-Fri 07:00-22:00"
    compact = "-".join(part.strip() for part in " ".join(line.split()).split("-"))
    days, _, period = compact.partition(" ")
    d1, _, d2 = days.lower().partition("-")
    begin, _, end = period.partition("-")
    if d1 not in DAY_NUMBERS or (d2 and d2 not in DAY_NUMBERS):
        raise ValueError(HOURS_EXAMPLE)
    if not (_hhmm(begin) and _hhmm(end)):
        raise ValueError(HOURS_EXAMPLE)
    first, last = DAY_NUMBERS[d1], DAY_NUMBERS[d2 or d1]
    if last < first:
        raise ValueError(f"{days.partition('-')[0]} comes after {days.partition('-')[2]}")
    return first, last, begin, end


class OpeningTimesField(forms.CharField):
    """One line per period ('Mon-Fri 07:00-22:00') -> OCPI `regular_hours` (None: empty)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def clean(self, value: Any) -> list[dict[str, Any]] | None:
        text = super().clean(value)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            return None
        regular, problems = [], []
        for n, line in enumerate(lines, 1):
            try:
                first, last, begin, end = parse_hours_line(line)
            except ValueError as exc:
                what = f"line {n} “{line}”" if str(exc) == HOURS_EXAMPLE else f"line {n}"
                problems.append(forms.ValidationError(f"{what}: {exc}"))
                continue
            regular += [
                {"weekday": day, "period_begin": begin, "period_end": end}
                for day in range(first, last + 1)
            ]
        if problems:
            raise forms.ValidationError(problems)
        return regular


def opening_times_text(value: dict[str, Any] | None) -> tuple[str, bool]:
    """OCPI opening times -> (the field's lines, open 24/7)."""
    if not value:
        return "", False
    if value.get("twentyfourseven"):
        return "", True
    names = {v: k.title() for k, v in DAY_NUMBERS.items()}
    return "\n".join(
        f"{names.get(r['weekday'], r['weekday'])} {r['period_begin']}-{r['period_end']}"
        for r in value.get("regular_hours") or []
    ), False


class CoordinateField(forms.CharField):
    """A latitude or longitude as typed (comma or point); the service checks its range."""

    def clean(self, value: Any) -> Decimal:
        text = super().clean(value).replace(",", ".")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError(
                f"“{text}” is not a number: write degrees with a decimal point, e.g. 52.37"
            ) from None


LOCATION_FIELDS = (
    "name",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "latitude",
    "longitude",
    "time_zone",
    "parking_type",
)


class LocationForm(forms.Form):
    """A location's fields; `ocpi_id` and `party` only when it is created."""

    ocpi_id = forms.CharField(max_length=36, label="Location id (OCPI)")
    party = forms.TypedChoiceField(
        coerce=int,
        label="CPO party",
        error_messages={
            "required": "choose the CPO party that runs this location",
            "invalid_choice": "choose the CPO party that runs this location",
        },
    )
    name = forms.CharField(required=False, label="Name")
    address = forms.CharField(required=False, label="Address")
    postal_code = forms.CharField(required=False, label="Postal code")
    city = forms.CharField(required=False, label="City")
    state = forms.CharField(required=False, label="State / region")
    country = forms.CharField(required=False, label="Country")
    time_zone = forms.CharField(required=False, label="Time zone")
    latitude = CoordinateField(label="Latitude")
    longitude = CoordinateField(label="Longitude")
    parking_type = forms.ChoiceField(
        choices=[("", "—"), *[(p.value, p.value) for p in ParkingType]],
        required=False,
        label="Parking type",
    )
    twentyfourseven = forms.BooleanField(required=False, label="Open 24/7")
    opening_times = OpeningTimesField(required=False, label="Opening times")
    charging_when_closed = forms.BooleanField(required=False)
    publish = forms.BooleanField(required=False)
    etag = forms.CharField(required=False)

    def __init__(
        self, *args: Any, new: bool, party_choices: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if new:
            self.fields["party"].choices = party_choices  # type: ignore[attr-defined]
        else:
            del self.fields["ocpi_id"], self.fields["party"]

    def values(self) -> dict[str, Any]:
        """The location's values as `locations.location_create / _update` take them."""
        data = self.cleaned_data
        values: dict[str, Any] = {
            f: data[f].strip() if isinstance(data[f], str) else data[f] for f in LOCATION_FIELDS
        }
        values["country"] = values["country"].upper()
        values["publish"] = data["publish"]
        values["charging_when_closed"] = data["charging_when_closed"]
        if data["twentyfourseven"]:
            values["opening_times"] = {"twentyfourseven": True}
        elif data["opening_times"]:
            values["opening_times"] = {
                "twentyfourseven": False,
                "regular_hours": data["opening_times"],
            }
        else:
            values["opening_times"] = None
        return values


def place_problems(form: forms.Form, problems: tuple[Problem, ...], prefix: str = "") -> None:
    """Put each service problem on the field its path names (`time_zone`, `$.city`,
    `<prefix>.uid`), else above the form."""
    for p in problems:
        name = p.path.removeprefix("$").removeprefix(".").removeprefix(prefix).lstrip(".")
        name = name.partition(".")[0]
        field = name if name in form.fields else None
        if field is None or not form.has_error(field):
            form.add_error(field, p.message)


class EvseForm(forms.Form):
    uid = forms.CharField(
        label="uid",
        error_messages={"required": "give the EVSE a uid (unique in this tenant)"},
    )
    evse_id = forms.CharField(required=False, label="EVSE id")
    status = forms.ChoiceField(
        choices=[(s.value, s.value) for s in EvseStatus], required=False, label="status"
    )


class ConnectorForm(forms.Form):
    """One connector row of the EVSE form (prefix `c<n>`); a row without an id is empty."""

    id = forms.CharField(required=False, label="id")
    standard = forms.ChoiceField(
        choices=[(s.value, s.value) for s in ConnectorStandard], required=False, label="standard"
    )
    format = forms.ChoiceField(
        choices=[(s.value, s.value) for s in ConnectorFormat], required=False, label="format"
    )
    power_type = forms.CharField(required=False, label="power type")
    max_voltage = forms.IntegerField(required=False, min_value=0, label="max voltage")
    max_amperage = forms.IntegerField(required=False, min_value=0, label="max amperage")
    max_electric_power = forms.IntegerField(required=False, min_value=0, label="max power")

    def connector(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        if not data.get("id", "").strip():
            return None
        return {
            "id": data["id"].strip(),
            "standard": data["standard"],
            "format": data["format"],
            "power_type": data["power_type"],
            "max_voltage": data["max_voltage"] or 0,
            "max_amperage": data["max_amperage"] or 0,
            "max_electric_power": data["max_electric_power"],
        }


CONNECTOR_ROWS = 3


def form_errors_in_words(form: forms.Form, *, row: str = "") -> list[str]:
    """'<where>: <what>' for every problem of a form (non-field ones without a field)."""
    out = [f"{row}{e}" for e in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name != "__all__":
            out += [f"{row}{form.fields[name].label or name}: {e}" for e in errors]
    return out
