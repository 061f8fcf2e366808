"""The one keyset-cursor codec (apps.common.cursors) of the REST API and the portal: the API's
cursors keep the exact text they had since issue 7 (clients hold them between requests), a
portal cursor goes round, and a text that is not a cursor of the expected shape is None."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.common import api as common_api


def test_an_id_cursor_is_the_text_the_api_has_always_handed_out() -> None:
    # What restapi.pagination.encode_cursor returned before the codecs became one.
    assert common_api.encode_id_cursor(123) == "djE6MTIz"
    assert common_api.encode_id_cursor(1_000_000) == "djE6MTAwMDAwMA"
    assert common_api.decode_id_cursor("djE6MTIz") == 123
    assert common_api.decode_id_cursor("djE6MTAwMDAwMA") == 1_000_000


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_an_id_cursor_goes_round(pk: int) -> None:
    text = common_api.encode_id_cursor(pk)
    old = base64.urlsafe_b64encode(f"v1:{pk}".encode()).decode().rstrip("=")
    assert text == old
    assert common_api.decode_id_cursor(text) == pk


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=2**63 - 1),
)
def test_a_time_cursor_goes_round(at: datetime, pk: int) -> None:
    assert common_api.decode_time_cursor(common_api.encode_time_cursor(at, pk)) == (at, pk)


def test_a_time_cursor_keeps_the_offset_and_microseconds() -> None:
    at = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=2)))
    decoded = common_api.decode_time_cursor(common_api.encode_time_cursor(at, 7))
    assert decoded is not None
    assert decoded == (at, 7) and decoded[0].utcoffset() == timedelta(hours=2)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nonsense",
        "bm9wZQ",  # "nope"
        _b64("v2:12"),  # another version
        _b64("v1:"),
        _b64("v1:-1"),
        _b64("v1:1.5"),
        _b64("v1:12|13"),  # a time cursor's shape
        _b64("v1:\u0663"),  # a digit, but not an ASCII one
        "\xff\xfe",
    ],
)
def test_a_text_that_is_not_an_id_cursor_is_none(text: str) -> None:
    assert common_api.decode_id_cursor(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nonsense",
        "2026-01-01T00:00:00+00:00|5",  # the portal's plain text before the codecs became one
        _b64("v1:5"),  # an id cursor
        _b64("v1:2026-01-01T00:00:00+00:00|x"),
        _b64("v1:not a time|5"),
        _b64("v1:2026-01-01T00:00:00+00:00|5|6"),
    ],
)
def test_a_text_that_is_not_a_time_cursor_is_none(text: str) -> None:
    assert common_api.decode_time_cursor(text) is None
