"""The CDR CSV export under Django's ASGI handler (what uvicorn runs): streamed chunk by
chunk, never read whole into memory first.

The proof counts, at each message the handler sends, how many CDRs the export has read from
the database so far: the first rows go out after one chunk was read, and the export never
runs more than one chunk ahead of the socket. No clock is involved."""

from __future__ import annotations

import csv
import io
import warnings
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.urls import reverse

from apps.charging import api as charging_api
from apps.charging.models import Cdr
from portal.views import charging as charging_views
from tests.asgi import asgi_get
from tests.portal.world import signed_in_client

N = 6_000  # CDRs exported (plus the world's own one)
CHUNK = 500


def _bulk_cdrs(t: Any) -> None:
    start = t.cdr.start_date_time - timedelta(days=400)
    Cdr.objects.bulk_create(
        [
            Cdr(
                tenant=t.operator,
                party=t.party,
                ocpi_id=f"BULK{i:06d}",
                start_date_time=start + timedelta(hours=i),
                end_date_time=start + timedelta(hours=i, minutes=30),
                currency="EUR",
                total_cost_excl_vat=Decimal(i) / 100,
                total_cost_incl_vat=Decimal(i) * Decimal("0.0121"),
                total_energy_kwh=Decimal("7.5"),
                total_time_hours=Decimal("0.5"),
                data={"id": f"BULK{i:06d}"},
            )
            for i in range(N)
        ],
        batch_size=1000,
    )


def _cookie(session: str) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={session}".encode())]


def test_cdr_export_is_streamed_under_asgi_one_chunk_at_a_time(world, monkeypatch) -> None:
    a, b = world
    _bulk_cdrs(a)
    monkeypatch.setattr(charging_views, "EXPORT_CHUNK", CHUNK)
    read = {"rows": 0, "reads": 0}
    real_iter = charging_api.cdr_rows_iter

    def counting_iter(**kwargs: Any) -> Any:
        assert kwargs["chunk"] == CHUNK
        for row in real_iter(**kwargs):
            read["rows"] += 1
            yield row

    monkeypatch.setattr(charging_views.charging, "cdr_rows_iter", counting_iter)
    # At each body message: (CDR lines sent so far including this one, CDRs read so far).
    progress: list[tuple[int, int]] = []
    lines_sent = 0

    def on_send(message: dict[str, Any]) -> None:
        nonlocal lines_sent
        if message["type"] == "http.response.body" and message.get("body"):
            lines_sent += message["body"].count(b"\n")
            progress.append((lines_sent - 1, read["rows"]))  # minus the header line

    cookie = signed_in_client(a.users["finance"]).cookies["sessionid"].value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sent = asgi_get(reverse("portal:cdr_export", args=["alpha"]), _cookie(cookie), on_send)

    start = sent[0]
    assert start["type"] == "http.response.start" and start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"Content-Type"] == b"text/csv; charset=utf-8"
    assert b"attachment; filename=" in headers[b"Content-Disposition"]
    # Streamed: the header line went out before any CDR was read; the first CDRs went out
    # when one chunk of the 6,001 had been read; the reader never ran more than one chunk
    # ahead of what was sent.
    assert progress[0] == (0, 0)
    assert progress[1] == (CHUNK, CHUNK)
    assert all(read_so_far - sent_so_far <= CHUNK for sent_so_far, read_so_far in progress)
    assert len(progress) == 1 + (N + 1 + CHUNK - 1) // CHUNK  # the header, then 13 chunks
    assert progress[-1] == (N + 1, N + 1)
    # Django did not fall back to reading a synchronous iterator whole.
    assert not [w for w in caught if "iterator" in str(w.message)], [str(w.message) for w in caught]
    # Everything arrived, exact and in order (newest end first), nothing of tenant beta.
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == N + 1
    assert rows[0]["id"] == a.cdr.ocpi_id
    assert [r["id"] for r in rows[1:4]] == ["BULK005999", "BULK005998", "BULK005997"]
    last = rows[-1]
    assert (last["id"], last["total_cost_excl_vat"], last["total_cost_incl_vat"]) == (
        "BULK000000",
        "0.0000",
        "0.0000",
    )
    r = next(r for r in rows if r["id"] == "BULK001234")
    assert (r["total_cost_excl_vat"], r["total_cost_incl_vat"]) == ("12.3400", "14.9314")
    assert b.cdr.ocpi_id not in {r["id"] for r in rows}


def test_cdr_export_under_asgi_still_needs_the_export_capability(world) -> None:
    a, _ = world
    cookie = signed_in_client(a.users["support"]).cookies["sessionid"].value
    sent = asgi_get(reverse("portal:cdr_export", args=["alpha"]), _cookie(cookie))
    assert sent[0]["status"] == 403
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert a.cdr.ocpi_id.encode() not in body


def test_cdr_export_under_wsgi_streams_a_synchronous_iterator(world) -> None:
    a, _ = world
    r = signed_in_client(a.users["finance"]).get(reverse("portal:cdr_export", args=["alpha"]))
    assert r.streaming and not r.is_async
    assert b"".join(r.streaming_content).decode().splitlines()[1].startswith(a.cdr.ocpi_id)
