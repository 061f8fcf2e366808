"""A roaming CPO partner's CDR in the eMSP tenant's engines (issue 19 part 6, ADR 0041):
stored once, its wholesale line is the partner's price bought by the tenant (a cost, never
invoiced by the platform, exported as COST against the partner), retail charges the driver
on top of it, to the cent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.charging import api as charging_api
from apps.charging.contracts import RoamingCdrIn
from apps.charging.models import Cdr
from apps.common.contracts import Actor
from apps.common.errors import ValidationFailed
from apps.invoicing import api as invoicing_api
from apps.invoicing.models import Document
from apps.rating import api as rating_api
from apps.rating.models import RatedLine, RatingFlag
from tests.factories import PartyFactory
from tests.integration.rating import builders as b

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
D = Decimal


def partner_cdr(
    w: b.World, partner: object, *, ocpi_id: str = "ABC123", **kw: object
) -> RoamingCdrIn:
    start = b.T0
    end = start + timedelta(hours=1)
    values: dict[str, object] = {
        "tenant_id": w.emsp_tenant.pk,
        "cpo_party_pk": partner.pk,  # type: ignore[attr-defined]
        "ocpi_id": ocpi_id,
        "start": start,
        "end": end,
        "currency": "EUR",
        "energy_kwh": D("10.0000"),
        "time_hours": D("1.000000"),
        "parking_hours": D("0"),
        "totals": {
            "cost": (D("3.5000"), D("4.2350")),
            "energy_cost": (D("3.0000"), None),
            "fixed_cost": (D("0.5000"), None),
        },
        "token_uid": w.token.uid.lower(),  # partners may change the case of CiString ids
        "data": {
            "country_code": "DE",
            "party_id": "XYZ",
            "id": ocpi_id,
            "cdr_location": {"country": "DEU"},
        },
        "time_zone": "Europe/Berlin",
        "source": {"ocpi_connection": 7},
    }
    values.update(kw)
    return RoamingCdrIn(**values)  # type: ignore[arg-type]


def setup() -> tuple[b.World, object]:
    w = b.world()
    partner = PartyFactory(
        tenant=w.emsp_tenant, kind="PARTNER", role="CPO", country_code="DE", party_id="XYZ"
    )
    b.cpo_contract(w.emsp_tenant, partner, vat_rate="21")
    b.rule(w.emsp_tenant, "RETAIL", pricing="COST_PLUS", markup_percent=D("10"))
    return w, partner


def rate(cdr_id: int) -> None:
    rating_api.cdrs_rate(cdr_ids=[cdr_id], actor=ACTOR, now=b.T0 + timedelta(hours=2))


def test_stored_once_and_rated_as_a_cost_plus_retail_to_the_cent() -> None:
    w, partner = setup()
    cdr_id, created = charging_api.roaming_cdr_record(cdr=partner_cdr(w, partner), actor=ACTOR)
    again, created_again = charging_api.roaming_cdr_record(cdr=partner_cdr(w, partner), actor=ACTOR)
    assert (created, again, created_again) == (True, cdr_id, False)
    assert Cdr.objects.filter(party=partner).count() == 1
    row = Cdr.objects.get(pk=cdr_id)
    assert row.session_id is None and row.token_id == w.token.pk
    assert (row.emsp_party_id, row.emsp_tenant_id) == (w.emsp_own_party.pk, w.emsp_tenant.pk)
    assert (row.contract_id, row.customer_id) == (w.contract.pk, w.customer.pk)

    rate(cdr_id)

    ws = RatedLine.objects.get(cdr_id=cdr_id, engine="WHOLESALE")
    assert (ws.tenant_id, ws.seller_party_id, ws.buyer_party_id, ws.buyer_tenant_id) == (
        w.emsp_tenant.pk,
        partner.pk,  # type: ignore[attr-defined]
        w.emsp_own_party.pk,
        w.emsp_tenant.pk,
    )
    assert ws.own_charge is False and ws.rule_version_id is None
    assert (ws.energy, ws.fixed, ws.total_excl_vat) == (D("3.00"), D("0.50"), D("3.50"))
    assert (ws.vat_rate, ws.vat, ws.total_incl_vat) == (D("21"), D("0.74"), D("4.24"))
    rt = RatedLine.objects.get(cdr_id=cdr_id, engine="RETAIL")
    assert (rt.seller_party_id, rt.buyer_customer_id) == (w.emsp_own_party.pk, w.customer.pk)
    assert rt.total_excl_vat == D("3.85")  # 3.50 + 10 %
    assert not RatingFlag.objects.filter(cdr_id=cdr_id).exists()
    assert not RatedLine.objects.filter(cdr_id=cdr_id, engine="REIMBURSEMENT").exists()


def test_no_vat_rate_for_the_partner_is_flagged_not_guessed() -> None:
    w = b.world()
    partner = PartyFactory(
        tenant=w.emsp_tenant, kind="PARTNER", role="CPO", country_code="DE", party_id="XYZ"
    )
    cdr_id, _ = charging_api.roaming_cdr_record(cdr=partner_cdr(w, partner), actor=ACTOR)
    rate(cdr_id)
    flag = RatingFlag.objects.get(cdr_id=cdr_id, engine="WHOLESALE")
    assert flag.reason == "NO_VAT_RATE"
    assert not RatedLine.objects.filter(cdr_id=cdr_id, engine="WHOLESALE").exists()


def test_a_credit_cdr_references_the_original_and_an_unknown_reference_is_refused() -> None:
    w, partner = setup()
    original, _ = charging_api.roaming_cdr_record(cdr=partner_cdr(w, partner), actor=ACTOR)
    credit, created = charging_api.roaming_cdr_record(
        cdr=partner_cdr(
            w,
            partner,
            ocpi_id="ABC123-C",
            credit_reference_id="abc123",
            totals={"cost": (D("-3.5000"), D("-4.2350"))},
        ),
        actor=ACTOR,
    )
    row = Cdr.objects.get(pk=credit)
    assert created and row.kind == "CREDIT" and row.credits_id == original
    with pytest.raises(ValidationFailed) as e:
        charging_api.roaming_cdr_record(
            cdr=partner_cdr(w, partner, ocpi_id="X-C", credit_reference_id="NOPE"), actor=ACTOR
        )
    assert e.value.problems[0].path == "credit_reference_id"
    assert Cdr.objects.filter(party=partner).count() == 2


def test_a_cdr_without_a_total_is_refused_with_the_field() -> None:
    w, partner = setup()
    with pytest.raises(ValidationFailed) as e:
        charging_api.roaming_cdr_record(cdr=partner_cdr(w, partner, totals={}), actor=ACTOR)
    assert [p.path for p in e.value.problems] == ["total_cost"]
    assert not Cdr.objects.filter(party=partner).exists()


def test_the_billing_run_invoices_the_driver_only_and_finance_books_the_partner_cost() -> None:
    w, partner = setup()
    cdr_id, _ = charging_api.roaming_cdr_record(cdr=partner_cdr(w, partner), actor=ACTOR)
    rate(cdr_id)
    after = b.T0.replace(month=4, day=10)
    run_id = invoicing_api.billing_run_start(
        tenant_id=w.emsp_tenant.pk,
        actor=ACTOR,
        frequency="MONTHLY",
        period_start=date(2026, 3, 1),
        now=after,
    )
    invoicing_api.billing_run_execute(run_id=run_id, now=after)
    types = sorted(Document.objects.filter(tenant=w.emsp_tenant).values_list("doc_type", flat=True))
    assert types == ["CUSTOMER_INVOICE"]  # the partner's cost is not invoiced by us
    preview = invoicing_api.finance_preview(
        tenant_id=w.emsp_tenant.pk,
        period_start=b.T0.replace(day=1, hour=0),
        period_end=b.T0.replace(month=4, day=1, hour=0),
        now=after,
    )
    cost = [j for j in preview.journal if j.role == "COST" and j.component == "ENERGY"]
    assert [(j.counterparty, j.debit) for j in cost] == [
        (f"PARTY:{partner.pk}", D("3.0000"))  # type: ignore[attr-defined]
    ]
    revenue = [j for j in preview.journal if j.role == "REVENUE"]
    assert {j.counterparty for j in revenue} == {f"CUSTOMER:{w.customer.pk}"}
