"""Exact and fast JSON decoding for bulk re-pricing (``loads_exact``).

``json.loads(text, parse_float=Decimal)`` is the reference: every JSON number with a fraction
or an exponent becomes the ``Decimal`` of its own text (``1.50`` stays ``Decimal('1.50')``),
integers stay ``int``. ``loads_exact`` gives exactly that result, about twice as fast, with
``msgspec`` (whose ``float_hook`` receives the number's raw text, so no float is ever
involved; see docs/adr/0007-msgspec-for-bulk-json-decoding.md). Whatever msgspec rejects
(``NaN``/``Infinity``, lone surrogates, UTF-16 input, trailing garbage, ...) is decoded again by
the stdlib, which then accepts it or raises its own ``json.JSONDecodeError``: the accepted
language and the errors are the stdlib's.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec

__all__ = ["loads_exact"]

_fast = msgspec.json.Decoder(float_hook=Decimal).decode
_slow = json.JSONDecoder(parse_float=Decimal).decode
_DecodeError = msgspec.DecodeError


def loads_exact(data: bytes | str) -> Any:
    """Decode one JSON document; numbers with a fraction or exponent as exact ``Decimal``."""
    try:
        return _fast(data)
    except _DecodeError:
        return json.loads(data, parse_float=Decimal)


def loads_exact_stdlib(data: bytes | str) -> Any:
    """The reference decoder (stdlib only), for comparisons and tests."""
    if isinstance(data, bytes | bytearray):
        return json.loads(data, parse_float=Decimal)
    return _slow(data)
