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

from billing.pricing.engine import price_session, rounding_mode
from billing.pricing.model import PricingInputError
from billing.pricing.parse import parse_cdr_session, parse_meter_values, parse_tariff
from billing.pricing.reconcile import compare_totals
from billing.pricing.serialize import dumps, iso, periods_to_ocpi, result_to_ocpi
from billing.pricing.splitter import split_session


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


def _issues(path: str, exc: PricingInputError) -> str:
    return "\n".join(f"{path}: {i.path}: {i.message}" for i in exc.issues)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m billing.pricing", description="Price OCPI charging sessions exactly."
    )
    sub = ap.add_subparsers(dest="command", required=True)
    price = sub.add_parser("price", help="price a CDR's charging periods with a tariff")
    price.add_argument("--tariff", required=True, help="OCPI Tariff JSON file")
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
    split.add_argument("--tariff", required=True, help="OCPI Tariff JSON file")
    split.add_argument("--meter-values", required=True, help="meter values JSON file")
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


def _tariff(args: argparse.Namespace) -> Any:
    data = _load(args.tariff)
    try:
        return parse_tariff(data, ocpi_version=args.ocpi_version)
    except PricingInputError as exc:
        raise _InputError(_issues(args.tariff, exc)) from None


def _price(args: argparse.Namespace) -> int:
    try:
        mode = rounding_mode(args.rounding)
        tolerance = Decimal(args.tolerance)
    except PricingInputError as exc:
        raise _InputError(_issues("--rounding", exc)) from None
    except InvalidOperation:
        raise _InputError(f"--tolerance: not a number: {args.tolerance!r}") from None
    tariff = _tariff(args)
    cdr = _load(args.cdr)
    try:
        session = parse_cdr_session(cdr, time_zone=args.time_zone, ocpi_version=args.ocpi_version)
        result = price_session(tariff=tariff, session=session, rounding=mode)
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


def _split(args: argparse.Namespace) -> int:
    tariff = _tariff(args)
    data = _load(args.meter_values)
    try:
        mv = parse_meter_values(data, time_zone=args.time_zone)
        periods = split_session(
            tariff=tariff,
            samples=mv.samples,
            time_zone=mv.time_zone,
            start=mv.start,
            end=mv.end,
            reservation_start=mv.reservation_start,
            tariff_id=mv.tariff_id if mv.tariff_id is not None else tariff.id,
        )
    except PricingInputError as exc:
        raise _InputError(_issues(args.meter_values, exc)) from None
    start = mv.reservation_start if mv.reservation_start is not None else mv.start
    doc = {
        "start_date_time": iso(start),
        "end_date_time": iso(mv.end),
        "charging_periods": periods_to_ocpi(periods),
    }
    print(dumps(doc))
    return 0
