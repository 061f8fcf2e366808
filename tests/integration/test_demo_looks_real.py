"""The demo data of `make run` looks like a small real operator (issue 15): every card has
its own contract id, addresses belong to their city and country, every demo station is
simulated, and every EVSE of a simulated station reports a status (none stays UNKNOWN)."""

from __future__ import annotations

import fnmatch
import re
import shlex
from decimal import Decimal
from typing import Any

import pytest

from apps.customers.models import Customer
from apps.locations.models import ChargeStation, Evse, Location
from apps.tokens.models import Token
from config.env import BASE_DIR
from csms_gateway.simulator import parse_args
from demo.data import CPOS, load, station_identities

pytestmark = pytest.mark.django_db

POSTAL_CODES = {"NLD": r"\d{4} [A-Z]{2}", "DEU": r"\d{5}"}


def simulators() -> dict[str, Any]:
    """The Procfile's simulator processes, their arguments parsed as the simulator does."""
    found = {}
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(": ")
        if "csms_gateway.simulator" in command:
            argv = shlex.split(command.replace("$GATEWAY_HOST", "h").replace("$GATEWAY_PORT", "1"))
            found[name] = parse_args(argv[argv.index("csms_gateway.simulator") + 1 :])
    return found


def test_every_token_has_its_own_contract_id() -> None:
    load(password="demo-password-for-tests")
    contract_ids = list(Token.objects.values_list("contract_id", flat=True))
    assert len(contract_ids) == 20
    assert len(set(contract_ids)) == len(contract_ids)
    # The CPOs' cards of the simulator: one eMA id per card, issuer prefix and number.
    gfx = Token.objects.filter(party__party_id="GFX").order_by("uid")
    assert list(gfx.values_list("uid", "contract_id")) == [
        ("DRV00000001", "NL-GFX-CDRV00001-X"),
        ("DRV00000002", "NL-GFX-CDRV00002-X"),
        ("PPY00000001", "NL-GFX-CPPY00001-X"),
        ("PPY00000002", "NL-GFX-CPPY00002-X"),
        ("PPY00000003", "NL-GFX-CPPY00003-X"),
    ]


def test_customers_are_people_with_their_own_names_and_addresses() -> None:
    load(password="demo-password-for-tests")
    people = Customer.objects.filter(kind="person").order_by("external_ref")
    customers = list(people.values_list("name", "email"))
    assert len(customers) == 10
    assert len({name for name, _ in customers}) == 10
    assert ("Anna de Vries", "anna.devries@plugpay-demo.example") in customers
    assert not [name for name, _ in customers if "demo" in name.lower()]
    # Besides them, each CPO tenant's fleet holds the simulator's cards (demo/billing.py).
    fleets = Customer.objects.filter(kind="company").order_by("name").values_list("name", flat=True)
    assert list(fleets) == ["GFX test fleet", "VYL test fleet"]


def test_addresses_belong_to_their_city_and_country() -> None:
    load(password="demo-password-for-tests")
    centres = {cpo.city: (Decimal(cpo.lat), Decimal(cpo.lon)) for cpo in CPOS}
    locations = list(Location.objects.order_by("city", "name"))
    assert [(loc.city, loc.country, loc.postal_code, loc.address) for loc in locations] == [
        ("Amsterdam", "NLD", "1078 GZ", "Europaplein 22"),
        ("Amsterdam", "NLD", "1071 DJ", "Museumplein 10"),
        ("Berlin", "DEU", "10178", "Alexanderstraße 9"),
        ("Berlin", "DEU", "10785", "Linkstraße 2"),
    ]
    for loc in locations:
        assert re.fullmatch(POSTAL_CODES[loc.country], loc.postal_code), loc
        lat, lon = centres[loc.city]
        # Within about 10 km of the city centre, and no two locations on one spot.
        assert abs(loc.latitude - lat) < Decimal("0.1"), loc
        assert abs(loc.longitude - lon) < Decimal("0.15"), loc
    assert len({(loc.latitude, loc.longitude) for loc in locations}) == len(locations)
    assert {loc.time_zone for loc in locations if loc.city == "Berlin"} == {"Europe/Berlin"}


def test_make_run_simulates_every_demo_station_and_reports_every_evse() -> None:
    load(password="demo-password-for-tests")
    sims = simulators()
    assert set(sims) == {"sim16", "sim201"}
    simulated: list[str] = []
    for args in sims.values():
        matching = sorted(i for i in station_identities() if fnmatch.fnmatchcase(i, args.match))
        assert args.stations == len(matching), args  # none left "offline, never connected"
        assert args.speed == 1  # live time: the station clock starts now
        simulated += matching
        for identity in matching:
            evses = Evse.objects.filter(charge_station__identity=identity)
            # The simulator reports EVSEs 1 .. --evses after every boot.
            assert sorted(evses.values_list("ocpp_evse_id", flat=True)) == list(
                range(1, args.evses + 1)
            ), identity
    assert sorted(simulated) == sorted(ChargeStation.objects.values_list("identity", flat=True))
