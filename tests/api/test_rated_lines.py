"""REST: rated lines per CDR and per period, the settlement report (JSON and CSV), scope
`rated_lines`, tenant isolation (lines written with the ORM: the rating service is tested
apart)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from tests.rating.views_world import T0, Market, cdr, flag, line, market, reversal

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
URL = "/api/v1"


def _client(tenant: object, *scopes: str) -> APIClient:
    _, key = integrations_api.api_key_create(
        tenant_id=tenant.pk,  # type: ignore[attr-defined]
        name="rating",
        scopes=list(scopes or ["rated_lines:read"]),
        actor=Actor.system("tests"),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _world() -> tuple[Market, object, object]:
    m = market()
    mkt = cdr(m, emsp=m.emsp_as_partner, emsp_tenant=m.emsp_tenant)
    first = line(
        mkt,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="2.50",
        seller_party=m.cpo,
        buyer_party=m.emsp_as_partner,
        buyer_tenant=m.emsp_tenant,
        rule_version=m.rule,
        tariff_version=m.tariff_version,
    )
    reversal(first, 2, at=T0 + DAY, reason="rule fixed")
    line(
        mkt,
        "WHOLESALE",
        3,
        tenant=m.cpo_tenant,
        excl="3.10",
        at=T0 + DAY,
        seller_party=m.cpo,
        buyer_party=m.emsp_as_partner,
        buyer_tenant=m.emsp_tenant,
        rule_version=m.rule,
    )
    line(mkt, "REIMBURSEMENT", 1, tenant=m.cpo_tenant, excl="1.77")
    line(mkt, "RETAIL", 1, tenant=m.emsp_tenant, excl="3.26", buyer_customer=m.customer)
    flag(
        mkt,
        "REIMBURSEMENT",
        "AMBIGUOUS_RULES",
        tenant=m.cpo_tenant,
        detail={"rule_ids": [5, 6]},
        status="RESOLVED",
        closed_at=T0 + DAY,
    )
    own = cdr(m, emsp=m.own_emsp, currency="CHF")
    line(
        own,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="9.99",
        kwh="20",
        buyer_party=m.own_emsp,
        own_charge=True,
    )
    return m, mkt, own


def test_rated_lines_of_a_cdr_for_the_cpo_and_the_marketplace_emsp() -> None:
    m, mkt, _ = _world()
    r = _client(m.cpo_tenant).get(f"{URL}/cdrs/{mkt.pk}/rated-lines")
    assert r.status_code == 200, r.content
    body = r.json()
    assert [e["engine"] for e in body["engines"]] == ["WHOLESALE", "REIMBURSEMENT"]
    wholesale = body["engines"][0]
    assert [(x["seq"], x["kind"], x["total_excl_vat"]) for x in wholesale["lines"]] == [
        (1, "LINE", 2.5),
        (2, "REVERSAL", -2.5),
        (3, "LINE", 3.1),
    ]
    assert wholesale["lines"][0]["rule"] == "Roaming default"
    assert wholesale["totals"] == [
        {"currency": "EUR", "total_excl_vat": 3.1, "vat": 0.65, "total_incl_vat": 3.75}
    ]
    assert body["engines"][1]["flags"][0]["rule_ids"] == [5, 6]
    raw = r.content.decode()
    assert '"total_excl_vat":3.1000' in raw  # exact decimals, not floats

    emsp = _client(m.emsp_tenant).get(f"{URL}/cdrs/{mkt.pk}/rated-lines").json()
    assert [e["engine"] for e in emsp["engines"]] == ["RETAIL", "WHOLESALE"]
    cost = emsp["engines"][1]["lines"]
    assert {x["rule"] for x in cost} == {None} and {x["viewer_side"] for x in cost} == {"BUYER"}
    assert emsp["engines"][0]["lines"][0]["total_excl_vat"] == 3.26
    other = _client(m.other_tenant).get(f"{URL}/cdrs/{mkt.pk}/rated-lines")
    assert other.status_code == 404 and "3.1" not in other.content.decode()


def test_rated_lines_per_period_paged_and_scoped() -> None:
    m, mkt, own = _world()
    client = _client(m.cpo_tenant)
    r = client.get(f"{URL}/rated-lines", {"engine": "WHOLESALE", "limit": 2})
    assert r.status_code == 200, r.content
    page1 = r.json()
    assert [x["seq"] for x in page1["data"]] == [1, 2] and page1["next_cursor"]
    assert 'rel="next"' in r["Link"]
    page2 = client.get(
        f"{URL}/rated-lines", {"engine": "WHOLESALE", "limit": 2, "cursor": page1["next_cursor"]}
    ).json()
    assert [(x["cdr_id"], x["seq"]) for x in page2["data"]] == [(mkt.pk, 3), (own.pk, 1)]
    assert page2["next_cursor"] is None
    day2 = client.get(
        f"{URL}/rated-lines",
        {"from": (T0 + DAY).isoformat(), "to": (T0 + 2 * DAY).isoformat()},
    ).json()
    assert [(x["kind"], x["total_excl_vat"]) for x in day2["data"]] == [
        ("REVERSAL", -2.5),
        ("LINE", 3.1),
    ]
    emsp = _client(m.emsp_tenant).get(f"{URL}/rated-lines").json()
    assert sorted(x["engine"] for x in emsp["data"]) == ["RETAIL", *["WHOLESALE"] * 3]
    assert _client(m.other_tenant).get(f"{URL}/rated-lines").json()["data"] == []
    bad = client.get(f"{URL}/rated-lines", {"from": "yesterday"})
    assert bad.status_code == 400 and "from" in bad.content.decode()


def test_settlement_report_json_and_csv() -> None:
    m, _, _ = _world()
    client = _client(m.cpo_tenant)
    q = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
    body = client.get(f"{URL}/settlement-report", q).json()
    assert body["side"] == "RECEIVABLE"
    assert [
        (r["party"], r["currency"], r["own_charge"], r["cdrs"], r["total_excl_vat"])
        for r in body["rows"]
    ] == [("BE*BBB", "EUR", False, 1, 3.1), ("NL*AAE", "CHF", True, 1, 9.99)]
    # The own charge is in no total: CHF has none.
    assert body["totals"] == [
        {"currency": "EUR", "total_excl_vat": 3.1, "vat": 0.65, "total_incl_vat": 3.75}
    ]
    csv_text = client.get(f"{URL}/settlement-report", {**q, "format": "csv"})
    assert csv_text.status_code == 200 and csv_text["Content-Type"].startswith("text/csv")
    p = "RECEIVABLE,2026-03-01T00:00:00+00:00,2026-04-01T00:00:00+00:00"
    expected = [
        "side,period_from,period_to,party,party_name,currency,own_charge,cdrs,energy_kwh,"
        "total_excl_vat,vat,total_incl_vat",
        f"{p},BE*BBB,B drive,EUR,no,1,10.000,3.10,0.65,3.75",
        f"{p},NL*AAE,A mobility,CHF,yes,1,20.000,9.99,2.10,12.09",
    ]
    assert csv_text.content.decode().splitlines() == expected
    by_accept = client.get(f"{URL}/settlement-report", q, HTTP_ACCEPT="text/csv")
    assert by_accept.content.decode().splitlines() == expected
    payable = (
        _client(m.emsp_tenant).get(f"{URL}/settlement-report", {**q, "side": "PAYABLE"}).json()
    )
    assert [(r["party"], r["total_excl_vat"]) for r in payable["rows"]] == [("NL*AAA", 3.1)]
    bad = client.get(f"{URL}/settlement-report", {"from": q["to"], "to": q["from"]})
    assert bad.status_code == 400 and "must be after from" in bad.content.decode()
    assert bad["Content-Type"].startswith("application/problem+json")
    bad_csv = client.get(f"{URL}/settlement-report", {"format": "csv"})
    assert bad_csv.status_code == 400 and bad_csv.json()["status"] == 400


def test_the_scope_rated_lines_is_required() -> None:
    m, mkt, _ = _world()
    client = _client(m.cpo_tenant, "cdrs:read")
    for path in (f"/cdrs/{mkt.pk}/rated-lines", "/rated-lines", "/settlement-report"):
        r = client.get(URL + path)
        assert r.status_code == 403, path
        assert "rated_lines:read" in r.content.decode()
    assert APIClient().get(f"{URL}/rated-lines").status_code == 401
