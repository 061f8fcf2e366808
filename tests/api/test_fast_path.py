"""The ASGI fast paths of the token upsert and the CDR list (restapi.fast, ADR 0016), driven
through the ASGI application itself (config.asgi) as uvicorn calls it: a successful PUT or
CDR page is answered without Django's view and gives what the view gives (status, headers,
body); everything else is the view's own answer, and a request is counted once toward the
key's rate limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache

from apps.common import api as common_api
from config.asgi import application
from restapi.views.tokens import TokenPutView
from tests.api.conftest import World, build_world, key_with
from tests.asgi import asgi_call

pytestmark = pytest.mark.django_db(transaction=True)


def call(
    path: str,
    body: bytes,
    key: str | None,
    extra: list[tuple[bytes, bytes]] = (),
    method: str = "PUT",
    query: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra if any(k == b"host" for k, _ in extra) else [(b"host", b"testserver"), *extra]),
    ]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    status, raw, content = asgi_call(
        application, method=method, path=path, headers=headers, body=body, query=query
    )
    return status, {k.decode().lower(): v.decode() for k, v in raw}, content


@pytest.fixture
def world(transactional_db: None) -> World:
    cache.clear()
    return build_world("tenant-f", "FFF")


def _path(w: World, uid: str) -> str:
    return f"/api/v1/tokens/{w.emsp.country_code}/{w.emsp.party_id}/{uid}"


BODY = {"contract_id": "NL-FFF-C1", "issuer": "Fast", "visual_number": "7"}


def _without_version(headers: dict[str, str], body: bytes) -> tuple[set[str], dict[str, Any]]:
    data = json.loads(body)
    data.pop("last_updated")
    return set(headers) - {"etag"}, data


def test_a_successful_upsert_never_reaches_the_view_and_answers_as_the_view_does(
    world: World, settings: Any, monkeypatch: Any
) -> None:
    settings.API_FAST_PATHS = False
    slow = [call(_path(world, f"S{i}"), json.dumps(BODY).encode(), world.key) for i in (1, 1)]

    settings.API_FAST_PATHS = True
    monkeypatch.setattr(TokenPutView, "put", lambda *a, **k: pytest.fail("reached the view"))
    fast = [call(_path(world, f"F{i}"), json.dumps(BODY).encode(), world.key) for i in (1, 1)]

    assert [r[0] for r in slow] == [r[0] for r in fast] == [201, 200]
    for (_, s_headers, s_body), (_, f_headers, f_body) in zip(slow, fast, strict=True):
        s_names, s_data = _without_version(s_headers, s_body)
        f_names, f_data = _without_version(f_headers, f_body)
        assert f_names == s_names
        assert {k: f_headers[k] for k in f_names - {"content-length"}} == {
            k: s_headers[k] for k in s_names - {"content-length"}
        }
        assert f_headers["etag"].startswith('"') and f_headers["content-length"] == str(len(f_body))
        s_data.pop("platform_id"), f_data.pop("platform_id")
        assert {**s_data, "uid": "X"} == {**f_data, "uid": "X"}
    created = json.loads(fast[0][2])
    assert (created["uid"], created["contract_id"], created["type"]) == ("F1", "NL-FFF-C1", "RFID")


def test_everything_but_success_is_the_views_answer(world: World, settings: Any) -> None:
    bad = {**BODY, "type": "NOT_A_TYPE"}
    answers = {}
    for fast in (False, True):
        settings.API_FAST_PATHS = fast
        answers[fast] = [
            call(_path(world, "E1"), json.dumps(bad).encode(), world.key),  # invalid field
            call(_path(world, "E2"), b"[1, 2]", world.key),  # not an object
            call(_path(world, "E3"), b"{nope", world.key),  # not JSON
            call(_path(world, "E4"), json.dumps(BODY).encode(), None),  # no key
            call(_path(world, "E5"), json.dumps(BODY).encode(), "ek_nope_nope"),  # unknown key
            call(
                _path(world, "E6"),
                json.dumps(BODY).encode(),
                key_with(world.tenant.pk, "tokens:read"),  # no write scope
            ),
            call(
                _path(world, "E7"),
                json.dumps(BODY).encode(),
                world.key,
                [(b"if-match", b'"1-abc"')],  # If-Match: the view's precondition rules
            ),
        ]
    statuses = [a[0] for a in answers[True]]
    assert statuses == [a[0] for a in answers[False]]
    assert statuses[:6] == [422, 422, 400, 401, 401, 403]
    assert statuses[6] in (404, 412, 428)
    for (_, _, slow_body), (_, _, fast_body) in zip(answers[False], answers[True], strict=True):
        assert json.loads(fast_body) == json.loads(slow_body)
    problem = json.loads(answers[True][0][2])
    assert any("type" in json.dumps(e) for e in problem.get("errors", [problem]))


def test_a_request_is_counted_once_toward_the_rate_limit(world: World, settings: Any) -> None:
    settings.API_FAST_PATHS = True
    key = key_with(world.tenant.pk, rate=3)
    bad = json.dumps({**BODY, "type": "NOT_A_TYPE"}).encode()
    # An invalid body (counted here, answered by the view) and two good ones: three requests.
    assert call(_path(world, "R1"), bad, key)[0] == 422
    assert call(_path(world, "R2"), json.dumps(BODY).encode(), key)[0] == 201
    assert call(_path(world, "R3"), json.dumps(BODY).encode(), key)[0] == 201
    status, headers, body = call(_path(world, "R4"), json.dumps(BODY).encode(), key)
    assert status == 429 and int(headers["retry-after"]) > 0
    assert json.loads(body)["status"] == 429
    from apps.tokens.models import Token

    assert sorted(Token.objects.filter(uid__startswith="R").values_list("uid", flat=True)) == [
        "R2",
        "R3",
    ]


# The CDR list: what a billing system polls page by page.


def _cdr_pages(w: World, query: bytes, key: str | None = None) -> tuple[int, dict[str, str], bytes]:
    return call("/api/v1/cdrs", b"", key or w.key, method="GET", query=query)


def _more_cdrs(w: World, n: int) -> list[int]:
    """The world's CDR and `n` more of its session, in id order."""
    from apps.charging.models import ChargingSession
    from tests.factories import CdrFactory, ChargingSessionFactory

    first = ChargingSession.objects.get(pk=w.ids["session_id"])
    sessions = [
        ChargingSessionFactory(connector=first.connector, tenant=w.tenant, token=first.token)
        for _ in range(n)
    ]
    return [w.ids["cdr_id"]] + [
        CdrFactory(session=session, tenant=w.tenant, party=w.cpo).pk for session in sessions
    ]


def test_a_cdr_page_never_reaches_the_view_and_answers_as_the_view_does(
    world: World, settings: Any, monkeypatch: Any
) -> None:
    from restapi.views.charging import CdrListView

    ids = _more_cdrs(world, 4)
    queries = [
        b"limit=2",
        b"limit=2&cursor=" + _cursor(ids[1]),
        b"limit=2&date_from=2026-03-01T00:00:00Z&date_to=2026-03-03T00:00:00Z",
        f"limit=10&charge_station_id={world.ids['station_id']}&party_id={world.cpo.party_id}".encode(),
        b"",
    ]
    settings.API_FAST_PATHS = False
    slow = [_cdr_pages(world, q) for q in queries]

    settings.API_FAST_PATHS = True
    monkeypatch.setattr(CdrListView, "get", lambda *a, **k: pytest.fail("reached the view"))
    fast = [_cdr_pages(world, q) for q in queries]

    for slow_page, fast_page in zip(slow, fast, strict=True):
        (s_status, s_headers, s_body), (f_status, f_headers, f_body) = slow_page, fast_page
        assert s_status == f_status == 200
        assert f_headers == s_headers  # Link, Allow, security headers, length
        assert f_body == s_body  # byte for byte: no version stamp in a CDR page
    pages = [json.loads(b) for _, _, b in fast]
    assert [c["platform_id"] for c in pages[0]["data"]] == ids[:2]
    assert [c["platform_id"] for c in pages[1]["data"]] == ids[2:4]
    assert fast[0][1]["link"] == (
        f'<http://testserver/api/v1/cdrs?limit=2&cursor={pages[0]["next_cursor"]}>; rel="next"'
    )
    assert [c["platform_id"] for c in pages[4]["data"]] == ids
    assert pages[4]["next_cursor"] is None and "link" not in fast[4][1]
    assert pages[0]["data"][0]["total_cost"] == {"excl_vat": 2.5, "incl_vat": 3.03}


def _cursor(after_id: int) -> bytes:
    return common_api.encode_id_cursor(after_id).encode()


def test_a_cdr_page_shows_only_the_keys_tenant(world: World, settings: Any) -> None:
    other = build_world("tenant-g", "GGG")
    settings.API_FAST_PATHS = True
    _more_cdrs(other, 2)
    mine = json.loads(_cdr_pages(world, b"limit=50")[2])["data"]
    theirs = json.loads(_cdr_pages(other, b"limit=50")[2])["data"]
    assert [c["platform_id"] for c in mine] == [world.ids["cdr_id"]]
    assert len(theirs) == 3 and world.ids["cdr_id"] not in {c["platform_id"] for c in theirs}
    # The other tenant's cursor does not open this tenant's rows either.
    after_all = json.loads(_cdr_pages(world, b"limit=1&cursor=" + _cursor(0))[2])["data"]
    assert [c["platform_id"] for c in after_all] == [world.ids["cdr_id"]]


def test_every_cdr_page_error_is_the_views_answer(world: World, settings: Any) -> None:
    _more_cdrs(world, 1)
    cases = [
        (b"cursor=not-a-cursor", None, ()),
        (b"limit=0", None, ()),
        (b"limit=9999", None, ()),
        (b"date_from=yesterday", None, ()),
        (b"charge_station_id=-1", None, ()),
        (b"", "ek_nope_nope", ()),  # unknown key
        (b"", key_with(world.tenant.pk, "tokens:read"), ()),  # no cdrs:read
        # A host not in ALLOWED_HOSTS, seen when the Link header is built.
        (b"limit=1", None, [(b"host", b"evil.example")]),
    ]
    answers = {}
    for fast in (False, True):
        settings.API_FAST_PATHS = fast
        answers[fast] = [
            call("/api/v1/cdrs", b"", key or world.key, list(extra), "GET", query)
            for query, key, extra in cases
        ]
        answers[fast].append(call("/api/v1/cdrs", b"", None, method="GET"))  # no key
    statuses = [a[0] for a in answers[True]]
    assert statuses == [a[0] for a in answers[False]]
    assert statuses == [400, 400, 400, 400, 400, 401, 403, 400, 401]
    for (_, _, slow_body), (_, _, fast_body) in zip(answers[False], answers[True], strict=True):
        assert fast_body == slow_body
    assert "not a cursor this API returned" in answers[True][0][2].decode()


def test_a_cdr_page_is_counted_once_toward_the_rate_limit(world: World, settings: Any) -> None:
    settings.API_FAST_PATHS = True
    key = key_with(world.tenant.pk, "cdrs:read", rate=2)
    assert _cdr_pages(world, b"limit=0", key)[0] == 400  # counted here, answered by the view
    assert _cdr_pages(world, b"limit=5", key)[0] == 200
    status, headers, body = _cdr_pages(world, b"limit=5", key)
    assert status == 429 and int(headers["retry-after"]) > 0
    assert json.loads(body)["status"] == 429
