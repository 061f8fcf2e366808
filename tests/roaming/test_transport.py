"""The OCPI transport rules (apps.roaming.transport): pure functions."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal

from apps.roaming import transport


def test_authorization_header_base64_and_raw() -> None:
    token = "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2"
    encoded = base64.b64encode(token.encode()).decode()
    assert transport.authorization_header(token, base64_encoded=True) == f"Token {encoded}"
    assert transport.authorization_header(token, base64_encoded=False) == f"Token {token}"


def test_inbound_token_accepts_both_forms_and_the_erratum_newline() -> None:
    token = "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2"
    encoded = base64.b64encode(token.encode()).decode()
    newline = base64.b64encode((token + "\n").encode()).decode()
    assert transport.token_candidates(f"Token {encoded}")[0] == token
    assert transport.token_candidates(f"token {newline}")[0] == token
    assert transport.token_candidates(f"Token {token}") == (token,)
    assert transport.token_candidates("Bearer x") == ()
    assert transport.token_candidates(None) == ()


def test_envelope_and_exact_decimals() -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    env = transport.envelope({"kwh": Decimal("12.3456")}, now=now)
    assert transport.dumps(env) == (
        '{"data": {"kwh": 12.3456}, "status_code": 1000, "timestamp": "2026-12-07T10:00:00Z"}'
    )
    assert transport.loads('{"x": 0.1}')["x"] == Decimal("0.1")


def test_link_header_written_and_read_leniently() -> None:
    link = transport.next_link(
        "https://x.example/ocpi/2.2.1/cpo/locations",
        {"date_from": "2026-01-01T00:00:00Z", "offset": 0},
        offset=100,
        limit=50,
    )
    assert link == (
        "<https://x.example/ocpi/2.2.1/cpo/locations?date_from=2026-01-01T00%3A00%3A00Z"
        '&offset=100&limit=50>; rel="next"'
    )
    assert transport.parse_next_link(link).endswith("offset=100&limit=50")
    assert transport.parse_next_link("<http://a/b?offset=1>; rel=next") == "http://a/b?offset=1"
    assert transport.parse_next_link('<http://a/p>; rel="prev"') is None
    assert transport.parse_next_link("garbage") is None
