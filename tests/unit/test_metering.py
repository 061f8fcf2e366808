"""Meter values as real stations send them, normalised to Wh, W and A."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from csms_gateway.metering import normalise

TS = "2026-03-01T10:00:00Z"
WHEN = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def one(sampled: list[dict], version: str = "1.6", key: str = "sampledValue") -> object:
    result = normalise([{"timestamp": TS, key: sampled}], version=version)
    assert len(result.samples) == 1, result.warnings
    return result.samples[0]


def test_energy_in_wh_by_default_and_kwh_converted() -> None:
    assert one([{"value": "12345"}]).energy_wh == Decimal("12345")
    assert one([{"value": "12.345", "unit": "kWh"}]).energy_wh == Decimal("12345.000")
    assert one([{"value": 12.5, "unit": "kWh"}]).energy_wh == Decimal("12500.0")


def test_2_0_1_unit_of_measure_and_multiplier() -> None:
    sv = {
        "value": Decimal("1.2345"),
        "unitOfMeasure": {"unit": "kWh", "multiplier": 1},
        "measurand": "Energy.Active.Import.Register",
    }
    assert one([sv], "2.0.1").energy_wh == Decimal("12345.000")
    power = {"value": 7, "unitOfMeasure": {"unit": "kW"}, "measurand": "Power.Active.Import"}
    assert one([power], "2.0.1").power_w == Decimal("7000")


def test_per_phase_only_registers_are_summed_and_current_takes_the_highest_phase() -> None:
    sample = one(
        [
            {"value": "1000", "phase": "L1", "measurand": "Energy.Active.Import.Register"},
            {"value": "1100", "phase": "L2", "measurand": "Energy.Active.Import.Register"},
            {"value": "900", "phase": "L3", "measurand": "Energy.Active.Import.Register"},
            {"value": "15.5", "phase": "L1", "measurand": "Current.Import", "unit": "A"},
            {"value": "16.1", "phase": "L2", "measurand": "Current.Import", "unit": "A"},
        ]
    )
    assert sample.energy_wh == Decimal("3000")
    assert sample.current_a == Decimal("16.1")


def test_a_total_wins_over_its_phases() -> None:
    sample = one(
        [
            {"value": "5000"},
            {"value": "1000", "phase": "L1"},
            {"value": "1000", "phase": "L2"},
        ]
    )
    assert sample.energy_wh == Decimal("5000")


def test_signed_values_are_kept_verbatim() -> None:
    ocmf = 'OCMF|{"FV":"1.0"}|{"SA":"ECDSA-secp256r1-SHA256","SD":"3045"}'
    sample = one([{"value": ocmf, "format": "SignedData"}, {"value": "4200"}])
    assert sample.signed_data == ocmf
    assert sample.energy_wh == Decimal("4200")
    signed_201 = {
        "signedMeterData": "abc",
        "signingMethod": "ECDSA",
        "encodingMethod": "OCMF",
        "publicKey": "pk",
    }
    sample = one([{"value": 10, "signedMeterValue": signed_201}], "2.0.1")
    assert '"signedMeterData":"abc"' in sample.signed_data


def test_ocpp_1_5_inner_values_wrapper() -> None:
    result = normalise([{"timestamp": TS, "values": [{"value": "777"}]}], version="1.5")
    assert result.samples[0].energy_wh == Decimal("777")
    result = normalise([{"timestamp": TS, "value": {"value": "778"}}], version="1.5")
    assert result.samples[0].energy_wh == Decimal("778")


def test_unusable_values_are_skipped_with_a_warning_never_an_error() -> None:
    result = normalise(
        [
            {"timestamp": TS, "sampledValue": [{"value": "12,5"}, {"value": "9", "unit": "MWh"}]},
            {"timestamp": "yesterday", "sampledValue": [{"value": "1"}]},
            {
                "timestamp": TS,
                "sampledValue": [{"value": "50", "measurand": "SoC", "location": "EV"}],
            },
        ],
        version="1.6",
    )
    assert [s.soc_percent for s in result.samples] == [Decimal("50")]
    assert result.samples[0].timestamp == WHEN
    assert any("'12,5' is not a number" in w for w in result.warnings)
    assert any("'MWh' is not a unit" in w for w in result.warnings)
    assert any("timestamp" in w for w in result.warnings)
