"""factory_boy factories for the domain model. Tests build rows with these, not by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from apps.charging.models import Cdr, ChargingSession
from apps.customers.models import Contract, Customer
from apps.locations.models import ChargeStation, Connector, Evse, Location
from apps.parties.models import Membership, Operator, Party, User
from apps.tariffs.models import Tariff, TariffAssignment, TariffCode, TariffVersion
from apps.tokens.models import Token

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

SIMPLE_OCPI_TARIFF = {
    "country_code": "NL",
    "party_id": "CPO",
    "id": "T1",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
    "last_updated": "2026-01-01T00:00:00Z",
}


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"operator-{n}")
    name = factory.Sequence(lambda n: f"Operator {n}")


def _party_code(n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(alphabet[(n // 26**i) % 26] for i in (2, 1, 0))


class PartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    tenant = factory.SubFactory(OperatorFactory)
    role = "CPO"
    country_code = "NL"
    party_id = factory.Sequence(_party_code)
    name = factory.Sequence(lambda n: f"Party {n}")


class EmspFactory(PartyFactory):
    role = "EMSP"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.test")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(OperatorFactory)
    role = "cpo_admin"


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    party = factory.SubFactory(PartyFactory)
    tenant = factory.SelfAttribute("party.tenant")
    ocpi_id = factory.Sequence(lambda n: f"LOC{n}")
    name = factory.Sequence(lambda n: f"Location {n}")
    address = "Stationsplein 1"
    city = "Amsterdam"
    postal_code = "1012AB"
    country = "NLD"
    latitude = Decimal("52.3791283")
    longitude = Decimal("4.9003620")
    time_zone = "Europe/Amsterdam"


class ChargeStationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargeStation

    location = factory.SubFactory(LocationFactory)
    tenant = factory.SelfAttribute("location.tenant")
    identity = factory.Sequence(lambda n: f"CS-{n:05d}")
    vendor = "Alfen"
    model = "Eve Double"
    ocpp_version = "1.6"


class EvseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evse

    charge_station = factory.SubFactory(ChargeStationFactory)
    location = factory.SelfAttribute("charge_station.location")
    tenant = factory.SelfAttribute("charge_station.tenant")
    ocpp_evse_id = 1
    uid = factory.Sequence(lambda n: f"EVSE-{n}")


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    evse = factory.SubFactory(EvseFactory)
    tenant = factory.SelfAttribute("evse.tenant")
    connector_id = "1"
    standard = "IEC_62196_T2"
    format = "SOCKET"
    power_type = "AC_3_PHASE"
    max_voltage = 230
    max_amperage = 32
    max_electric_power = 22080


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token

    party = factory.SubFactory(EmspFactory)
    tenant = factory.SelfAttribute("party.tenant")
    uid = factory.Sequence(lambda n: f"04A1B2C3{n:06X}")
    type = "RFID"
    contract_id = factory.Sequence(lambda n: f"NL-EMS-C{n:08d}-X")
    issuer = "Demo eMSP"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    party = factory.SubFactory(EmspFactory)
    tenant = factory.SelfAttribute("party.tenant")
    kind = "person"
    name = factory.Sequence(lambda n: f"Driver {n}")


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    tenant = factory.SelfAttribute("customer.tenant")
    token = factory.SubFactory(TokenFactory, party=factory.SelfAttribute("..customer.party"))
    reference = factory.Sequence(lambda n: f"CTR-{n}")
    valid_from = T0


class TariffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tariff

    party = factory.SubFactory(PartyFactory)
    tenant = factory.SelfAttribute("party.tenant")
    ocpi_id = factory.Sequence(lambda n: f"TARIFF-{n}")
    currency = "EUR"


class TariffVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffVersion

    tariff = factory.SubFactory(TariffFactory)
    tenant = factory.SelfAttribute("tariff.tenant")
    version = factory.Sequence(lambda n: n + 1)
    effective_from = T0
    ocpi = factory.LazyFunction(lambda: dict(SIMPLE_OCPI_TARIFF))


class TariffCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffCode

    tariff = factory.SubFactory(TariffFactory)
    tenant = factory.SelfAttribute("tariff.tenant")
    code = factory.Sequence(lambda n: f"CODE{n}")


class TariffAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffAssignment

    charge_station = factory.SubFactory(ChargeStationFactory)
    tenant = factory.SelfAttribute("charge_station.tenant")
    tariff_code = factory.SubFactory(TariffCodeFactory)
    effective_from = T0


class ChargingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargingSession

    connector = factory.SubFactory(ConnectorFactory)
    evse = factory.SelfAttribute("connector.evse")
    charge_station = factory.SelfAttribute("connector.evse.charge_station")
    tenant = factory.SelfAttribute("connector.tenant")
    ocpp_transaction_id = factory.Sequence(lambda n: str(n + 1))
    id_tag = "04A1B2C3D4"
    started_at = T0
    meter_start_wh = Decimal("1000.000")
    time_zone = "Europe/Amsterdam"


class CdrFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cdr

    session = factory.SubFactory(ChargingSessionFactory)
    tenant = factory.SelfAttribute("session.tenant")
    party = factory.SubFactory(PartyFactory, tenant=factory.SelfAttribute("..tenant"))
    ocpi_id = factory.Sequence(lambda n: f"CDR{n:08d}")
    start_date_time = T0
    end_date_time = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    currency = "EUR"
    total_cost_excl_vat = Decimal("2.5000")
    total_cost_incl_vat = Decimal("3.0300")
    total_energy_cost_excl_vat = Decimal("2.5000")
    total_energy_cost_incl_vat = Decimal("3.0300")
    total_energy_kwh = Decimal("10.0000")
    total_time_hours = Decimal("1.000000")
    data = factory.LazyAttribute(lambda o: {"id": o.ocpi_id, "currency": o.currency})
