"""The hub double itself follows the spec where other areas rely on it: its configuration
answers validate against the schema set, the credentials handshake keeps tokens A / C
apart (405 / 401 where the spec says), and its ClientInfo list is well-formed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.roaming import client
from apps.roaming.models import OcpiConnection
from tests.factories import OperatorFactory
from tests.roaming.hub_double import HubDouble
from tests.roaming.peers.world import registered_connection
from tests.roaming.schemas import validate

pytestmark = pytest.mark.django_db

OUR_CREDENTIALS = {
    "token": "our-token-b-0123456789",
    "url": "http://127.0.0.1:9/ocpi/versions",
    "roles": [
        {
            "role": "CPO",
            "party_id": "OUR",
            "country_code": "NL",
            "business_details": {"name": "Our platform"},
        }
    ],
}


@pytest.fixture
def hub() -> Iterator[HubDouble]:
    h = HubDouble().start()
    yield h
    h.stop()


@pytest.fixture
def conn(hub: HubDouble) -> OcpiConnection:
    return registered_connection(
        OperatorFactory(),
        name="hub",
        versions_url=hub.versions_url,
        their_token=hub.token_a,
        version="2.2.1",
        status="PENDING",
    )


def _credentials(conn: OcpiConnection, hub: HubDouble, method: str, token: str) -> client.OcpiReply:
    return client.call(
        connection=conn,
        method=method,
        url=hub.module_url("credentials"),
        module="credentials",
        body=OUR_CREDENTIALS if method in ("POST", "PUT") else None,
        token=token,
    )


def _refused(conn: OcpiConnection, hub: HubDouble, method: str, token: str) -> int | None:
    with pytest.raises(client.OcpiCallFailed) as failed:
        _credentials(conn, hub, method, token)
    return failed.value.http_status


def test_configuration_answers_validate(conn: OcpiConnection, hub: HubDouble) -> None:
    versions = client.call(connection=conn, method="GET", url=hub.versions_url, module="versions")
    validate(versions.data, "2.2.1", "versions")
    details = client.call(
        connection=conn, method="GET", url=versions.data[0]["url"], module="versions"
    )
    validate(details.data, "2.2.1", "version_details")
    listed = {(e["identifier"], e["role"]) for e in details.data["endpoints"]}
    assert ("hubclientinfo", "SENDER") in listed and ("credentials", "RECEIVER") in listed
    assert all(r.token_base64 and r.token == hub.token_a for r in hub.requests)


def test_the_credentials_handshake_keeps_tokens_apart(conn: OcpiConnection, hub: HubDouble) -> None:
    token_a = hub.token_a
    validate(OUR_CREDENTIALS, "2.2.1", "credentials")
    assert _refused(conn, hub, "PUT", token_a) == 405  # not registered yet
    reply = _credentials(conn, hub, "POST", token_a)
    validate(reply.data, "2.2.1", "credentials")
    token_c = reply.data["token"]
    assert reply.data["roles"] == [
        {
            "role": "HUB",
            "party_id": "HUB",
            "country_code": "NL",
            "business_details": {"name": "Hub double"},
        }
    ]
    assert hub.client_token == OUR_CREDENTIALS["token"]
    assert (hub.token_a, hub.tokens_c) == ("", {token_c})
    assert _refused(conn, hub, "POST", token_c) == 405  # already registered
    assert _refused(conn, hub, "GET", token_a) == 401  # A is used up
    assert _credentials(conn, hub, "GET", token_c).data["token"] == token_c
    rotated = _credentials(conn, hub, "PUT", token_c).data["token"]
    assert rotated != token_c and hub.tokens_c == {rotated}
    assert _refused(conn, hub, "GET", token_c) == 401  # the old C no longer works
    _credentials(conn, hub, "DELETE", rotated)
    assert hub.tokens_c == set()
    assert _refused(conn, hub, "DELETE", rotated) == 401


def test_client_info_list_and_routing_checks(conn: OcpiConnection, hub: HubDouble) -> None:
    hub.accept_token("c")
    hub.set_party_status("DE", "AAA", "OFFLINE")
    infos = client.call(
        connection=conn,
        method="GET",
        url=hub.module_url("hubclientinfo"),
        module="hubclientinfo",
        token="c",
    ).data
    for info in infos:
        validate(info, "2.2.1", "client_info")
    assert [(i["country_code"], i["party_id"], i["status"]) for i in infos] == [
        ("DE", "AAA", "OFFLINE"),
        ("FR", "BBB", "CONNECTED"),
        ("BE", "MSP", "CONNECTED"),
    ]
    with pytest.raises(client.OcpiCallFailed) as failed:
        client.call(
            connection=conn,
            method="GET",
            url=hub.module_url("locations"),
            module="locations",
            token="c",  # no parties given: no routing headers
        )
    assert (failed.value.http_status, failed.value.ocpi_status) == (200, 2001)
    assert hub.violations == [
        "GET /ocpi/2.2.1/locations: missing ocpi-from-country-code, ocpi-from-party-id, "
        "ocpi-to-country-code, ocpi-to-party-id"
    ]
