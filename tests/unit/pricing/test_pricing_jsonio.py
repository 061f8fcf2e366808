"""``loads_exact`` (msgspec) gives exactly what ``json.loads(..., parse_float=Decimal)`` gives."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.pricing.jsonio import loads_exact, loads_exact_stdlib


def _shape(value: Any) -> Any:
    """Structure with types and exact Decimal text (``1.50`` != ``1.5`` here)."""
    if isinstance(value, dict):
        return ("dict", [(k, _shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_shape(v) for v in value])
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


# Number texts as they appear in CDRs and worse: trailing zeros, exponents, >= 16 digits.
number_texts = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(
        lambda d: str(d) if "E" in str(d) or "." in str(d) else str(d) + ".0"
    ),
    st.builds(
        lambda i, f, e: f"{i}.{f}{e}",
        st.integers(-999, 999),
        st.text("0123456789", min_size=1, max_size=25),
        st.sampled_from(["", "e5", "E-3", "e+02", "E400", "e-400"]),
    ),
)


def _json_text(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.integers(0, 5 if depth < 3 else 2))
    if kind == 0:
        return draw(number_texts)
    if kind == 1:
        return json.dumps(draw(st.text(max_size=8)))
    if kind == 2:
        return draw(st.sampled_from(["true", "false", "null"]))
    if kind in (3, 4):
        items = [_json_text(draw, depth + 1) for _ in range(draw(st.integers(0, 4)))]
        return "[" + ",".join(items) + "]"
    keys = draw(st.lists(st.sampled_from(["a", "b", "volume", "type", "é"]), max_size=4))
    return "{" + ",".join(f"{json.dumps(k)}: {_json_text(draw, depth + 1)}" for k in keys) + "}"


@st.composite
def documents(draw: st.DrawFn) -> str:
    return _json_text(draw)


@settings(max_examples=300, deadline=None)
@given(text=documents())
def test_loads_exact_equals_the_stdlib_decimal_parse(text: str) -> None:
    want = json.loads(text, parse_float=Decimal)
    assert _shape(loads_exact(text)) == _shape(want)
    assert _shape(loads_exact(text.encode())) == _shape(want)
    assert _shape(loads_exact_stdlib(text)) == _shape(want)


def test_numbers_keep_their_text() -> None:
    got = loads_exact(b'{"v":[1.50,2,1e3,0.12345678901234567890123,-0.0,15.342,1.0E+2,7]}')
    assert [str(x) for x in got["v"]] == [
        "1.50",
        "2",
        "1E+3",
        "0.12345678901234567890123",
        "-0.0",
        "15.342",
        "1.0E+2",
        "7",
    ]
    assert [type(x) for x in got["v"]] == [Decimal, int, Decimal, Decimal, Decimal] + [
        Decimal,
        Decimal,
        int,
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"volume": NaN}',  # the stdlib accepts NaN / Infinity; msgspec does not
        '["\\ud800"]',  # a lone surrogate
        '{"a": 1, "a": 2}',  # duplicate key: the last one wins in both
        '"x"'.encode("utf-16"),  # UTF-16 with a BOM: only the stdlib detects it
    ],
)
def test_what_msgspec_rejects_is_decoded_by_the_stdlib(text: str | bytes) -> None:
    want = json.loads(text, parse_float=Decimal)
    got = loads_exact(text)
    assert repr(got) == repr(want)


@pytest.mark.parametrize("text", ['{"a": 1} x', "[1,]", "", '{"a" 1}', b"\xff"])
def test_invalid_json_raises_the_stdlib_error(text: str | bytes) -> None:
    with pytest.raises(ValueError) as want:
        json.loads(text, parse_float=Decimal)
    with pytest.raises(type(want.value)) as got:
        loads_exact(text)
    assert str(got.value) == str(want.value)
