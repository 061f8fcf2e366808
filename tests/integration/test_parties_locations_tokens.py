from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.common.contracts import Actor
from apps.common.errors import Conflict, ValidationFailed
from apps.common.secrets import verify_secret
from apps.locations import api as locations_api
from apps.locations.contracts import SecurityProfile
from apps.locations.models import ChargeStation, Location
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.tokens import api as tokens_api
from apps.tokens.contracts import TokenInput
from apps.tokens.models import Token
from tests.factories import (
    ChargeStationFactory,
    LocationFactory,
    OperatorFactory,
    PartyFactory,
    TokenFactory,
)

pytestmark = pytest.mark.django_db


def test_party_identity_is_unique_per_role_across_tenants() -> None:
    PartyFactory(country_code="NL", party_id="ABC", role="CPO")
    with pytest.raises(IntegrityError), transaction.atomic():
        PartyFactory(country_code="NL", party_id="ABC", role="CPO")
    # The same company may be eMSP under the same identity (OCPI 2.2 roles).
    PartyFactory(country_code="NL", party_id="ABC", role="EMSP")


def test_party_ensure_refuses_an_identity_owned_by_another_tenant() -> None:
    a, b = OperatorFactory(), OperatorFactory()
    parties_api.party_ensure(
        tenant_id=a.pk, role=PartyRole.CPO, country_code="nl", party_id="xyz", name="A"
    )
    ref = parties_api.party_get(country_code="NL", party_id="XYZ", role=PartyRole.CPO)
    assert (ref.country_code, ref.party_id, ref.tenant_id) == ("NL", "XYZ", a.pk)
    with pytest.raises(Conflict, match="belongs to another tenant"):
        parties_api.party_ensure(
            tenant_id=b.pk, role=PartyRole.CPO, country_code="NL", party_id="XYZ", name="B"
        )


def test_several_locations_may_share_one_address() -> None:
    first = LocationFactory(address="Stationsplein 1", city="Amsterdam")
    LocationFactory(address="Stationsplein 1", city="Amsterdam", party=first.party)
    assert Location.objects.filter(address="Stationsplein 1").count() == 2


def test_location_upsert_reports_every_bad_field_and_writes_nothing() -> None:
    party = PartyFactory()
    with pytest.raises(ValidationFailed) as info:
        locations_api.location_upsert(
            tenant_id=party.tenant_id,
            party_id=party.pk,
            ocpi_id="LOC-X",
            address="Somewhere 1",
            city="Utrecht",
            country="NL",  # alpha-2: wrong, OCPI wants alpha-3
            latitude=Decimal("52.1"),
            longitude=Decimal("5.1"),
            time_zone="Europe/Utrech",  # misspelled
        )
    paths = sorted(p.path for p in info.value.problems)
    assert paths == ["country", "time_zone"]
    assert not Location.objects.exists()


def test_station_password_is_returned_once_and_stored_hashed() -> None:
    station = ChargeStationFactory()
    password = locations_api.charge_station_reset_password(station_id=station.pk)
    stored = ChargeStation.objects.get(pk=station.pk).password_hash
    assert 16 <= len(password) <= 40  # OCPP 1.6 security whitepaper / 2.0.1 limits
    assert password not in stored
    assert verify_secret(password, stored)
    auth = locations_api.charge_station_auth(identity=station.identity)
    assert auth is not None and auth.password_hash == stored
    assert locations_api.charge_station_auth(identity="no-such-station") is None


def test_security_profile_can_be_raised_but_never_lowered() -> None:
    station = ChargeStationFactory()
    locations_api.charge_station_set_security_profile(
        station_id=station.pk, profile=SecurityProfile.TLS_BASIC
    )
    with pytest.raises(Conflict, match="cannot be lowered"):
        locations_api.charge_station_set_security_profile(
            station_id=station.pk, profile=SecurityProfile.BASIC
        )
    with pytest.raises(Conflict, match="client certificate"):
        locations_api.charge_station_set_security_profile(
            station_id=station.pk, profile=SecurityProfile.TLS_CLIENT_CERT
        )
    assert ChargeStation.objects.get(pk=station.pk).security_profile == 2


def test_token_upsert_is_keyed_by_party_uid_and_type() -> None:
    existing = TokenFactory(uid="04AABBCCDD", type="RFID")
    record, created = tokens_api.token_put(
        tenant_id=existing.tenant_id,
        data=TokenInput(
            country_code=existing.party.country_code,
            party_id=existing.party.party_id,
            uid="04AABBCCDD",
            type="RFID",
            contract_id="NL-EMS-C00000001-X",
            issuer="Updated issuer",
        ),
        actor=Actor.system("test"),
    )
    same = record.id
    assert (same, created) == (existing.pk, False)
    assert Token.objects.get(pk=same).issuer == "Updated issuer"
    tokens_api.token_set_valid(
        tenant_id=existing.tenant_id, token_id=same, valid=False, actor=Actor.system("test")
    )
    refs = tokens_api.tokens_by_uid(uid="04AABBCCDD")
    assert [(r.id, r.valid) for r in refs] == [(existing.pk, False)]


def test_token_type_outside_ocpi_is_refused_by_the_database() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        TokenFactory(type="MAGIC")


def test_station_settings_changed_for_someone_are_audited() -> None:
    station = ChargeStationFactory()
    user = Actor.system("ops-script")
    locations_api.charge_station_set_ocpp_versions(
        station_id=station.pk, versions=["2.0.1"], actor=user
    )
    locations_api.charge_station_set_security_profile(
        station_id=station.pk, profile=SecurityProfile.TLS_BASIC, actor=user
    )
    locations_api.charge_station_set_ocpp_versions(station_id=station.pk, versions=["1.6"])
    entries = parties_api.audit_list(
        tenant_id=station.tenant_id, before_id=None, limit=10, object_type="charge_station"
    )
    assert [(e.action, e.before, e.after) for e in reversed(entries)] == [
        ("station.ocpp_versions", {"ocpp_versions": ""}, {"ocpp_versions": "2.0.1"}),
        ("station.security_profile", {"security_profile": 1}, {"security_profile": 2}),
    ]
