"""Command line: ``python -m billing.pricing price|split ...``.

Exit codes: 0 success; 1 ``--check`` found differences; 2 invalid input (message names the
file and JSON path).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from billing.pricing.collect import Collector
from billing.pricing.engine import price_session, rounding_mode
from billing.pricing.model import PricingInputError, TariffSwitch
from billing.pricing.parse import parse_cdr_session, parse_meter_values
from billing.pricing.reconcile import compare_totals
from billing.pricing.serialize import dumps, iso, periods_to_ocpi, result_to_ocpi
from billing.pricing.splitter import split_session
from billing.pricing.tariff import Tariff
from billing.pricing.tariff_parser import parse_tariff


class _InputError(Exception):
    pass


def _load(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise _InputError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def _index(path: str) -> int:
    """The first list index in a JSON path: "$.tariff_switches[2].tariff_id" -> 2."""
    return int(path.split("[", 1)[1].split("]", 1)[0])


def _issues(path: str, exc: PricingInputError) -> str:
    return "\n".join(f"{path}: {i.path}: {i.message}" for i in exc.issues)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m billing.pricing", description="Price OCPI charging sessions exactly."
    )
    sub = ap.add_subparsers(dest="command", required=True)
    price = sub.add_parser("price", help="price a CDR's charging periods with a tariff")
    price.add_argument(
        "--tariff",
        required=True,
        action="append",
        help="OCPI Tariff JSON file; repeat for a tariff switch: the periods' tariff_id "
        "chooses, periods without one use the first",
    )
    price.add_argument("--cdr", required=True, help="OCPI CDR JSON file")
    price.add_argument("--time-zone", help="IANA zone of the location (else the CDR's own)")
    price.add_argument(
        "--check",
        action="store_true",
        help="compare with the CDR's totals; exit 1 when they differ",
    )
    price.add_argument("--tolerance", default="0.01", help="per sub-total (default 0.01)")
    price.add_argument(
        "--rounding",
        default="HALF_UP",
        help="HALF_UP (default), HALF_EVEN, HALF_DOWN, UP, DOWN, CEILING, FLOOR",
    )
    price.add_argument("--ocpi-version", default="2.2.1", choices=["2.2.1", "2.1.1"])
    split = sub.add_parser("split", help="split a meter timeline into charging periods")
    split.add_argument(
        "--tariff",
        required=True,
        action="append",
        help="OCPI Tariff JSON file; repeat for a tariff switch (the first applies at the "
        "start unless the meter values name another)",
    )
    split.add_argument("--meter-values", required=True, help="meter values JSON file")
    split.add_argument(
        "--switch",
        action="append",
        default=[],
        metavar="INSTANT=TARIFF_ID",
        help="from INSTANT (OCPI DateTime, UTC) on, the tariff TARIFF_ID applies; repeatable "
        "(instead of the meter values' tariff_switches)",
    )
    split.add_argument("--time-zone", help="IANA zone of the location (else the file's own)")
    split.add_argument(
        "--ocpi-version",
        default="2.2.1",
        choices=["2.2.1", "2.1.1"],
        help="version of the tariff file",
    )
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "price":
            return _price(args)
        return _split(args)
    except _InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _tariffs(args: argparse.Namespace) -> tuple[Tariff, list[Tariff]]:
    """The --tariff files: the first (the default) and all of them; ids must differ."""
    tariffs: list[Tariff] = []
    seen: dict[str, str] = {}
    for path in args.tariff:
        data = _load(path)
        try:
            tariff = parse_tariff(data, ocpi_version=args.ocpi_version)
        except PricingInputError as exc:
            raise _InputError(_issues(path, exc)) from None
        other = seen.setdefault(tariff.id.casefold(), path)
        if other != path:
            raise _InputError(
                f"{path}: $.id: {tariff.id!r} is also the id of the tariff in {other}"
            )
        tariffs.append(tariff)
    return tariffs[0], tariffs


def _price(args: argparse.Namespace) -> int:
    try:
        mode = rounding_mode(args.rounding)
        tolerance = Decimal(args.tolerance)
    except PricingInputError as exc:
        raise _InputError(_issues("--rounding", exc)) from None
    except InvalidOperation:
        raise _InputError(f"--tolerance: not a number: {args.tolerance!r}") from None
    tariff, tariffs = _tariffs(args)
    cdr = _load(args.cdr)
    try:
        session = parse_cdr_session(cdr, time_zone=args.time_zone, ocpi_version=args.ocpi_version)
        result = price_session(
            tariff=tariff,
            session=session,
            rounding=mode,
            tariffs=tariffs if len(tariffs) > 1 else None,
        )
    except PricingInputError as exc:
        raise _InputError(_issues(args.cdr, exc)) from None
    out = result_to_ocpi(result)
    code = 0
    if args.check:
        try:
            diffs = compare_totals(result, cdr, tolerance=tolerance, ocpi_version=args.ocpi_version)
        except PricingInputError as exc:
            raise _InputError(_issues(args.cdr, exc)) from None
        out["check"] = {
            "ok": not diffs,
            "tolerance": str(tolerance),
            "differences": [
                {"field": d.field, "side": d.side, "ours": str(d.ours), "theirs": str(d.theirs)}
                for d in diffs
            ],
        }
        if diffs:
            code = 1
            for d in diffs:
                print(
                    f"differs: {d.field}.{d.side}: ours {d.ours}, CDR {d.theirs}", file=sys.stderr
                )
    print(json.dumps(out, indent=2))
    return code


def _switches(values: Sequence[str]) -> list[TariffSwitch]:
    """--switch INSTANT=TARIFF_ID, strictly: an OCPI DateTime in UTC and a CiString(36)."""
    c = Collector("2.2.1")
    out: list[TariffSwitch] = []
    for value in values:
        when_text, sep, tid = value.partition("=")
        c.issues.clear()
        when = c.datetime(when_text, "INSTANT")
        if not sep or not tid or len(tid) > 36 or when is None:
            why = (
                "; ".join(i.message for i in c.issues)
                if c.issues
                else "expected INSTANT=TARIFF_ID (a tariff id of 1 to 36 characters)"
            )
            raise _InputError(f"--switch {value!r}: {why}")
        out.append(TariffSwitch(when, tid))
    return out


def _split(args: argparse.Namespace) -> int:
    tariff, tariffs = _tariffs(args)
    switches = _switches(args.switch)
    data = _load(args.meter_values)
    try:
        mv = parse_meter_values(data, time_zone=args.time_zone)
    except PricingInputError as exc:
        raise _InputError(_issues(args.meter_values, exc)) from None
    if switches and mv.tariff_switches:
        raise _InputError(
            f"{args.meter_values}: $.tariff_switches: give the switches either in the file or "
            "with --switch, not both"
        )
    source = "--switch" if switches else args.meter_values
    try:
        periods = split_session(
            tariff=tariff,
            samples=mv.samples,
            time_zone=mv.time_zone,
            start=mv.start,
            end=mv.end,
            reservation_start=mv.reservation_start,
            tariff_id=mv.tariff_id,
            tariff_switches=switches or mv.tariff_switches,
            tariffs=tariffs if len(tariffs) > 1 else None,
        )
    except PricingInputError as exc:
        switch_issues = [i for i in exc.issues if i.path.startswith("$.tariff_switches")]
        if switches and switch_issues:
            raise _InputError(
                "\n".join(
                    f"--switch {args.switch[_index(i.path)]!r}: {i.message}" for i in switch_issues
                )
            ) from None
        raise _InputError(_issues(source if switch_issues else args.meter_values, exc)) from None
    start = mv.reservation_start if mv.reservation_start is not None else mv.start
    doc = {
        "start_date_time": iso(start),
        "end_date_time": iso(mv.end),
        "charging_periods": periods_to_ocpi(periods),
    }
    print(dumps(doc))
    return 0
