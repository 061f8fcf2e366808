"""The portal's rating pages: a CDR's rated views, the billing flags tab and its re-rate
button, the settlement report and its CSV (rated lines written with the ORM: the rating
service is tested apart)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.rating import api as rating_api
from apps.rating.contracts import RatingOutcome
from apps.rating.models import RatedLine, RatingFlag
from tests.factories import MembershipFactory, UserFactory
from tests.portal.world import signed_in_client
from tests.rating.views_world import T0, Market, cdr, flag, line, market, reversal

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _user(tenant: Any, role: str) -> Any:
    user = UserFactory(username=f"{role}@{tenant.slug}.test", email=f"{role}@{tenant.slug}.test")
    MembershipFactory(user=user, tenant=tenant, role=role)
    return user


def _marketplace_cdr(m: Market) -> Any:
    c = cdr(m, emsp=m.emsp_as_partner, emsp_tenant=m.emsp_tenant)
    first = line(
        c,
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
        c,
        "WHOLESALE",
        3,
        tenant=m.cpo_tenant,
        excl="3.10",
        at=T0 + DAY,
        seller_party=m.cpo,
        buyer_party=m.emsp_as_partner,
        buyer_tenant=m.emsp_tenant,
        rule_version=m.rule,
        tariff_version=m.tariff_version,
    )
    line(
        c,
        "REIMBURSEMENT",
        1,
        tenant=m.cpo_tenant,
        excl="1.77",
        vat_rate="0",
        vat_source="HCC_EXEMPT",
        vat_exemption_reason="home charger, VAT excluded",
        hcc="HCC_E",
    )
    line(
        c,
        "RETAIL",
        1,
        tenant=m.emsp_tenant,
        excl="3.26",
        seller_party=m.emsp_party,
        buyer_customer=m.customer,
        rule_version=m.retail_rule,
    )
    return c


def test_the_cdr_page_shows_the_cpos_views_with_history_and_totals() -> None:
    m = market()
    c = _marketplace_cdr(m)
    client = signed_in_client(_user(m.cpo_tenant, "cpo_admin"))
    body = client.get(reverse("portal:cdr", args=[m.cpo_tenant.slug, c.pk])).content.decode()
    assert "eMSP pays CPO" in body and "Owner receives" in body
    assert "Driver pays" not in body and "3.26" not in body  # the eMSP's retail price
    assert "Roaming default v2" in body and "WHOLESALE-1 v1" in body
    assert "REVERSAL" in body and "of #1" in body and "rule fixed" in body
    assert "-2.50" in body and "-0.53" in body
    # In force: 3.10 + 0.65 VAT = 3.75.
    total = body.split('data-testid="total-WHOLESALE-EUR"')[1].split("</tr>")[0]
    assert "EUR 3.10" in total and "0.65" in total and "EUR 3.75" in total
    assert "HCC_EXEMPT" in body and "home charger, VAT excluded" in body
    assert 'data-testid="rerate"' in body


def test_a_tenant_with_no_part_in_a_cdr_gets_not_found() -> None:
    m = market()
    c = _marketplace_cdr(m)
    client = signed_in_client(_user(m.other_tenant, "platform_admin"))
    r = client.get(reverse("portal:cdr", args=[m.other_tenant.slug, c.pk]))
    assert r.status_code == 404 and b"3.10" not in r.content


def test_billing_flags_tab_lists_reasons_rules_attempts_and_dropped() -> None:
    m = market()
    c = cdr(m, emsp=m.partner)
    flag(
        c,
        "WHOLESALE",
        "AMBIGUOUS_RULES",
        tenant=m.cpo_tenant,
        detail={"rule_ids": [41, 42]},
        attempts=3,
    )
    flag(
        c,
        "REIMBURSEMENT",
        "NO_RULE",
        tenant=m.cpo_tenant,
        status="DROPPED",
        attempts=91,
        next_retry_at=None,
        closed_at=T0 + 90 * DAY,
    )
    other = cdr(m, emsp=m.partner)
    flag(other, "RETAIL", "NO_PACKAGE", tenant=m.emsp_tenant)
    client = signed_in_client(_user(m.cpo_tenant, "cpo_admin"))
    url = reverse("portal:rating_flags", args=[m.cpo_tenant.slug])
    body = client.get(url).content.decode()
    assert "AMBIGUOUS_RULES" in body and "#41" in body and "#42" in body
    assert ">3<" in body and "Re-rate" in body
    rows = body.split("<tbody>")[1]
    assert "NO_RULE" not in rows  # open only by default
    assert "NO_PACKAGE" not in rows and other.ocpi_id not in rows  # the eMSP tenant's
    dropped = client.get(url + "?status=DROPPED").content.decode()
    assert "NO_RULE" in dropped and "DROPPED" in dropped and ">91<" in dropped
    assert "Re-rate</button>" not in dropped


def test_rerate_calls_the_rating_service_once_with_the_reason(monkeypatch) -> None:
    m = market()
    c = cdr(m, emsp=m.partner)
    calls: list[dict[str, Any]] = []

    def fake(**kw: Any) -> RatingOutcome:
        calls.append(kw)
        return RatingOutcome(lines_written=2, flags_opened=0, skipped=1)

    monkeypatch.setattr(rating_api, "cdr_rerate", fake)
    user = _user(m.cpo_tenant, "cpo_admin")
    client = signed_in_client(user)
    url = reverse("portal:cdr_rerate", args=[m.cpo_tenant.slug, c.pk])
    back = reverse("portal:cdr", args=[m.cpo_tenant.slug, c.pk])
    r = client.post(url, {"reason": "rule 41 retired", "next": back})
    assert r.status_code == 302 and r["Location"] == back
    assert len(calls) == 1
    call = calls[0]
    assert (call["tenant_id"], call["cdr_id"], call["reason"]) == (
        m.cpo_tenant.pk,
        c.pk,
        "rule 41 retired",
    )
    assert call["actor"].user_id == user.pk
    # No reason: nothing called, the notice says what is missing.
    r = client.post(url, {"next": "https://evil.example/"})
    assert r["Location"] == reverse("portal:rating_flags", args=[m.cpo_tenant.slug])
    assert len(calls) == 1
    assert "say why" in client.get(r["Location"]).content.decode()
    # Support may look, not re-rate.
    support = signed_in_client(_user(m.cpo_tenant, "support"))
    assert support.post(url, {"reason": "x"}).status_code == 403
    assert len(calls) == 1


def _settlement_world() -> Market:
    m = market()
    roam = cdr(m, emsp=m.partner)
    own = cdr(m, emsp=m.own_emsp)
    chf = cdr(m, emsp=m.partner, currency="CHF")
    line(roam, "WHOLESALE", 1, tenant=m.cpo_tenant, excl="2.50", kwh="10.5", buyer_party=m.partner)
    line(chf, "WHOLESALE", 1, tenant=m.cpo_tenant, excl="4.00", kwh="7", buyer_party=m.partner)
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
    _marketplace_cdr(m)
    return m


def test_settlement_page_per_emsp_per_currency_with_own_charge_apart() -> None:
    m = _settlement_world()
    client = signed_in_client(_user(m.cpo_tenant, "finance"))
    url = reverse("portal:settlement", args=[m.cpo_tenant.slug])
    body = client.get(url + "?date_from=2026-03-01&date_to=2026-04-01").content.decode()
    table = body.split('data-testid="settlement"')[1]
    assert "DE*RMG" in table and "BE*BBB" in table and "NL*AAE" in table
    assert "own charge · not invoiced" in table
    eur = table.split('data-testid="settlement-total-EUR"')[1].split("</tr>")[0]
    # 2.50 (DE*RMG) + 3.10 (BE*BBB, after the correction); own charge 9.99 excluded.
    assert "5.60" in eur and "1.18" in eur and "6.78" in eur
    chf = table.split('data-testid="settlement-total-CHF"')[1].split("</tr>")[0]
    assert "4.00" in chf and "0.84" in chf and "4.84" in chf
    assert 'data-testid="export"' in body
    bad = client.get(url + "?date_from=2026-04-01&date_to=2026-03-01")
    assert bad.status_code == 400 and "must be after the first day" in bad.content.decode()


def test_settlement_csv_is_exact() -> None:
    m = _settlement_world()
    client = signed_in_client(_user(m.cpo_tenant, "finance"))
    url = reverse("portal:settlement_export", args=[m.cpo_tenant.slug])
    r = client.get(url + "?date_from=2026-03-01&date_to=2026-04-01")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "settlement-cpo-a-2026-03-01-2026-04-01.csv" in r["Content-Disposition"]
    text = b"".join(r.streaming_content).decode()  # type: ignore[attr-defined]
    p = "RECEIVABLE,2026-03-01T00:00:00+00:00,2026-04-01T00:00:00+00:00"
    assert text.splitlines() == [
        "side,period_from,period_to,party,party_name,currency,own_charge,cdrs,energy_kwh,"
        "total_excl_vat,vat,total_incl_vat",
        f"{p},BE*BBB,B drive,EUR,no,1,10.000,3.10,0.65,3.75",
        f"{p},DE*RMG,Roaming GmbH,CHF,no,1,7.000,4.00,0.84,4.84",
        f"{p},DE*RMG,Roaming GmbH,EUR,no,1,10.500,2.50,0.53,3.03",
        f"{p},NL*AAE,A mobility,EUR,yes,1,20.000,9.99,2.10,12.09",
    ]
    # The marketplace eMSP's payable side holds only its cost at A.
    b = signed_in_client(_user(m.emsp_tenant, "finance"))
    r = b.get(
        reverse("portal:settlement_export", args=[m.emsp_tenant.slug])
        + "?date_from=2026-03-01&date_to=2026-04-01&side=PAYABLE"
    )
    rows = b"".join(r.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert rows[1:] == [
        "PAYABLE,2026-03-01T00:00:00+00:00,2026-04-01T00:00:00+00:00,"
        "NL*AAA,A charging,EUR,no,1,10.000,3.10,0.65,3.75"
    ]
    # Support may read the report, not export it.
    support = signed_in_client(_user(m.cpo_tenant, "support"))
    assert support.get(url).status_code == 403


def test_rerate_through_the_real_rating_service() -> None:
    """The button and the service merged from h-rate: the CPO tenant's re-rate runs the
    engines (this CDR's stored object cannot be priced: a flag, no line); another tenant's
    re-rate of the same CDR is refused and writes nothing."""
    m = market()
    c = cdr(m, emsp=m.partner)
    client = signed_in_client(_user(m.cpo_tenant, "cpo_admin"))
    r = client.post(
        reverse("portal:cdr_rerate", args=[m.cpo_tenant.slug, c.pk]), {"reason": "rules fixed"}
    )
    assert r["Location"] == reverse("portal:rating_flags", args=[m.cpo_tenant.slug])
    body = client.get(r["Location"]).content.decode()
    assert f"CDR {c.pk} re-rated: 0 line(s) written, 1 flag(s) opened" in body
    assert "PRICING_FAILED" in body.split("<tbody>")[1]
    assert list(RatingFlag.objects.values_list("tenant_id", "engine", "status")) == [
        (m.cpo_tenant.pk, "WHOLESALE", "OPEN")
    ]
    other = signed_in_client(_user(m.other_tenant, "cpo_admin"))
    r = other.post(reverse("portal:cdr_rerate", args=[m.other_tenant.slug, c.pk]), {"reason": "x"})
    assert (
        f"CDR {c.pk}: no CDR {c.pk} rated by this tenant"
        in other.get(r["Location"]).content.decode()
    )
    assert RatingFlag.objects.count() == 1 and not RatedLine.objects.exists()


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_rating_pages_read_a_fixed_number_of_queries() -> None:
    """More lines, flags and counterparties cost no more queries (no query per row)."""
    m = market()
    c = cdr(m, emsp=m.partner)
    client = signed_in_client(_user(m.cpo_tenant, "cpo_admin"))
    urls = [
        reverse("portal:cdr", args=[m.cpo_tenant.slug, c.pk]),
        reverse("portal:rating_flags", args=[m.cpo_tenant.slug]) + "?status=",
        reverse("portal:settlement", args=[m.cpo_tenant.slug])
        + "?date_from=2026-03-01&date_to=2026-04-01",
    ]
    line(c, "WHOLESALE", 1, tenant=m.cpo_tenant, excl="1.00", buyer_party=m.partner)
    flag(c, "REIMBURSEMENT", "NO_RULE", tenant=m.cpo_tenant)
    before = [_queries(client, u) for u in urls]
    for i in range(2, 7):
        line(
            c,
            "WHOLESALE",
            i,
            tenant=m.cpo_tenant,
            excl="1.00",
            buyer_party=m.own_emsp,
            rule_version=m.rule,
            tariff_version=m.tariff_version,
        )
        other = cdr(m, emsp=m.partner)
        flag(other, "WHOLESALE", "NO_RULE", tenant=m.cpo_tenant, detail={"rules": [1, 2]})
        line(
            other,
            "WHOLESALE",
            1,
            tenant=m.cpo_tenant,
            excl="2.00",
            currency="CHF",
            buyer_party=m.partner,
        )
    assert [_queries(client, u) for u in urls] == before
