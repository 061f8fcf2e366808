"""IBAN checks (ISO 13616): the format, the length the country registers and the mod-97
check digits. Written here rather than taken from a library (schwifty is maintained, but it
would add a dependency and its bank registry to the lock file for one check: ADR 0029)."""

from __future__ import annotations

import re

# IBAN lengths by country (SWIFT IBAN registry) for the SEPA area and a few neighbours.
LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GI": 23, "GL": 18, "GR": 27,
    "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "VA": 22,
}  # fmt: skip
_FORMAT = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def iban_normalize(value: str) -> str:
    """The electronic form: no spaces, upper case."""
    return "".join(value.split()).upper()


def iban_problem(value: str) -> str | None:
    """Why `value` (normalized) is not a valid IBAN, or None when it is."""
    if not _FORMAT.match(value):
        return "not an IBAN: two letters, two check digits, then 11 to 30 letters or digits"
    expected = LENGTHS.get(value[:2])
    if expected is not None and len(value) != expected:
        return f"an IBAN of {value[:2]} has {expected} characters, not {len(value)}"
    digits = "".join(str(int(ch, 36)) for ch in value[4:] + value[:4])
    if int(digits) % 97 != 1:
        return "the IBAN's check digits do not match (ISO 13616 mod 97)"
    return None
