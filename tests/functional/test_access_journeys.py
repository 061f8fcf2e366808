"""Access control over real websockets (ADR 0015): Authorize and the start of a transaction
at a restricted station and at an open one of the same tenant, in OCPP 1.6 and 2.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.charging.models import OcppEvent
from apps.locations import api as locations_api
from apps.tokens import api as tokens_api
from tests.conftest import RunningGateway
from tests.factories import ChargeStationFactory, EmspFactory, PartyFactory, TokenFactory
from tests.journey_fixtures import z
from tests.ocpp_client import OcppClient, basic, open_station


@pytest.fixture
def sites(transactional_db: None) -> dict[str, Any]:
    """Tenant A: a depot in the charge-port group "Depot" (EMAID group "Staff" assigned) and
    a public station in no group. Tenant B: the only token with uid ONLY-B."""
    cpo = PartyFactory()
    a = cpo.tenant_id
    emsp = EmspFactory(tenant_id=a)
    staff = TokenFactory(party=emsp, uid="STAFF")
    TokenFactory(party=emsp, uid="VISITOR")
    TokenFactory(uid="ONLY-B")
    depot = ChargeStationFactory(location__party=cpo)
    public = ChargeStationFactory(location__party=cpo)
    cpg = tokens_api.charge_port_group_create(tenant_id=a, name="Depot")
    emg = tokens_api.emaid_group_create(tenant_id=a, name="Staff")
    tokens_api.charge_port_group_stations_add(tenant_id=a, group_id=cpg, station_ids=[depot.pk])
    tokens_api.emaid_group_tokens_add(tenant_id=a, group_id=emg, token_ids=[staff.pk])
    tokens_api.emaid_group_charge_port_groups_assign(
        tenant_id=a, group_id=emg, charge_port_group_ids=[cpg]
    )
    return {
        name: (st, locations_api.charge_station_reset_password(station_id=st.pk))
        for name, st in (("depot", depot), ("public", public))
    }


def _connect(gw: RunningGateway, site: tuple[Any, str], protocol: str) -> Any:
    st, password = site
    return open_station(
        gw.ws_url + st.identity, protocol=protocol, headers=basic(st.identity, password)
    )


def test_ocpp16_authorize_and_start_follow_the_groups_per_station(
    gateway: RunningGateway, sites: dict[str, Any]
) -> None:
    async def authorize(c: OcppClient, uid: str) -> str:
        return str((await c.call("Authorize", {"idTag": uid}))["idTagInfo"]["status"])

    async def run() -> dict[str, Any]:
        async with (
            _connect(gateway, sites["depot"], "ocpp1.6") as d,
            _connect(gateway, sites["public"], "ocpp1.6") as p,
        ):
            depot, public = OcppClient(d), OcppClient(p)
            answers = {
                "depot STAFF": await authorize(depot, "STAFF"),
                "depot VISITOR": await authorize(depot, "VISITOR"),
                "depot ONLY-B": await authorize(depot, "ONLY-B"),
                # Same uid, right after the depot's answer was cached: the cache is per station.
                "public VISITOR": await authorize(public, "VISITOR"),
                "public ONLY-B": await authorize(public, "ONLY-B"),
            }
            # A start the depot did not wait for (offline authorisation): stored, answered
            # with a transaction id, and the idTagInfo is the depot's decision.
            start = await depot.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "VISITOR",
                    "meterStart": 0,
                    "timestamp": z(datetime.now(UTC)),
                },
            )
            answers["depot start VISITOR"] = start
            return answers

    answers = asyncio.run(run())
    start = answers.pop("depot start VISITOR")
    assert answers == {
        "depot STAFF": "Accepted",
        "depot VISITOR": "Invalid",  # 1.6 has no NotAtThisLocation
        "depot ONLY-B": "Invalid",  # tenant B's token: unknown here
        "public VISITOR": "Accepted",
        "public ONLY-B": "Invalid",
    }
    assert start["idTagInfo"] == {"status": "Invalid"}
    assert isinstance(start["transactionId"], int) and start["transactionId"] > 0
    stored = OcppEvent.objects.filter(
        charge_station=sites["depot"][0], action="StartTransaction"
    ).values_list("id_tag", "ocpp_transaction_id")
    assert list(stored) == [("VISITOR", str(start["transactionId"]))]


def test_ocpp201_authorize_and_transaction_started_follow_the_groups_per_station(
    gateway: RunningGateway, sites: dict[str, Any]
) -> None:
    async def authorize(c: OcppClient, uid: str) -> str:
        answer = await c.call("Authorize", {"idToken": {"idToken": uid, "type": "ISO14443"}})
        return str(answer["idTokenInfo"]["status"])

    async def run() -> dict[str, Any]:
        async with (
            _connect(gateway, sites["depot"], "ocpp2.0.1") as d,
            _connect(gateway, sites["public"], "ocpp2.0.1") as p,
        ):
            depot, public = OcppClient(d), OcppClient(p)
            answers: dict[str, Any] = {
                "depot STAFF": await authorize(depot, "STAFF"),
                "depot VISITOR": await authorize(depot, "VISITOR"),
                "depot ONLY-B": await authorize(depot, "ONLY-B"),
                "public VISITOR": await authorize(public, "VISITOR"),
                "public ONLY-B": await authorize(public, "ONLY-B"),
            }
            answers["depot started VISITOR"] = await depot.call(
                "TransactionEvent",
                {
                    "eventType": "Started",
                    "timestamp": z(datetime.now(UTC)),
                    "triggerReason": "Authorized",
                    "seqNo": 0,
                    "transactionInfo": {"transactionId": "TX-DEPOT-1"},
                    "evse": {"id": 1, "connectorId": 1},
                    "idToken": {"idToken": "VISITOR", "type": "ISO14443"},
                },
            )
            return answers

    answers = asyncio.run(run())
    started = answers.pop("depot started VISITOR")
    assert answers == {
        "depot STAFF": "Accepted",
        "depot VISITOR": "NotAtThisLocation",
        "depot ONLY-B": "Unknown",
        "public VISITOR": "Accepted",
        "public ONLY-B": "Unknown",
    }
    assert started == {"idTokenInfo": {"status": "NotAtThisLocation"}}
    stored = OcppEvent.objects.filter(charge_station=sites["depot"][0]).values_list(
        "action", "ocpp_transaction_id", "id_tag"
    )
    assert list(stored) == [("TransactionEvent", "TX-DEPOT-1", "VISITOR")]
