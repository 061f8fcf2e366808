"""A CDR a CPO partner POSTs us goes into the eMSP tenant's billing engines (issue 19
part 6, ADR 0041): one CDR per partner CDR whatever the repeats, its wholesale line the
partner's price (a cost, VAT from the partner party), retail for our driver; a CDR we cannot
bill is kept and flagged with the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.charging.models import Cdr
from apps.common.contracts import Actor
from apps.parties.models import Party
from apps.rating import api as rating_api
from apps.rating.models import RatedLine
from apps.roaming import transport
from apps.roaming.models import ForeignCdr
from apps.tokens.models import Token
from tests.factories import TokenFactory
from tests.roaming.emsp_world import cdr_doc, make_world

pytestmark = pytest.mark.django_db

BASE = "/ocpi/2.2.1/emsp"
D = Decimal


def _post(w, body: dict) -> int:  # type: ignore[no-untyped-def,type-arg]
    resp = w.client().post(
        BASE + "/cdrs", data=transport.dumps(body), content_type="application/json"
    )
    return resp.status_code


def test_a_received_cdr_is_billed_once_and_its_wholesale_line_is_the_partner_price() -> None:
    w = make_world()
    own = Party.objects.get(pk=w.emsp_party_pk)
    token = TokenFactory(party=own, tenant_id=w.tenant_id, uid="04a1b2c3")
    assert _post(w, cdr_doc()) == 201
    assert _post(w, cdr_doc()) == 200  # the same CDR again
    (cdr,) = Cdr.objects.filter(tenant_id=w.tenant_id)
    partner = Party.objects.get(tenant_id=w.tenant_id, kind="PARTNER", role="CPO")
    assert (cdr.party_id, cdr.ocpi_id, cdr.session_id) == (partner.pk, "CDR-0001", None)
    assert cdr.token_id == token.pk and cdr.emsp_tenant_id == w.tenant_id
    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (D("5.75"), D("6.84"))
    assert cdr.annotations["roaming"]["foreign_cdr"] == ForeignCdr.objects.get().pk

    rating_api.cdrs_rate(
        cdr_ids=[cdr.pk], actor=Actor.system("test"), now=datetime(2026, 12, 2, tzinfo=UTC)
    )
    ws = RatedLine.objects.get(cdr=cdr, engine="WHOLESALE")
    assert (ws.seller_party_id, ws.buyer_tenant_id) == (partner.pk, w.tenant_id)
    assert (ws.energy, ws.time, ws.total_excl_vat) == (D("3.75"), D("2.00"), D("5.75"))
    assert (ws.vat_rate, ws.vat, ws.total_incl_vat) == (D("19"), D("1.09"), D("6.84"))


def test_a_cdr_of_an_unknown_party_is_kept_and_flagged_not_billed() -> None:
    w = make_world()
    Token.objects.all().delete()
    Party.objects.filter(tenant_id=w.tenant_id, kind="PARTNER").update(party_id="OTH")
    assert _post(w, cdr_doc()) == 201
    row = ForeignCdr.objects.get()
    assert row.flags[-1]["rule"] == "not_billed"  # after the content flags
    assert "no CPO party DE*CPO" in row.flags[-1]["detail"]
    assert not Cdr.objects.filter(tenant_id=w.tenant_id).exists()
