"""The OCPI schema set itself (tests/roaming/ocpi_schemas, tests/roaming/schemas.py):
up to date with its definitions, valid draft 2020-12, and checked against the spec's own
examples (OCPI 2.2.1-d2, `examples/*.json` of branch release-2.2.1-bugfixes, kept as test
data in ocpi_schemas/examples/2.2.1): every example the spec gets right passes, the two it
gets wrong fail with exactly their errors, and deliberate breaks are caught with their path.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.roaming.ocpi_schemas import build
from tests.roaming.schemas import SCHEMAS, SchemaErrors, errors, names, validate

EXAMPLES = SCHEMAS / "examples" / "2.2.1"

# example file -> (schema, key inside the example when the object is nested in it)
PASSING: dict[str, tuple[str, str | None]] = {
    "cdr_example": ("cdr", None),
    **{f"credentials_example{n}": ("credentials", None) for n in ("", "2", "3", "4")},
    **{
        f"location_energymix_example_{n}": ("energy_mix", "energy_mix")
        for n in ("complete", "energy_provider", "simple")
    },
    **{
        f"location_example{n}": ("location", None)
        for n in (
            "",
            "_parking_garage_opening_hours",
            "_uc2_destination_charger",
            "_uc3_destination_charger_not_published",
            "_uc4_limited_visibility",
            "_uc5_home_charge_point",
        )
    },
    **{
        f"location_hours_{n}": ("hours", None)
        for n in (
            "247_open_exception_closing",
            "opening_hours_with_exceptional_closing",
            "opening_hours_with_exceptional_opening",
        )
    },
    "location_regularhours_example": ("hours", "opening_times"),
    "session_example_1_simple_start": ("session", None),
    "session_example_2_short_finished": ("session", None),
    **{
        f"tariff_{n}": ("tariff", None)
        for n in (
            "1_simple_2hour",
            "2_alt_text",
            "3_alt_url",
            "4_complex",
            "5_free_of_charge",
            "6_025kwh_start_max_price",
            "8_simple_025kwh",
            "9_025kwh_start",
            "10_025kwh_parking_start",
            "11_not_possible_alt_text",
            "12_025kwh_min_price",
            "13_simple_3hour_5parking",
            "14_step_size",
            "15_reservation_5_euro_per_hour",
            "16_reservation_2_euro_fee_5_euro_per_hour",
            "17_reservation_with_expire_fee",
            "18_reservation_with_expire_time",
        )
    },
    "tariffrestriction_example_max_duration": ("tariff", None),
    "tariffrestriction_example_max_power": ("tariff", None),
    "token_example_1_app_user": ("token", None),
    "token_example_2_full_rfid": ("token", None),
    "token_put_example": ("token", None),
    **{
        f"transport_and_format_{n}": ("response", None)
        for n in (
            "get_token_example",
            "get_token_list_example",
            "version_details_example",
            "version_info_example",
        )
    },
    "type_displaytext_example": ("display_text", None),
    "version_details_example": ("version_details", None),
    "version_details_example2": ("version_details", None),
    "versions_info_example": ("versions", None),
}
# PATCH bodies: partial objects, no schema for them.
PARTIAL = {
    "location_patch_example_location",
    "location_patch_example_remove_evse",
    "location_patch_example_status",
    "location_patch_example_tariff",
    "session_patch_example_charging_period",
    "session_patch_example_total_cost",
    "token_patch_example",
}
# Errata of the spec's examples: what the strict schema must say about them, exactly.
ERRATA = {
    "location_put_example_add_evse": (
        "evse",
        [
            "$: Additional properties are not allowed ('floor' was unexpected)",
            "$.connectors[0]: 'last_updated' is a required property",
            "$.connectors[0]: 'max_amperage' is a required property",
            "$.connectors[0]: 'max_voltage' is a required property",
            "$.connectors[0]: 'power_type' is a required property",
            "$.physical_reference: 3 is not of type 'string'",
        ],
    ),
    "tariff_put_example": ("tariff", ["$: 'last_updated' is a required property"]),
}


def _example(stem: str) -> Any:
    return json.loads((EXAMPLES / f"{stem}.json").read_text())


def test_the_files_are_what_build_writes() -> None:
    stale = [
        str(p.relative_to(SCHEMAS))
        for p, text in build.rendered().items()
        if not p.exists() or p.read_text() != text
    ]
    assert stale == [], "run: .venv/bin/python -m tests.roaming.ocpi_schemas.build"
    on_disk = {p for v in ("2.2.1", "2.1.1") for p in (SCHEMAS / v).glob("*.json")}
    assert on_disk == set(build.rendered()), "a schema file without a definition"


@pytest.mark.parametrize("version", ["2.2.1", "2.1.1"])
def test_every_schema_is_valid_draft_2020_12_and_closed(version: str) -> None:
    for name in names(version):
        schema = json.loads((SCHEMAS / version / f"{name}.json").read_text())
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        for sub in _objects(schema):
            assert sub.get("additionalProperties") is False, (version, name, sub.get("title"))


def _objects(schema: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            out.append(schema)
        for value in schema.values():
            out += _objects(value)
    elif isinstance(schema, list):
        for value in schema:
            out += _objects(value)
    return out


def test_every_example_of_the_spec_is_classified() -> None:
    stems = {p.stem for p in EXAMPLES.glob("*.json")}
    assert len(stems) == 59
    assert stems == set(PASSING) | PARTIAL | set(ERRATA)


@pytest.mark.parametrize("stem", sorted(PASSING))
def test_the_spec_examples_validate(stem: str) -> None:
    name, key = PASSING[stem]
    doc = _example(stem)
    validate(doc[key] if key else doc, "2.2.1", name)


@pytest.mark.parametrize("stem", sorted(ERRATA))
def test_the_spec_example_errata_are_caught_exactly(stem: str) -> None:
    name, expected = ERRATA[stem]
    with pytest.raises(SchemaErrors) as caught:
        validate(_example(stem), "2.2.1", name)
    assert caught.value.errors == expected


def test_the_envelope_data_of_the_transport_examples() -> None:
    validate(_example("transport_and_format_get_token_example")["data"], "2.2.1", "token")
    for token in _example("transport_and_format_get_token_list_example")["data"]:
        validate(token, "2.2.1", "token")
    validate(_example("transport_and_format_version_info_example")["data"], "2.2.1", "versions")
    validate(
        _example("transport_and_format_version_details_example")["data"],
        "2.2.1",
        "version_details",
    )


def _broken(stem: str, change: Any) -> Any:
    doc = copy.deepcopy(_example(stem))
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("stem", "name", "change", "expected"),
    [
        (
            "location_example",
            "location",
            lambda d: d.update(operator=None),
            ["$.operator: None is not of type 'object'"],
        ),
        (
            "location_example",
            "location",
            lambda d: d.update(id="X" * 37),
            [f"$.id: '{'X' * 37}' is too long"],
        ),
        (
            "location_example",
            "location",
            lambda d: d["evses"][0]["connectors"][0].update(standard="SCHUKO"),
            [
                "$.evses[0].connectors[0].standard: 'SCHUKO' is not one of "
                + str(build.V221["connector"]["properties"]["standard"]["enum"])
            ],
        ),
        (
            "location_example",
            "location",
            lambda d: d["evses"][0].update(connectors=[]),
            ["$.evses[0].connectors: [] should be non-empty"],
        ),
        (
            "location_example",
            "location",
            lambda d: d.update(last_updated="2015-06-29 20:39:09"),
            [
                "$.last_updated: '2015-06-29 20:39:09' does not match "
                + repr(build.DATETIME["pattern"])
            ],
        ),
        (
            "cdr_example",
            "cdr",
            lambda d: d["cdr_token"].pop("party_id"),
            ["$.cdr_token: 'party_id' is a required property"],
        ),
        (
            "cdr_example",
            "cdr",
            lambda d: d.update(remark="line\nbreak"),
            ["$.remark: 'line\\nbreak' does not match '^[^\\\\x00-\\\\x1F\\\\x7F]*$'"],
        ),
        (
            "session_example_1_simple_start",
            "session",
            lambda d: d.update(colour="blue"),
            ["$: Additional properties are not allowed ('colour' was unexpected)"],
        ),
        (
            "tariff_1_simple_2hour",
            "tariff",
            lambda d: d.update(currency="eur"),
            ["$.currency: 'eur' does not match '^[A-Z]{3}$'"],
        ),
    ],
)
def test_breaks_are_reported_with_their_path(
    stem: str, name: str, change: Any, expected: list[str]
) -> None:
    with pytest.raises(SchemaErrors) as caught:
        validate(_broken(stem, change), "2.2.1", name)
    assert caught.value.errors == expected


def test_decimals_are_numbers_and_integral_ones_integers() -> None:
    doc = _example("cdr_example")
    doc["total_cost"] = {"excl_vat": Decimal("4.0000"), "incl_vat": Decimal("4.84")}
    doc["charging_periods"][0]["dimensions"][0]["volume"] = Decimal("1.2345")
    validate(doc, "2.2.1", "cdr")
    tariff = _example("tariff_1_simple_2hour")
    tariff["elements"][0]["price_components"][0]["step_size"] = Decimal("1.5")
    assert errors(tariff, "2.2.1", "tariff") == [
        "$.elements[0].price_components[0].step_size: 1.5 is not of type 'integer'"
    ]


def test_2_1_1_objects() -> None:
    connector = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "voltage": 230,
        "amperage": 16,
        "tariff_id": "11",
        "last_updated": "2015-03-16T10:10:02Z",
    }
    location = {
        "id": "LOC1",
        "type": "ON_STREET",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "evses": [
            {
                "uid": "3256",
                "status": "AVAILABLE",
                "connectors": [connector],
                "last_updated": "2015-06-28T08:12:01Z",
            }
        ],
        "opening_times": {"twentyfourseven": True},
        "last_updated": "2015-06-28T08:12:01Z",
    }
    validate(location, "2.1.1", "location")
    # 2.2.1 names are refused in 2.1.1 and the other way round.
    assert errors({**connector, "max_voltage": 230}, "2.1.1", "connector") == [
        "$: Additional properties are not allowed ('max_voltage' was unexpected)"
    ]
    assert "$: 'type' is a required property" in errors(
        {k: v for k, v in location.items() if k != "type"}, "2.1.1", "location"
    )
    # Hours: regular_hours or twentyfourseven, one of them.
    assert errors({**location, "opening_times": {}}, "2.1.1", "location") == [
        "$.opening_times: {} is not valid under any of the given schemas"
    ]
    validate(
        {
            "token": "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",
            "url": "https://example.com/ocpi/cpo/versions/",
            "business_details": {"name": "Example Operator"},
            "party_id": "EXA",
            "country_code": "NL",
        },
        "2.1.1",
        "credentials",
    )
    validate({"result": "ACCEPTED"}, "2.1.1", "command_response")


def test_unknown_schema_names_say_what_exists() -> None:
    with pytest.raises(KeyError, match="no schema 2.2.1/locations"):
        validate({}, "2.2.1", "locations")


def test_examples_are_kept_byte_for_byte() -> None:
    # The spec's files, not our rewrite: the d2 example's quirks (e.g. 2.1.1-style fields in
    # location_put_example_add_evse) are what the errata test pins.
    raw = (EXAMPLES / "location_put_example_add_evse.json").read_bytes()
    assert b'"floor": -1' in raw
    assert Path(EXAMPLES).name == "2.2.1"
