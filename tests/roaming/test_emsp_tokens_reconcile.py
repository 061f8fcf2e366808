"""Tokens sender (paginated list, authorize, push to a CPO through the outbox) and the
re-pricing of received CDRs with the CPO's published tariff (exact cents), with the
reconciliation report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.common.errors import NotFound
from apps.roaming import api as roaming_api
from apps.roaming import transport
from apps.roaming.models import ForeignCdr, OcpiPush
from apps.tokens.models import Token
from tests.factories import EmspFactory, TokenFactory
from tests.roaming.emsp_world import World, cdr_doc, location_doc, make_world, tariff_doc

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _tokens(w: World, n: int) -> list[Token]:
    out = []
    for i in range(n):
        t = TokenFactory(party_id=w.emsp_party_pk, tenant_id=w.tenant_id, uid=f"UID{i}")
        Token.objects.filter(pk=t.pk).update(updated_at=T0 + timedelta(hours=i))
        out.append(t)
    return out


def test_tokens_list_paginated_with_headers_and_only_our_own() -> None:
    w = make_world()
    _tokens(w, 3)
    partner = EmspFactory(tenant_id=w.tenant_id, kind="PARTNER", country_code="FR", party_id="PAR")
    TokenFactory(party=partner, tenant_id=w.tenant_id, uid="NOT-OURS")
    resp = w.client().get("/ocpi/2.2.1/emsp/tokens?limit=2")
    env = transport.loads(resp.content)
    assert resp.status_code == 200 and [t["uid"] for t in env["data"]] == ["UID0", "UID1"]
    assert resp["X-Total-Count"] == "3" and resp["X-Limit"] == "100"
    next_url = transport.parse_next_link(resp["Link"])
    assert next_url == "http://testserver/ocpi/2.2.1/emsp/tokens?offset=2&limit=2"
    page2 = w.client().get(next_url.replace("http://testserver", ""))
    assert [t["uid"] for t in transport.loads(page2.content)["data"]] == ["UID2"]
    assert not page2.has_header("Link")
    first = env["data"][0]
    assert first["country_code"] == "NL" and first["party_id"] == "EMS"
    assert first["last_updated"] == "2026-12-01T08:00:00Z"
    # date_from inclusive, date_to exclusive
    resp = w.client().get(
        "/ocpi/2.2.1/emsp/tokens?date_from=2026-12-01T09:00:00Z&date_to=2026-12-01T10:00:00Z"
    )
    assert [t["uid"] for t in transport.loads(resp.content)["data"]] == ["UID1"]
    assert resp["X-Total-Count"] == "1"
    # an offset written unencoded ("+" arrives as a space) is read as meant
    resp = w.client().get(
        "/ocpi/2.2.1/emsp/tokens?date_from=2026-12-01T10:00:00+01:00"
        "&date_to=2026-12-01T11:00:00%2B01:00"
    )
    assert [t["uid"] for t in transport.loads(resp.content)["data"]] == ["UID1"]


def test_tokens_list_of_another_tenant_is_never_seen() -> None:
    a = make_world()
    _tokens(a, 2)
    b = make_world(emsp=("NL", "EMT"))
    resp = b.client().get("/ocpi/2.2.1/emsp/tokens")
    assert transport.loads(resp.content)["data"] == [] and resp["X-Total-Count"] == "0"
    assert (
        b.client()
        .post("/ocpi/2.2.1/emsp/tokens/UID0/authorize", content_type="application/json")
        .status_code
        == 404
    )


def test_authorize_allowed_blocked_and_unknown() -> None:
    w = make_world()
    tok = _tokens(w, 2)
    Token.objects.filter(pk=tok[1].pk).update(valid=False)
    body = transport.dumps({"location_id": "Loc1", "evse_uids": ["Evse1"]})
    resp = w.client().post(
        "/ocpi/2.2.1/emsp/tokens/UID0/authorize?type=RFID",
        data=body,
        content_type="application/json",
    )
    info = transport.loads(resp.content)["data"]
    assert resp.status_code == 200 and info["allowed"] == "ALLOWED"
    assert info["token"]["uid"] == "UID0"
    assert info["location"] == {"location_id": "Loc1", "evse_uids": ["Evse1"]}
    assert len(info["authorization_reference"]) == 32
    resp = w.client().post(
        "/ocpi/2.2.1/emsp/tokens/UID1/authorize", content_type="application/json"
    )
    assert transport.loads(resp.content)["data"]["allowed"] == "BLOCKED"
    resp = w.client().post(
        "/ocpi/2.2.1/emsp/tokens/NOPE/authorize", content_type="application/json"
    )
    env = transport.loads(resp.content)
    assert (resp.status_code, env["status_code"]) == (404, 2004)
    resp = w.client().post(
        "/ocpi/2.2.1/emsp/tokens/UID0/authorize?type=APP_USER", content_type="application/json"
    )
    assert resp.status_code == 404  # the type is part of the token's identity
    resp = w.client().post(
        "/ocpi/2.2.1/emsp/tokens/UID0/authorize",
        data=transport.dumps({"evse_uids": ["E"]}),
        content_type="application/json",
    )
    assert (resp.status_code, transport.loads(resp.content)["status_code"]) == (400, 2001)


def test_tokens_push_all_goes_through_the_outbox_once_per_version() -> None:
    w = make_world()
    _tokens(w, 2)
    assert roaming_api.tokens_push_all(tenant_id=w.tenant_id, connection_id=w.connection.pk) == 2
    assert roaming_api.tokens_push_all(tenant_id=w.tenant_id, connection_id=w.connection.pk) == 0
    rows = list(OcpiPush.objects.order_by("id"))
    assert [(r.module, r.method, r.path) for r in rows] == [
        ("tokens", "PUT", "NL/EMS/UID0?type=RFID"),
        ("tokens", "PUT", "NL/EMS/UID1?type=RFID"),
    ]
    assert (rows[0].to_country_code, rows[0].to_party_id) == ("DE", "CPO")
    assert transport.loads(rows[0].body)["uid"] == "UID0"


def _receive(w: World, doc: dict, now: datetime) -> ForeignCdr:
    stored = roaming_api.emsp_cdr_receive(
        connection_id=w.connection.pk,
        version="2.2.1",
        raw=transport.dumps(doc),
        body=doc,
        now=now,
    )
    return ForeignCdr.objects.get(pk=stored.pk)


def _published(w: World) -> None:
    for module, oid, doc in (
        ("locations", "Loc1", location_doc()),
        ("tariffs", "T1", tariff_doc()),
    ):
        roaming_api.emsp_object_put(
            connection_id=w.connection.pk,
            module=module,
            version="2.2.1",
            country_code="DE",
            party_id="CPO",
            object_id=oid,
            body=doc,
            now=T0,
        )


def test_reprice_exact_cents_with_the_published_tariff_and_a_wrong_cdr_flagged() -> None:
    w = make_world()
    _published(w)
    # by the connector's tariff_ids (no tariff_id in the periods, no embedded tariff)
    good_doc = cdr_doc(id="GOOD")
    del good_doc["charging_periods"][0]["tariff_id"]
    good = _receive(w, good_doc, T0 + timedelta(days=1))
    assert good.flags == []
    assert (good.repriced_excl_vat, good.difference_excl_vat) == (Decimal("5.75"), Decimal("0"))
    wrong = _receive(
        w,
        cdr_doc(
            id="WRONG",
            total_cost={"excl_vat": Decimal("6.25"), "incl_vat": Decimal("7.44")},
            total_energy_cost={"excl_vat": Decimal("4.25"), "incl_vat": Decimal("5.06")},
        ),
        T0 + timedelta(days=2),
    )
    assert (wrong.repriced_excl_vat, wrong.difference_excl_vat) == (
        Decimal("5.75"),
        Decimal("0.50"),
    )
    assert [f["detail"] for f in wrong.flags if f["rule"] == "repricing_difference"] == [
        "total_cost.excl_vat: theirs 6.25, ours 5.75",
        "total_cost.incl_vat: theirs 7.44, ours 6.84",
        "total_energy_cost.excl_vat: theirs 4.25, ours 3.75",
        "total_energy_cost.incl_vat: theirs 5.06, ours 4.46",
    ]
    # an embedded tariff wins over the published one: 0.40/kWh -> 5.00 + 2.00
    embedded = tariff_doc(
        id="T9",
        elements=[
            {
                "price_components": [
                    {
                        "type": "ENERGY",
                        "price": Decimal("0.40"),
                        "vat": Decimal("19"),
                        "step_size": 1,
                    },
                    {
                        "type": "TIME",
                        "price": Decimal("2.00"),
                        "vat": Decimal("19"),
                        "step_size": 1,
                    },
                ]
            }
        ],
    )
    doc = cdr_doc(id="EMB", tariffs=[embedded])
    doc["charging_periods"][0]["tariff_id"] = "t9"
    emb = _receive(w, doc, T0 + timedelta(days=3))
    assert emb.repriced_excl_vat == Decimal("7.00") and emb.difference_excl_vat == Decimal("-1.25")

    report = roaming_api.reconciliation_report(
        tenant_id=w.tenant_id,
        connection_id=w.connection.pk,
        period_from=T0,
        period_to=T0 + timedelta(days=3),  # exclusive: EMB is not in it
    )
    assert (report.cdrs, report.repriced, report.matching, report.differing) == (2, 2, 1, 1)
    assert len(report.totals) == 1
    eur = report.totals[0]
    assert (
        eur.currency,
        eur.cdrs,
        eur.theirs_excl_vat,
        eur.ours_excl_vat,
        eur.difference_excl_vat,
    ) == (
        "EUR",
        2,
        Decimal("12.00"),
        Decimal("11.50"),
        Decimal("0.50"),
    )
    assert [d.cdr_id for d in report.differing_cdrs] == ["WRONG"]
    other = make_world(emsp=("NL", "EMT"))
    with pytest.raises(NotFound):  # another tenant's report never counts these
        roaming_api.reconciliation_report(
            tenant_id=other.tenant_id,
            connection_id=w.connection.pk,
            period_from=T0,
            period_to=T0 + timedelta(days=9),
        )


def test_credit_cdr_repriced_negated() -> None:
    w = make_world()
    _published(w)
    _receive(w, cdr_doc(id="ORIG"), T0)
    credit = _receive(
        w,
        cdr_doc(
            id="ORIG-C",
            credit=True,
            credit_reference_id="orig",
            total_cost={"excl_vat": Decimal("-5.75"), "incl_vat": Decimal("-6.84")},
        ),
        T0,
    )
    assert credit.flags == []
    assert (credit.repriced_excl_vat, credit.difference_excl_vat) == (
        Decimal("-5.75"),
        Decimal("0"),
    )


def test_tokens_push_command_and_another_tenants_connection() -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from apps.parties.models import Operator

    w = make_world()
    _tokens(w, 3)
    out = StringIO()
    slug = Operator.objects.get(pk=w.tenant_id).slug
    call_command("ocpi_tokens_push", "--tenant", slug, str(w.connection.pk), stdout=out)
    assert out.getvalue().strip() == "3 token pushes queued"
    other = make_world(emsp=("NL", "EMT"))
    with pytest.raises(CommandError, match="no OCPI connection"):
        call_command("ocpi_tokens_push", "--tenant", slug, str(other.connection.pk))
    assert OcpiPush.objects.filter(connection=other.connection).count() == 0
    second = make_world(emsp=("NL", "EMU"))  # another tenant: not among "every partner"
    out = StringIO()
    call_command("ocpi_tokens_push", "--tenant", slug, stdout=out)
    assert out.getvalue().strip() == "0 token pushes queued"  # every version owed already
    assert OcpiPush.objects.filter(connection=second.connection).count() == 0


def test_ocpi_211_cdr_repriced_with_its_own_location_time_zone() -> None:
    w = make_world(version="2.1.1", emsp=("NL", "EM1"))
    tariff = {
        "id": "T1",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": Decimal("0.30"), "step_size": 1},
                    {"type": "TIME", "price": Decimal("2.00"), "step_size": 1},
                ]
            }
        ],
        "last_updated": "2026-12-01T09:00:00Z",
    }
    c = w.client()
    put = c.put(
        "/ocpi/2.1.1/emsp/tariffs/DE/CPO/T1",
        data=transport.dumps(tariff),
        content_type="application/json",
    )
    assert put.status_code == 200
    location = {
        "id": "Loc9",
        "type": "ON_STREET",
        "address": "Hauptstr. 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "time_zone": "Europe/Berlin",
        "evses": [
            {
                "uid": "E9",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "voltage": 230,
                        "amperage": 32,
                        "tariff_id": "t1",
                        "last_updated": "2026-12-01T09:00:00Z",
                    }
                ],
                "last_updated": "2026-12-01T09:00:00Z",
            }
        ],
        "last_updated": "2026-12-01T09:00:00Z",
    }
    cdr = {
        "id": "OLD-1",
        "start_date_time": "2026-12-01T10:00:00Z",
        "stop_date_time": "2026-12-01T11:00:00Z",
        "auth_id": "NL-EM1-C00000001-X",
        "auth_method": "WHITELIST",
        "location": location,
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2026-12-01T10:00:00Z",
                "dimensions": [
                    {"type": "ENERGY", "volume": Decimal("12.5")},
                    {"type": "TIME", "volume": Decimal("1")},
                ],
            }
        ],
        "total_cost": Decimal("5.80"),
        "total_energy": Decimal("12.5"),
        "total_time": Decimal("1"),
        "last_updated": "2026-12-01T11:05:00Z",
    }
    resp = c.post(
        "/ocpi/2.1.1/emsp/cdrs", data=transport.dumps(cdr), content_type="application/json"
    )
    assert resp.status_code == 201
    row = ForeignCdr.objects.get()
    assert (row.country_code, row.party_id, row.cdr_id) == ("DE", "CPO", "OLD-1")
    assert (row.total_cost_excl_vat, row.repriced_excl_vat, row.difference_excl_vat) == (
        Decimal("5.80"), Decimal("5.75"), Decimal("0.05"),
    )  # fmt: skip
    assert [(f["rule"], f["detail"]) for f in row.flags] == [
        ("unknown_location", "location 'Loc9' was never published to us"),
        ("repricing_difference", "total_cost.excl_vat: theirs 5.80, ours 5.75"),
    ]


def test_extra_fields_of_a_partner_do_not_stop_the_repricing() -> None:
    w = make_world()
    roaming_api.emsp_object_put(
        connection_id=w.connection.pk,
        module="locations",
        version="2.2.1",
        country_code="DE",
        party_id="CPO",
        object_id="Loc1",
        body=location_doc(),
        now=T0,
    )
    tariff = tariff_doc(x_vendor_code="A1")
    del tariff["last_updated"]
    stored = roaming_api.emsp_object_put(
        connection_id=w.connection.pk,
        module="tariffs",
        version="2.2.1",
        country_code="DE",
        party_id="CPO",
        object_id="T1",
        body=tariff,
        now=T0,
    )
    assert [f["detail"] for f in stored.flags] == [
        "$.last_updated is required",
        "$.x_vendor_code: unknown key",
    ]
    doc = cdr_doc(id="EXTRA")
    doc["charging_periods"][0]["x_meter"] = "M1"
    row = _receive(w, doc, T0)
    assert row.flags == [] and row.repriced_excl_vat == Decimal("5.75")


def test_an_emsp_partner_cannot_read_or_authorize_our_tokens() -> None:
    from apps.roaming.models import OcpiPartyRole

    w = make_world()
    _tokens(w, 1)
    OcpiPartyRole.objects.filter(connection=w.connection).update(role="EMSP")
    resp = w.client().get("/ocpi/2.2.1/emsp/tokens")
    assert (resp.status_code, transport.loads(resp.content)["status_code"]) == (403, 2000)
    assert "data" not in transport.loads(resp.content)
    resp = w.client().post(
        "/ocpi/2.2.1/emsp/tokens/UID0/authorize", content_type="application/json"
    )
    assert resp.status_code == 403
