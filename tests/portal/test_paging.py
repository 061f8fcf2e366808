"""Keyset paging on the eight list pages, in both directions: three pages forward and back
with exact rows, the filters kept in every link, no "Previous" on the first page (also when
reached going back), the same query count going back as forward, no OFFSET."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.common import api as common_api
from apps.tokens.models import Token
from portal.views import common
from tests.portal.world import add_rows, signed_in_client

# list → (the cursor parameter going forward, going back)
LISTS = {
    "stations": ("after", "before"),
    "locations": ("after", "before"),
    "tokens": ("after", "before"),
    "customers": ("after", "before"),
    "sessions": ("before", "after"),  # newest first: forward is older
    "cdrs": ("before", "after"),
    "flags": ("before", "after"),
    "audit": ("before", "after"),
}


def _get(client: Client, url: str, qs: str) -> tuple[list[int], Any, str, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"{url}?{qs}")
    assert response.status_code == 200, qs
    pager = response.context["pager"]
    sql = " ".join(q["sql"] for q in ctx.captured_queries).upper()
    assert " OFFSET " not in sql
    return [r.id for r in pager.rows], pager, response.content.decode(), len(ctx.captured_queries)


@pytest.mark.parametrize("name", list(LISTS))
def test_three_pages_forward_and_back(world, monkeypatch, name: str) -> None:
    a, _ = world
    add_rows(a, 5)
    forward, back = LISTS[name]
    client = signed_in_client(a.users["platform_admin"])
    url = reverse(f"portal:{name}", args=["alpha"])
    monkeypatch.setattr(common, "PAGE_SIZE", 1000)
    everything, *_ = _get(client, url, "keep=1")
    assert len(everything) >= 5 and len(set(everything)) == len(everything)
    monkeypatch.setattr(common, "PAGE_SIZE", 2)
    pages = [everything[0:2], everything[2:4], everything[4:6]]

    rows, p1, html, first_queries = _get(client, url, "keep=1")
    assert rows == pages[0]
    assert (p1.prev_qs, p1.paged) == ("", False)
    assert 'data-testid="prev"' not in html and 'data-testid="first"' not in html
    assert f"{forward}=" in p1.next_qs and "keep=1" in p1.next_qs

    rows, p2, html, _ = _get(client, url, p1.next_qs)
    assert rows == pages[1] and p2.paged
    assert 'data-testid="prev"' in html and 'data-testid="first"' in html
    assert f"{back}=" in p2.prev_qs and f"{forward}=" not in p2.prev_qs and "keep=1" in p2.prev_qs
    assert p2.first_qs == "keep=1"

    rows, p3, _, _ = _get(client, url, p2.next_qs)
    assert rows == pages[2]
    assert (p3.next_qs == "") is (len(everything) <= 6)

    # Back: page 2, then exactly page 1, which offers no "Previous" (but "Next" again).
    rows, back2, _, _ = _get(client, url, p3.prev_qs)
    assert rows == pages[1] and back2.prev_qs and back2.next_qs
    rows, back1, html, back_queries = _get(client, url, back2.prev_qs)
    assert rows == pages[0]
    assert back1.prev_qs == "" and 'data-testid="prev"' not in html
    assert back_queries == first_queries
    rows, *_ = _get(client, url, back1.next_qs)
    assert rows == pages[1]


def test_filters_hold_on_every_page_both_ways(world, monkeypatch) -> None:
    """Blocked tokens only: every page, forward and back, has only blocked ones, and the
    links keep the search and the state."""
    a, _ = world
    add_rows(a, 6)
    blocked = list(Token.objects.filter(tenant=a.operator).order_by("id")[1::2])
    Token.objects.filter(pk__in=[t.pk for t in blocked]).update(valid=False)
    monkeypatch.setattr(common, "PAGE_SIZE", 1)
    client = signed_in_client(a.users["platform_admin"])
    url = reverse("portal:tokens", args=["alpha"])
    seen, qs = [], "state=blocked&q="
    while True:
        rows, pager, _, _ = _get(client, url, qs)
        seen += rows
        if not pager.next_qs:
            break
        assert "state=blocked" in pager.next_qs and "q=" in pager.next_qs
        qs = pager.next_qs
    assert seen == [t.pk for t in blocked]
    back = []
    while pager.prev_qs:
        assert "state=blocked" in pager.prev_qs
        rows, pager, _, _ = _get(client, url, pager.prev_qs)
        back = rows + back
    assert back == seen[:-1]


def test_a_cursor_that_is_not_one_is_the_first_page(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["platform_admin"])
    for name, (forward, back) in LISTS.items():
        url = reverse(f"portal:{name}", args=["alpha"])
        first, *_ = _get(client, url, "")
        for qs in (f"{forward}=nonsense", f"{back}=nonsense"):
            if name in ("stations",):  # an identity is any text: a real keyset position
                continue
            rows, pager, _, _ = _get(client, url, qs)
            assert rows == first and pager.prev_qs == "", (name, qs)


@pytest.mark.parametrize(("name", "at"), [("sessions", "started_at"), ("cdrs", "end_date_time")])
def test_a_time_ordered_list_pages_with_the_one_cursor_codec(world, monkeypatch, name, at) -> None:
    a, _ = world
    add_rows(a, 5)
    client = signed_in_client(a.users["platform_admin"])
    monkeypatch.setattr(common, "PAGE_SIZE", 2)
    _, pager, _, _ = _get(client, reverse(f"portal:{name}", args=["alpha"]), "")
    last = pager.rows[-1]
    forward = QueryDict(pager.next_qs)["before"]
    assert forward == common_api.encode_time_cursor(getattr(last, at), last.id)
    assert common_api.decode_time_cursor(forward) == (getattr(last, at), last.id)
