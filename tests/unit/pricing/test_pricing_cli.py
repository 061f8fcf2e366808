"""``python -m billing.pricing``: price, --check, split, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from billing.pricing.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pricing"
ROOT = Path(__file__).resolve().parents[3]
TARIFF_14 = str(FIXTURES / "tariffs" / "tariff_14_step_size.json")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _cdr_from_spec_case(name: str) -> dict[str, Any]:
    cases = json.loads((FIXTURES / "spec_cases.json").read_text())["cases"]
    return dict(next(c for c in cases if c["name"] == name)["cdr"])


def test_price_prints_ocpi_totals_as_decimal_strings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cdr = write(tmp_path, "cdr.json", _cdr_from_spec_case("free_of_charge_switch_546"))
    code, out, err = run(
        capsys, "price", "--tariff", TARIFF_14, "--cdr", cdr, "--time-zone", "Europe/Berlin"
    )
    assert (code, err) == (0, "")
    assert out["total_cost"] == {"excl_vat": "0.73", "incl_vat": "0.73"}
    assert out["total_parking_cost"] == {"excl_vat": "0.25", "incl_vat": "0.25"}
    assert out["billed_parking_time"] == "0.25"
    assert out["total_time"] == "0.533333"
    assert out["durations_seconds"]["total_time"] == 1920
    assert [len(p["dimensions"]) for p in out["charging_periods"]] == [1, 1, 0]
    # tariff 14 has no unrestricted TIME or PARKING_TIME element: reported, not an error
    assert [(w["code"], w["message"][:34]) for w in out["warnings"]] == [
        ("NO_DEFAULT_ELEMENT", "no unrestricted element prices TIM"),
        ("NO_DEFAULT_ELEMENT", "no unrestricted element prices PAR"),
    ]


def test_check_exits_1_and_reports_each_difference(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cdr = _cdr_from_spec_case("free_of_charge_switch_546")
    cdr["total_cost"] = {"excl_vat": 0.75, "incl_vat": 0.73}
    cdr["total_parking_cost"] = {"excl_vat": 0.25}
    code, out, err = run(
        capsys,
        "price",
        "--tariff",
        TARIFF_14,
        "--cdr",
        write(tmp_path, "cdr.json", cdr),
        "--time-zone",
        "Europe/Berlin",
        "--check",
    )
    assert code == 1
    assert out["check"]["differences"] == [
        {"field": "total_cost", "side": "excl_vat", "ours": "0.73", "theirs": "0.75"}
    ]
    assert err == "differs: total_cost.excl_vat: ours 0.73, CDR 0.75\n"
    cdr["total_cost"] = {"excl_vat": 0.74, "incl_vat": 0.73}  # within +-0.01
    code, out, _ = run(
        capsys,
        "price",
        "--tariff",
        TARIFF_14,
        "--cdr",
        write(tmp_path, "cdr.json", cdr),
        "--time-zone",
        "Europe/Berlin",
        "--check",
    )
    assert (code, out["check"]["ok"]) == (0, True)


def test_invalid_input_exits_2_with_the_json_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tariff = json.loads(Path(TARIFF_14).read_text())
    tariff["elements"][1]["restrictions"]["max_kwhh"] = 10
    bad = write(tmp_path, "bad.json", tariff)
    cdr = write(tmp_path, "cdr.json", _cdr_from_spec_case("step_size_switch_2"))
    code, out, err = run(
        capsys, "price", "--tariff", bad, "--cdr", cdr, "--time-zone", "Europe/Berlin"
    )
    assert (code, out) == (2, None)
    assert err == (
        f"error: {bad}: $.elements[1].restrictions.max_kwhh: unknown key "
        "(did you mean 'max_kwh'?)\n"
    )


def test_missing_time_zone_is_exit_2_never_utc(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cdr = write(tmp_path, "cdr.json", _cdr_from_spec_case("step_size_switch_2"))
    code, _, err = run(capsys, "price", "--tariff", TARIFF_14, "--cdr", cdr)
    assert code == 2
    assert "$.time_zone: no time zone" in err


def test_unreadable_and_malformed_files_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert run(capsys, "price", "--tariff", str(broken), "--cdr", str(broken))[0] == 2
    code, _, err = run(
        capsys,
        "price",
        "--tariff",
        str(tmp_path / "nope.json"),
        "--cdr",
        str(broken),
        "--time-zone",
        "Europe/Berlin",
    )
    assert code == 2 and "cannot read" in err
    code, _, err = run(
        capsys, "price", "--tariff", TARIFF_14, "--cdr", str(broken), "--rounding", "BANKERS"
    )
    assert code == 2 and "unknown rounding mode" in err


def test_rounding_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cdr = write(tmp_path, "cdr.json", _cdr_from_spec_case("alt_url_20_45kwh_step_100"))
    tariff = str(FIXTURES / "tariffs" / "tariff_3_alt_url.json")
    _, up, _ = run(
        capsys, "price", "--tariff", tariff, "--cdr", cdr, "--time-zone", "Europe/Berlin"
    )
    _, even, _ = run(
        capsys,
        "price",
        "--tariff",
        tariff,
        "--cdr",
        cdr,
        "--time-zone",
        "Europe/Berlin",
        "--rounding",
        "HALF_EVEN",
    )
    assert up["total_energy_cost"]["excl_vat"] == "5.13"
    assert even["total_energy_cost"]["excl_vat"] == "5.12"


def test_split_then_price(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tariff = str(FIXTURES / "tariff_tou_parking.json")
    code, out, err = run(
        capsys,
        "split",
        "--tariff",
        tariff,
        "--meter-values",
        str(FIXTURES / "meter_values_tou.json"),
    )
    assert (code, err) == (0, "")
    # cuts: 23:00 local (22:00Z, end of the peak window), 23:30Z charging -> parking
    assert out == {
        "start_date_time": "2026-01-15T21:00:00Z",
        "end_date_time": "2026-01-16T00:30:00Z",
        "charging_periods": [
            {
                "start_date_time": "2026-01-15T21:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 11}, {"type": "TIME", "volume": 1}],
                "tariff_id": "tou-parking",
            },
            {
                "start_date_time": "2026-01-15T22:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 16.5}, {"type": "TIME", "volume": 1.5}],
                "tariff_id": "tou-parking",
            },
            {
                "start_date_time": "2026-01-15T23:30:00Z",
                "dimensions": [
                    {"type": "ENERGY", "volume": 0},
                    {"type": "PARKING_TIME", "volume": 1},
                ],
                "tariff_id": "tou-parking",
            },
        ],
    }
    cdr = write(tmp_path, "cdr.json", out)
    code, priced, _ = run(
        capsys, "price", "--tariff", tariff, "--cdr", cdr, "--time-zone", "Europe/Amsterdam"
    )
    # 11 x 0.35 + 16.5 x 0.20 + 1 h x 1.20 = 3.85 + 3.30 + 1.20 = 8.35; x 1.21 = 10.1035
    assert priced["total_cost"] == {"excl_vat": "8.35", "incl_vat": "10.10"}


def test_split_bad_meter_values_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mv = json.loads((FIXTURES / "meter_values_tou.json").read_text())
    mv["samples"][1]["state"] = "Parked"
    code, _, err = run(
        capsys, "split", "--tariff", TARIFF_14, "--meter-values", write(tmp_path, "mv.json", mv)
    )
    assert code == 2
    assert (
        "$.samples[1].state: must be one of Charging, EVConnected, SuspendedEV, "
        "SuspendedEVSE; got 'Parked'" in err
    )


def test_module_entry_point_runs_as_a_subprocess(tmp_path: Path) -> None:
    cdr = write(tmp_path, "cdr.json", _cdr_from_spec_case("step_size_switch_2"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "billing.pricing",
            "price",
            "--tariff",
            TARIFF_14,
            "--cdr",
            cdr,
            "--time-zone",
            "Europe/Berlin",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total_cost"] == {"excl_vat": "1.30", "incl_vat": "1.30"}
