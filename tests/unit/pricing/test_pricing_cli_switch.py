"""``python -m billing.pricing`` with a tariff switch and strict CDR objects, run as a
subprocess: exit codes 0 / 1 / 2, messages naming the file and the JSON path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pricing"
ROOT = Path(__file__).resolve().parents[3]
A = str(FIXTURES / "tariff_switch_a.json")
B = str(FIXTURES / "tariff_switch_b.json")
METER = str(FIXTURES / "meter_values_switch.json")


def cli(*argv: str) -> tuple[int, Any, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "billing.pricing", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, out, proc.stderr


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_split_at_the_switch_then_price_with_both_tariffs(tmp_path: Path) -> None:
    code, doc, err = cli("split", "--tariff", A, "--tariff", B, "--meter-values", METER)
    assert (code, err) == (0, "")
    assert [
        (p["start_date_time"], p["tariff_id"], p["dimensions"]) for p in doc["charging_periods"]
    ] == [
        (
            "2026-05-01T11:00:00Z",
            "A",
            [{"type": "ENERGY", "volume": 10.2}, {"type": "TIME", "volume": 1}],
        ),
        (
            "2026-05-01T12:00:00Z",
            "B",
            [{"type": "ENERGY", "volume": 5.15}, {"type": "TIME", "volume": 1}],
        ),
        (
            "2026-05-01T13:00:00Z",
            "B",
            [{"type": "ENERGY", "volume": 0}, {"type": "PARKING_TIME", "volume": 0.45}],
        ),
    ]
    cdr = write(tmp_path, "cdr.json", doc)
    code, out, err = cli(
        "price", "--tariff", A, "--tariff", B, "--cdr", cdr, "--time-zone", "Europe/Amsterdam"
    )
    assert (code, err) == (0, "")
    # the worked example of docs/pricing.md: FLAT 1.00 (A, once), energy 3.06 + 2.06 + 0.06
    # step surplus at B's price, time 1.20 + 2.40, parking 27 -> 30 min x 6.00/h
    assert out["total_cost"] == {"excl_vat": "12.78", "incl_vat": "15.46"}
    assert out["total_fixed_cost"] == {"excl_vat": "1.00", "incl_vat": "1.21"}
    assert out["total_energy_cost"] == {"excl_vat": "5.18", "incl_vat": "6.27"}
    assert out["total_time_cost"] == {"excl_vat": "3.60", "incl_vat": "4.36"}
    assert out["total_parking_cost"] == {"excl_vat": "3.00", "incl_vat": "3.63"}
    assert out["tariff_ids"] == ["A", "B"]
    assert [p["tariff_id"] for p in out["charging_periods"]] == ["A", "B", "B"]
    assert [w["code"] for w in out["warnings"]] == ["TARIFF_SWITCH"]


def test_switch_on_the_command_line_equals_the_file(tmp_path: Path) -> None:
    meter = json.loads(Path(METER).read_text())
    del meter["tariff_switches"]
    plain = write(tmp_path, "mv.json", meter)
    _, from_file, _ = cli("split", "--tariff", A, "--tariff", B, "--meter-values", METER)
    code, from_flag, err = cli(
        "split",
        "--tariff",
        A,
        "--tariff",
        B,
        "--meter-values",
        plain,
        "--switch",
        "2026-05-01T12:00:00Z=B",
    )
    assert (code, err) == (0, "")
    assert from_flag == from_file


def test_switch_errors_exit_2(tmp_path: Path) -> None:
    both = cli("split", "--tariff", A, "--tariff", B, "--meter-values", METER, "--switch", "x=B")
    assert both[0] == 2
    assert both[2] == "error: --switch 'x=B': expected an OCPI DateTime in UTC (e.g. " + (
        "2015-06-29T20:39:09Z), got 'x'\n"
    )
    code, out, err = cli(
        "split",
        "--tariff",
        A,
        "--tariff",
        B,
        "--meter-values",
        METER,
        "--switch",
        "2026-05-01T12:30:00Z=B",
    )
    assert (code, out) == (2, None)
    assert err == (
        f"error: {METER}: $.tariff_switches: give the switches either in the file or with "
        "--switch, not both\n"
    )
    meter = json.loads(Path(METER).read_text())
    meter["tariff_switches"][0]["tariff_id"] = "C"
    bad = write(tmp_path, "mv.json", meter)
    code, out, err = cli("split", "--tariff", A, "--tariff", B, "--meter-values", bad)
    assert code == 2
    assert err == (
        f"error: {bad}: $.tariff_switches[0].tariff_id: unknown tariff 'C': the known tariffs "
        "are 'A', 'B'\n"
    )
    del meter["tariff_switches"]
    plain = write(tmp_path, "mv2.json", meter)
    code, out, err = cli(
        "split", "--tariff", A, "--meter-values", plain, "--switch", "2026-05-01T12:00:00Z=B"
    )
    assert code == 2
    assert err == (
        "error: --switch '2026-05-01T12:00:00Z=B': unknown tariff 'B': the known tariffs are 'A'\n"
    )


def test_price_without_the_second_tariff_exits_2_naming_the_periods(tmp_path: Path) -> None:
    _, doc, _ = cli("split", "--tariff", A, "--tariff", B, "--meter-values", METER)
    cdr = write(tmp_path, "cdr.json", doc)
    code, out, err = cli("price", "--tariff", A, "--cdr", cdr, "--time-zone", "Europe/Amsterdam")
    assert (code, out) == (2, None)
    assert err == (
        f"error: {cdr}: $.charging_periods[1].tariff_id: unknown tariff 'B': the known tariffs "
        f"are 'A'\n{cdr}: $.charging_periods[2].tariff_id: unknown tariff 'B': the known "
        "tariffs are 'A'\n"
    )


def test_two_tariff_files_with_one_id_exit_2(tmp_path: Path) -> None:
    other = json.loads(Path(B).read_text())
    other["id"] = "a"  # CiString: the same id as A's
    dup = write(tmp_path, "dup.json", other)
    cdr = str(FIXTURES / "cdr_example.json")
    code, _, err = cli(
        "price", "--tariff", A, "--tariff", dup, "--cdr", cdr, "--time-zone", "Europe/Amsterdam"
    )
    assert code == 2
    assert err == f"error: {dup}: $.id: 'a' is also the id of the tariff in {A}\n"


def test_check_a_switched_cdr_with_its_totals(tmp_path: Path) -> None:
    _, doc, _ = cli("split", "--tariff", A, "--tariff", B, "--meter-values", METER)
    doc.update(
        {
            "currency": "EUR",
            "total_cost": {"excl_vat": 12.78, "incl_vat": 15.46},
            "total_energy": 15.35,
            "total_time": 2.45,
            "total_parking_time": 0.45,
        }
    )
    cdr = write(tmp_path, "cdr.json", doc)
    argv = ["price", "--tariff", A, "--tariff", B, "--cdr", cdr, "--time-zone", "Europe/Amsterdam"]
    code, out, err = cli(*argv, "--check")
    assert (code, err, out["check"]["ok"]) == (0, "", True)
    doc["total_cost"] = {"excl_vat": 16.00, "incl_vat": 19.36}  # as if B priced it all
    cdr = write(tmp_path, "cdr.json", doc)
    code, out, err = cli(*argv, "--check")
    assert code == 1
    assert err == (
        "differs: total_cost.excl_vat: ours 12.78, CDR 16.0\n"
        "differs: total_cost.incl_vat: ours 15.46, CDR 19.36\n"
    )


def test_nested_cdr_objects_are_checked_with_their_paths(tmp_path: Path) -> None:
    cdr = json.loads((FIXTURES / "cdr_example.json").read_text())
    cdr["cdr_token"]["typ"] = "RFID"
    cdr["cdr_location"]["coordinates"]["latitude"] = "3.7"
    cdr["total_time_cost"] = 4.0
    cdr["charging_periods"][0]["dimensions"][0]["volume"] = -1
    path = write(tmp_path, "cdr.json", cdr)
    tariff = str(FIXTURES / "tariff_cdr_example_12.json")
    code, out, err = cli(
        "price", "--tariff", tariff, "--cdr", path, "--time-zone", "Europe/Brussels"
    )
    assert (code, out) == (2, None)
    assert err.splitlines() == [
        f"error: {path}: $.charging_periods[0].dimensions[0].volume: a duration cannot be "
        "negative: -1",
        f"{path}: $.cdr_token.typ: unknown key (did you mean 'type'?)",
        f"{path}: $.cdr_location.coordinates.latitude: expected a latitude like 50.770774, "
        "got '3.7'",
        f"{path}: $.total_time_cost: expected an object, got number 4.0",
    ]
