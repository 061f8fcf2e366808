"""Which tariff a session is priced with: connector override, station default, versions that
apply to future sessions only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.common.errors import Conflict, NotFound, ValidationFailed
from apps.tariffs import api as tariffs_api
from apps.tariffs.models import TariffVersion
from tests.factories import (
    SIMPLE_OCPI_TARIFF,
    T0,
    ChargeStationFactory,
    ConnectorFactory,
    OperatorFactory,
    TariffAssignmentFactory,
    TariffCodeFactory,
    TariffFactory,
    TariffVersionFactory,
)

pytestmark = pytest.mark.django_db


def test_station_default_applies_when_the_connector_has_no_override() -> None:
    connector = ConnectorFactory()
    station = connector.evse.charge_station
    version = TariffVersionFactory(tariff__party__tenant=station.tenant)
    code = TariffCodeFactory(tariff=version.tariff, tenant=station.tenant)
    TariffAssignmentFactory(charge_station=station, tariff_code=code)

    snap = tariffs_api.tariff_for_session(
        charge_station_id=station.pk, connector_id=connector.pk, at=T0 + timedelta(hours=1)
    )
    assert snap is not None
    assert snap.tariff_version_id == version.pk
    assert snap.currency == "EUR"
    assert snap.ocpi == SIMPLE_OCPI_TARIFF


def test_connector_override_wins_over_station_default() -> None:
    connector = ConnectorFactory()
    station = connector.evse.charge_station
    default = TariffVersionFactory(tariff__party__tenant=station.tenant)
    override = TariffVersionFactory(tariff__party__tenant=station.tenant)
    TariffAssignmentFactory(
        charge_station=station, tariff_code=TariffCodeFactory(tariff=default.tariff)
    )
    TariffAssignmentFactory(
        charge_station=station,
        connector=connector,
        tariff_code=TariffCodeFactory(tariff=override.tariff),
    )
    other_connector = ConnectorFactory(evse__charge_station=station, evse__ocpp_evse_id=2)

    at = T0 + timedelta(minutes=5)
    on_override = tariffs_api.tariff_for_session(
        charge_station_id=station.pk, connector_id=connector.pk, at=at
    )
    on_other = tariffs_api.tariff_for_session(
        charge_station_id=station.pk, connector_id=other_connector.pk, at=at
    )
    assert on_override is not None and on_override.tariff_version_id == override.pk
    assert on_other is not None and on_other.tariff_version_id == default.pk


def test_nothing_assigned_or_nothing_effective_yet_gives_none() -> None:
    station = ChargeStationFactory()
    assert (
        tariffs_api.tariff_for_session(charge_station_id=station.pk, connector_id=None, at=T0)
        is None
    )
    version = TariffVersionFactory(effective_from=T0 + timedelta(days=1))
    TariffAssignmentFactory(
        charge_station=station, tariff_code=TariffCodeFactory(tariff=version.tariff)
    )
    assert (
        tariffs_api.tariff_for_session(charge_station_id=station.pk, connector_id=None, at=T0)
        is None
    )


def test_a_scheduled_version_applies_to_sessions_starting_from_its_effective_date() -> None:
    station = ChargeStationFactory()
    tariff = TariffFactory(tenant=station.tenant, party__tenant=station.tenant)
    TariffAssignmentFactory(charge_station=station, tariff_code=TariffCodeFactory(tariff=tariff))
    first = tariffs_api.tariff_version_add(
        tariff_id=tariff.pk, ocpi=SIMPLE_OCPI_TARIFF, effective_from=T0, now=T0
    )
    change_at = T0 + timedelta(days=7)
    dearer = {
        **SIMPLE_OCPI_TARIFF,
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}],
    }
    second = tariffs_api.tariff_version_add(
        tariff_id=tariff.pk, ocpi=dearer, effective_from=change_at, now=T0 + timedelta(days=1)
    )
    before = tariffs_api.tariff_for_session(
        charge_station_id=station.pk, connector_id=None, at=change_at - timedelta(seconds=1)
    )
    after = tariffs_api.tariff_for_session(
        charge_station_id=station.pk, connector_id=None, at=change_at
    )
    assert before is not None and before.tariff_version_id == first and before.version == 1
    assert after is not None and after.tariff_version_id == second and after.version == 2


def test_a_new_version_cannot_take_effect_in_the_past() -> None:
    tariff = TariffFactory()
    tariffs_api.tariff_version_add(
        tariff_id=tariff.pk, ocpi=SIMPLE_OCPI_TARIFF, effective_from=T0, now=T0
    )
    with pytest.raises(Conflict, match="future sessions only"):
        tariffs_api.tariff_version_add(
            tariff_id=tariff.pk,
            ocpi=SIMPLE_OCPI_TARIFF,
            effective_from=T0 + timedelta(hours=1),
            now=T0 + timedelta(hours=2),
        )
    assert TariffVersion.objects.filter(tariff=tariff).count() == 1


def test_version_currency_must_match_the_tariff() -> None:
    tariff = TariffFactory(currency="EUR")
    with pytest.raises(ValidationFailed) as info:
        tariffs_api.tariff_version_add(
            tariff_id=tariff.pk,
            ocpi={**SIMPLE_OCPI_TARIFF, "currency": "CHF"},
            effective_from=T0,
            now=T0,
        )
    assert [str(p) for p in info.value.problems] == ["$.currency: must be 'EUR', got 'CHF'"]
    assert not TariffVersion.objects.exists()


def test_assigning_a_code_of_another_tenant_is_refused() -> None:
    station = ChargeStationFactory()
    foreign_code = TariffCodeFactory(tenant=OperatorFactory())
    with pytest.raises(NotFound):
        tariffs_api.tariff_code_assign(
            tenant_id=station.tenant_id,
            charge_station_id=station.pk,
            tariff_code_id=foreign_code.pk,
            effective_from=T0,
        )


def test_an_invalid_ocpi_tariff_is_refused_with_every_json_path() -> None:
    tariff = TariffFactory()
    bad = {
        **SIMPLE_OCPI_TARIFF,
        "elements": [
            {
                "price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 1}],
                "restrictions": {"max_kwhh": 10},
            }
        ],
    }
    with pytest.raises(ValidationFailed) as info:
        tariffs_api.tariff_version_add(tariff_id=tariff.pk, ocpi=bad, effective_from=T0, now=T0)
    paths = [p.path for p in info.value.problems]
    assert "$.elements[0].price_components[0].price" in paths
    assert "$.elements[0].restrictions.max_kwhh" in paths
    assert not TariffVersion.objects.exists()
