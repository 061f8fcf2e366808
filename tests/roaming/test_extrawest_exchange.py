"""Our eMSP against the extrawest-ocpi peer (a 2.2.1 CPO, tests/roaming/peers) beyond the
handshake: our tokens pushed to its tokens receiver through our outbox, and its sessions and
CDRs reaching us, pulled (its GET) and pushed (the library's own push, to our live server).
What the peer stored is read back through its own interfaces (GET tokens, its state)."""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging.models import Cdr
from apps.roaming import api as roaming_api
from apps.roaming import client, transport
from apps.roaming.models import (
    ForeignCdr,
    ForeignObject,
    OcpiConnection,
    OcpiEndpoint,
    OcpiExchange,
    OcpiPush,
)
from apps.roaming.services import emsp_pull, push
from apps.tokens.models import Token
from tests.factories import EmspFactory, OperatorFactory, PartyFactory, TokenFactory
from tests.roaming.peers.fixtures import extrawest_peer, extrawest_python  # noqa: F401
from tests.roaming.peers.runtime import PeerProcess
from tests.roaming.peers.world import registered_connection
from tests.roaming.schemas import validate

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _peer_connection(peer: PeerProcess, tenant: Any) -> OcpiConnection:
    """A connection to the peer with the endpoints its version details list (read from it)."""
    conn = registered_connection(
        tenant,
        name="extrawest",
        versions_url=peer.versions_url,
        their_token=peer.token_c,
        roles=(("CPO", peer.country_code, peer.party_id),),
    )
    details = client.call(
        connection=conn, method="GET", url=f"{peer.base_url}/ocpi/2.2.1/details", module="versions"
    )
    for e in details.data["endpoints"]:
        OcpiEndpoint.objects.create(
            tenant=tenant, connection=conn, module=e["identifier"], role=e["role"], url=e["url"]
        )
    return conn


def test_our_tokens_land_in_its_tokens_receiver(extrawest_peer: PeerProcess) -> None:  # noqa: F811
    """tokens_push_all -> our outbox -> a drain -> PUT on the tokens RECEIVER its details
    list; read back with a GET on that receiver and from its store. A new version of the
    token (blocked) is pushed again and replaces the first."""
    tenant = OperatorFactory()
    ours = EmspFactory(tenant=tenant, country_code="NL", party_id="OUE")
    token = TokenFactory(
        party=ours, tenant=tenant, uid="04A1B2C3D4", contract_id="NL-OUE-C00000001"
    )
    Token.objects.filter(pk=token.pk).update(updated_at=T0)
    conn = _peer_connection(extrawest_peer, tenant)
    assert roaming_api.tokens_push_all(tenant_id=tenant.pk, connection_id=conn.pk) == 1
    assert push.push_drain(connection_id=conn.pk) == 1
    [row] = OcpiPush.objects.filter(connection=conn)
    assert (row.status, row.method, row.path, row.last_error) == (
        "SENT",
        "PUT",
        "NL/OUE/04A1B2C3D4?type=RFID",
        "",
    )
    sent = transport.loads(row.body)
    validate(sent, "2.2.1", "token")
    put = OcpiExchange.objects.filter(connection=conn, method="PUT").get()
    assert put.url == extrawest_peer.module_url("tokens") + "NL/OUE/04A1B2C3D4?type=RFID"
    assert put.http_status == 200
    assert put.request_headers["OCPI-from-party-id"] == "OUE"
    assert put.request_headers["OCPI-to-party-id"] == "EXW"

    # Its own interface: GET tokens/{cc}/{pid}/{uid} answers what it stored. Quirk: every
    # CiString lower-cased (the contract id too), a one-item list, optional fields as null.
    got = client.call(
        connection=conn,
        method="GET",
        url=extrawest_peer.module_url("tokens") + "NL/OUE/04A1B2C3D4",
        module="tokens",
    )
    lowered = {
        **sent,
        "country_code": "nl",
        "party_id": "oue",
        "uid": "04a1b2c3d4",
        "contract_id": "nl-oue-c00000001",
    }
    assert isinstance(got.data, list) and len(got.data) == 1
    assert _without_nulls(got.data[0]) == lowered
    assert extrawest_peer.state()["tokens"] == {"nl/oue/04a1b2c3d4": got.data[0]}

    # A new version (blocked): owed once more, sent, and the peer's copy is replaced.
    Token.objects.filter(pk=token.pk).update(valid=False, updated_at=T0 + timedelta(hours=1))
    assert roaming_api.tokens_push_all(tenant_id=tenant.pk, connection_id=conn.pk) == 1
    assert roaming_api.tokens_push_all(tenant_id=tenant.pk, connection_id=conn.pk) == 0
    assert push.push_drain(connection_id=conn.pk) == 1
    stored = extrawest_peer.state()["tokens"]
    assert list(stored) == ["nl/oue/04a1b2c3d4"]
    assert (stored["nl/oue/04a1b2c3d4"]["valid"], stored["nl/oue/04a1b2c3d4"]["last_updated"]) == (
        False,
        "2026-12-07T13:00:00Z",
    )
    assert OcpiPush.objects.filter(connection=conn, status="SENT").count() == 2


def test_its_session_and_cdr_are_pulled_stored_flagged_and_billed(
    extrawest_peer: PeerProcess,  # noqa: F811
) -> None:
    """emsp_pull against its sessions and CDRs senders (after its locations: the CDR's
    location gives the time zone to re-price in). Its quirks are absorbed on our side:
    lower-cased ids (keys upper-cased), nulls for optional fields (read as absent), the
    malformed Link (not followed), and its CDR without `cdr_location.evse_uid` (stored,
    flagged, billed all the same)."""
    tenant = OperatorFactory()
    EmspFactory(tenant=tenant, country_code="NL", party_id="OUE")
    partner = PartyFactory(
        tenant=tenant,
        kind="PARTNER",
        role="CPO",
        country_code="NL",
        party_id="EXW",
        vat_rate=Decimal("21"),
    )
    conn = _peer_connection(extrawest_peer, tenant)
    reports = [
        emsp_pull.pull_module(connection_id=conn.pk, module=m, now=T0)
        for m in ("locations", "sessions", "cdrs")
    ]
    assert [(r.module, r.stored, r.refused, r.error) for r in reports] == [
        ("locations", 7, 0, ""),
        ("sessions", 1, 0, ""),
        ("cdrs", 1, 0, ""),
    ]
    session = ForeignObject.objects.get(connection=conn, module="sessions")
    assert (session.country_code, session.party_id, session.object_id) == ("NL", "EXW", "SES-1")
    assert session.flags == []  # nulls for optional fields are no missing field
    assert session.data["id"] == "ses-1" and session.data["location_id"] == "loc-001"
    assert (session.data["kwh"], session.data["status"]) == (Decimal("41.12"), "COMPLETED")
    assert session.last_updated == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    cdr = ForeignCdr.objects.get(connection=conn)
    assert (cdr.country_code, cdr.party_id, cdr.cdr_id) == ("NL", "EXW", "CDR-1")
    assert cdr.flags == [
        {"rule": "missing_field", "detail": "$.cdr_location.evse_uid is required"},
        {
            "rule": "totals_do_not_add_up",
            "detail": "total_energy 15.342 kWh but the charging periods' ENERGY adds up to 0 kWh",
        },
        {"rule": "repricing_difference", "detail": "total_energy.volume: theirs 15.342, ours 0"},
    ]
    # Re-priced with the tariff embedded in it (2.00/h, 5-minute steps) in LOC-001's time
    # zone: 1.973 h -> 4.00, as the peer says.
    assert (cdr.total_cost_excl_vat, cdr.repriced_excl_vat, cdr.difference_excl_vat) == (
        Decimal("4.0000"),
        Decimal("4.0000"),
        Decimal("0.0000"),
    )
    [billed] = Cdr.objects.filter(tenant_id=tenant.pk)
    assert (billed.party_id, billed.ocpi_id, billed.currency) == (partner.pk, "cdr-1", "EUR")
    assert (billed.total_cost_excl_vat, billed.total_cost_incl_vat) == (
        Decimal("4.0000"),
        Decimal("4.4000"),
    )
    assert billed.annotations["roaming"]["foreign_cdr"] == cdr.pk

    # Pulled again (the cursor's window still holds them): nothing stored twice.
    again = emsp_pull.pull_module(connection_id=conn.pk, module="cdrs", now=T0, full=True)
    assert (again.stored, again.error) == (1, "")
    assert ForeignCdr.objects.filter(connection=conn).count() == 1
    assert Cdr.objects.filter(tenant_id=tenant.pk).count() == 1
    assert ForeignCdr.objects.get(connection=conn).flags == cdr.flags  # no `duplicate`


def _peer_push(peer: PeerProcess, module: str, object_id: str, details_url: str, token: str) -> Any:
    """The library's own push (its `POST /push/2.2.1`, authorized with a token C): it GETs
    the receiver's version details with `token` and PUTs / POSTs the object there."""
    body = {
        "module_id": module,
        "object_id": object_id,
        "receivers": [{"endpoints_url": details_url, "auth_token": token}],
    }
    req = urllib.request.Request(
        f"{peer.base_url}/push/2.2.1",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Token " + base64.b64encode(peer.token_c.encode()).decode(),
        },
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200
        [answer] = json.loads(r.read())["receiver_responses"]
    return answer


@pytest.mark.django_db(transaction=True)
def test_it_pushes_its_location_session_and_cdr_to_our_receivers(
    extrawest_peer: PeerProcess,  # noqa: F811
    live_server: Any,
    settings: Any,
) -> None:
    """The peer delivers by its own push mechanism to our live server: a location, its
    session (to the path it glues to our listed URL without a "/": served all the same) and
    its CDR (POST, answered 201 with our Location; again: 200, stored once)."""
    settings.OCPI_BASE_URL = live_server.url
    tenant = OperatorFactory()
    EmspFactory(tenant=tenant, country_code="NL", party_id="OUE")
    partner = PartyFactory(
        tenant=tenant,
        kind="PARTNER",
        role="CPO",
        country_code="NL",
        party_id="EXW",
        vat_rate=Decimal("21"),
    )
    token_b = f"our-token-b-for-extrawest-{tenant.pk}"
    conn = registered_connection(
        tenant,
        name="extrawest",
        versions_url=extrawest_peer.versions_url,
        their_token=extrawest_peer.token_c,
        our_token=token_b,
        roles=(("CPO", extrawest_peer.country_code, extrawest_peer.party_id),),
    )
    details = f"{live_server.url}/ocpi/2.2.1/"
    base = f"{live_server.url}/ocpi/2.2.1/emsp"

    answer = _peer_push(extrawest_peer, "locations", "LOC-001", details, token_b)
    assert (answer["status_code"], answer["response"]["status_code"]) == (200, 1000)
    answer = _peer_push(extrawest_peer, "sessions", "SES-1", details, token_b)
    assert (answer["status_code"], answer["response"]["status_code"]) == (200, 1000)
    answer = _peer_push(extrawest_peer, "cdrs", "CDR-1", details, token_b)
    assert answer["status_code"] == 201
    cdr = ForeignCdr.objects.get(connection=conn)
    assert answer["response"]["location"] == f"{base}/cdrs/{cdr.pk}"

    rows = list(OcpiExchange.objects.filter(connection=conn).order_by("id"))
    writes = [(r.method, r.url, r.http_status) for r in rows if r.method != "GET"]
    # Quirk: the object path glued to our listed URL (`…/emsp/locations`) without a "/".
    assert writes == [
        ("PUT", f"{base}/locationsNL/EXW/LOC-001", 200),
        ("PUT", f"{base}/sessionsNL/EXW/SES-1", 200),
        ("POST", f"{base}/cdrs", 201),
    ]
    # Before each push it read our version details, with our token B (Base64): the push
    # needs nothing but the receiver's details URL and token.
    assert [r.url for r in rows if r.method == "GET"] == [details] * 3
    assert not any(k.lower().startswith("ocpi-") for r in rows for k in r.request_headers)

    location = ForeignObject.objects.get(connection=conn, module="locations")
    assert (location.object_id, location.flags) == ("LOC-001", [])
    session = ForeignObject.objects.get(connection=conn, module="sessions")
    assert (session.country_code, session.party_id, session.object_id) == ("NL", "EXW", "SES-1")
    assert session.flags == []
    assert (session.data["kwh"], session.data["status"]) == (Decimal("41.12"), "COMPLETED")
    assert session.last_updated == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    assert (cdr.country_code, cdr.party_id, cdr.cdr_id) == ("NL", "EXW", "CDR-1")
    assert [f["rule"] for f in cdr.flags] == [
        "missing_field",  # $.cdr_location.evse_uid
        "totals_do_not_add_up",
        "repricing_difference",
    ]
    assert (cdr.repriced_excl_vat, cdr.difference_excl_vat) == (Decimal("4.0000"), Decimal(0))
    [billed] = Cdr.objects.filter(tenant_id=tenant.pk)
    assert (billed.party_id, billed.total_cost_excl_vat) == (partner.pk, Decimal("4.0000"))

    # The same CDR pushed again: answered 200, nothing stored or billed twice.
    assert _peer_push(extrawest_peer, "cdrs", "CDR-1", details, token_b)["status_code"] == 200
    assert ForeignCdr.objects.filter(connection=conn).count() == 1
    assert Cdr.objects.filter(tenant_id=tenant.pk).count() == 1
