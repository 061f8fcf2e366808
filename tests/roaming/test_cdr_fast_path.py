"""The ASGI fast path of the CDR receive (roaming.ocpi.fast, ADR 0042), driven through the
ASGI application (config.asgi) as uvicorn calls it: a CDR stored or a repeat is answered
without Django's handler, with what the view answers (status, headers, body, the exchange
logged once, stored and billed once); everything else is the view's own answer, and nothing
is written twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler

from apps.charging.models import Cdr
from apps.roaming import transport
from apps.roaming.models import ForeignCdr, OcpiConnection, OcpiExchange
from config.asgi import application
from tests.asgi import asgi_call
from tests.roaming.emsp_world import World, auth, cdr_doc, location_doc, make_world, tariff_doc

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ocpi/2.2.1/emsp/cdrs"
ROUTING = [
    (b"ocpi-from-country-code", b"DE"),
    (b"ocpi-from-party-id", b"CPO"),
    (b"ocpi-to-country-code", b"NL"),
    (b"ocpi-to-party-id", b"EMS"),
]


def call(
    path: str, body: bytes | str, token: str | None, extra: Sequence[tuple[bytes, bytes]] = ()
) -> tuple[int, list[tuple[str, str]], bytes]:
    body = body.encode() if isinstance(body, str) else body
    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    if token:
        headers.append((b"authorization", auth(token).encode()))
    status, raw, content = asgi_call(
        application, method="POST", path=path, headers=headers, body=body
    )
    return status, [(k.decode(), v.decode()) for k, v in raw], content


def _world(version: str = "2.2.1") -> World:
    w = make_world(version=version)
    c = w.client()
    for path, doc in (
        ("/tariffs/DE/CPO/T1", tariff_doc()),
        ("/locations/DE/CPO/Loc1", location_doc()),
    ):
        body = transport.dumps(doc)
        resp = c.put("/ocpi/2.2.1/emsp" + path, data=body, content_type="application/json")
        assert resp.status_code in (200, 201)
    return w


def _ids(n: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-request-id", f"req-{n}".encode()), (b"x-correlation-id", f"cor-{n}".encode())]


def _same(headers: list[tuple[str, str]], pk: int, version: str) -> list[tuple[str, str]]:
    """The headers with our URL of the stored CDR made comparable."""
    mine = f"/ocpi/{version}/emsp/cdrs/{pk}"
    return [(k, "LOCATION" if k == "Location" and v.endswith(mine) else v) for k, v in headers]


@pytest.mark.parametrize("version", ["2.2.1", "2.1.1"])
def test_a_stored_cdr_and_its_repeat_never_reach_django_and_answer_as_the_view(
    settings: Any, monkeypatch: Any, version: str
) -> None:
    w = _world(version)
    path = f"/ocpi/{version}/emsp/cdrs"
    slow_doc, fast_doc = cdr_doc(id="CDR-SLOW"), cdr_doc(id="CDR-FAST")
    settings.OCPI_FAST_PATHS = False
    slow = [call(path, transport.dumps(slow_doc), w.token, ROUTING + _ids(f"s{i}")) for i in (1, 2)]

    settings.OCPI_FAST_PATHS = True

    async def refuse(*args: Any, **kwargs: Any) -> None:
        pytest.fail("reached Django")

    monkeypatch.setattr(ASGIHandler, "__call__", refuse)
    fast = [call(path, transport.dumps(fast_doc), w.token, ROUTING + _ids(f"s{i}")) for i in (1, 2)]
    slow_pk = ForeignCdr.objects.get(cdr_id="CDR-SLOW").pk
    fast_pk = ForeignCdr.objects.get(cdr_id="CDR-FAST").pk
    assert [r[0] for r in slow] == [r[0] for r in fast] == [201, 200]
    for (_, s_headers, s_body), (_, f_headers, f_body) in zip(slow, fast, strict=True):
        assert _same(f_headers, fast_pk, version) == _same(
            s_headers, slow_pk, version
        )  # names, values, order
        s_env, f_env = json.loads(s_body), json.loads(f_body)
        s_env.pop("timestamp"), f_env.pop("timestamp")
        assert f_env == s_env == {"status_code": 1000}
        assert len(f_body) == len(s_body)
    location = dict(fast[0][1])["Location"]
    assert location == f"http://127.0.0.1:8000/ocpi/{version}/emsp/cdrs/{fast_pk}"
    assert dict(fast[0][1])["OCPI-to-party-id"] == "CPO"  # the routing headers mirrored

    # Stored and re-priced once each, flagged and billed alike; the repeat stored nothing.
    slow_row, fast_row = (ForeignCdr.objects.get(cdr_id=i) for i in ("CDR-SLOW", "CDR-FAST"))
    assert fast_row.flags == slow_row.flags
    assert fast_row.repriced_excl_vat == slow_row.repriced_excl_vat
    if version == "2.2.1":  # (a 2.2.1-shaped body on 2.1.1: stored, flagged, not re-priced)
        assert fast_row.total_cost_excl_vat == Decimal("5.75") == fast_row.repriced_excl_vat
    billed = [Cdr.objects.filter(ocpi_id=i).count() for i in ("CDR-SLOW", "CDR-FAST")]
    assert billed[0] == billed[1] <= 1
    assert ForeignCdr.objects.count() == 2

    # The exchange log: one row per request, the same apart from ids, timing and body.
    assert OcpiExchange.objects.filter(direction="IN", module="cdrs").count() == 4
    slow_rows = sorted(
        OcpiExchange.objects.filter(module="cdrs")
        .order_by("id")
        .values_list("request_id", flat=True)
    )
    assert slow_rows == ["req-s1", "req-s1", "req-s2", "req-s2"]
    s_log, f_log = OcpiExchange.objects.filter(request_id="req-s1").order_by("id").values()
    for exchange in (s_log, f_log):
        for name in (
            "id",
            "created_at",
            "updated_at",
            "duration_ms",
            "request_body",
            "response_body",
        ):
            exchange.pop(name, None)
    assert f_log == s_log
    assert f_log["http_status"] == 201 and f_log["url"] == f"http://testserver{path}"
    assert "Authorization" not in f_log["request_headers"]


@pytest.mark.parametrize(
    "case",
    ["unknown token", "no token", "not JSON", "no id", "suspended", "host not allowed"],
)
def test_everything_but_success_is_the_views_answer_and_logged_once(
    settings: Any, case: str
) -> None:
    w = _world()
    body: str | bytes = transport.dumps(cdr_doc(id="CDR-X"))
    token: str | None = w.token
    extra = ROUTING + _ids("x")
    if case == "unknown token":
        token = "not-a-token"
    elif case == "no token":
        token = None
    elif case == "not JSON":
        body = b"{not json"
    elif case == "no id":
        doc = cdr_doc()
        del doc["id"]
        body = transport.dumps(doc)
    elif case == "suspended":
        OcpiConnection.objects.filter(pk=w.connection.pk).update(status="SUSPENDED")
    else:
        extra = [(b"host", b"evil.example"), *extra]
    answers = []
    for fast in (False, True):
        settings.OCPI_FAST_PATHS = fast
        status, headers, content = call(PATH, body, token, extra)
        env = json.loads(content) if content.startswith(b"{") else content
        if isinstance(env, dict):
            env.pop("timestamp")
        answers.append((status, [h for h in headers if h[0] != "Content-Length"], env))
    assert answers[1] == answers[0]
    assert answers[0][0] in (400, 401, 403)
    assert ForeignCdr.objects.count() == 0 and Cdr.objects.count() == 0
    logged = OcpiExchange.objects.filter(module="cdrs").count()
    assert logged == (0 if case in ("unknown token", "no token", "host not allowed") else 2)
