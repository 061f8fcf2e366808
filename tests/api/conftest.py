"""Fixtures of the REST API tests: two tenants with one of everything, and keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.common.contracts import Actor
from apps.customers import api as customers_api
from apps.integrations import api as integrations_api
from apps.integrations.contracts import ALL_SCOPES
from apps.invoicing import api as invoicing_api
from apps.invoicing.models import BillingRun
from apps.parties.models import Operator, Party
from apps.rating import api as rating_api
from apps.rating.contracts import BillingRuleTerms
from apps.roaming.models import OcpiConnection
from apps.tariffs.contracts import BillingEngine
from tests.factories import (
    SIMPLE_OCPI_TARIFF,
    T0,
    CdrFactory,
    ChargingSessionFactory,
    ConnectorFactory,
    ContractFactory,
    CustomerFactory,
    EmspFactory,
    OperatorFactory,
    PartyFactory,
    TariffAssignmentFactory,
    TariffCodeFactory,
    TariffFactory,
    TariffVersionFactory,
    TokenFactory,
)
from tests.invoicing.documents_world import draft
from tests.invoicing.files_world import L, finalized

SETUP = Actor.system("test setup")


@dataclass
class World:
    """One tenant's objects, by the path parameter names of the API's routes."""

    tenant: Operator
    cpo: Party
    emsp: Party
    key: str
    ids: dict[str, Any]

    def client(self, key: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key or self.key}")
        return client


def build_world(slug: str, party_code: str) -> World:
    tenant = OperatorFactory(slug=slug)
    cpo = PartyFactory(tenant=tenant, party_id=party_code, role="CPO")
    emsp = EmspFactory(tenant=tenant, party_id=party_code)
    connector = ConnectorFactory(
        tenant=tenant,
        evse__tenant=tenant,
        evse__charge_station__tenant=tenant,
        evse__charge_station__location__party=cpo,
        evse__charge_station__location__tenant=tenant,
    )
    evse = connector.evse
    station = evse.charge_station
    token = TokenFactory(party=emsp, tenant=tenant)
    contract = ContractFactory(
        tenant=tenant, customer__party=emsp, customer__tenant=tenant, token=token
    )
    tariff = TariffFactory(party=cpo, tenant=tenant)
    TariffVersionFactory(
        tariff=tariff,
        tenant=tenant,
        version=1,
        ocpi={**SIMPLE_OCPI_TARIFF, "party_id": party_code, "id": tariff.ocpi_id},
    )
    code = TariffCodeFactory(tariff=tariff, tenant=tenant)
    TariffAssignmentFactory(charge_station=station, tenant=tenant, tariff_code=code)
    session = ChargingSessionFactory(connector=connector, tenant=tenant, token=token)
    cdr = CdrFactory(session=session, tenant=tenant, party=cpo)
    CustomerFactory(party=emsp, tenant=tenant)
    rule = rating_api.billing_rule_create(
        tenant_id=tenant.pk,
        engine=BillingEngine.WHOLESALE,
        name="Every session",
        terms=BillingRuleTerms(tariff_id=tariff.pk),
        effective_from=T0,
        actor=SETUP,
        now=T0,
    )
    # Billing (issue 17, area "cust"): a package, a group, a CPO contract, a payee.
    package = customers_api.retail_package_create(tenant_id=tenant.pk, name="Flex", actor=SETUP)
    group = customers_api.user_group_create(tenant_id=tenant.pk, name="Fleet", actor=SETUP)
    cpo_contract = rating_api.cpo_contract_create(
        tenant_id=tenant.pk,
        country_code=cpo.country_code,
        party_id=cpo.party_id,
        reference=f"CPO-{party_code}",
        effective_from=T0,
        terms={"vat_rate": "21"},
        actor=SETUP,
    )
    payee = rating_api.payee_create(
        tenant_id=tenant.pk, values={"kind": "HOME", "name": "Owner"}, actor=SETUP
    )
    # Invoicing (issue 18, area "docs"): a draft invoice, written with the ORM.
    draft_document = draft(tenant, period_end=None)  # area "docs": finalize, discard
    # One roaming eMSP both tenants know as a partner (ADR 0027).
    partner = EmspFactory(
        tenant=tenant, country_code="DE", party_id="RMG", name="Roaming GmbH", kind="PARTNER"
    )
    # Invoicing (issue 18, area "files"): a finalized invoice with one line.
    document = finalized(tenant, [L("10.00")], number=f"INV-{party_code}-000001")
    # Finance (issue 18, area "finance"): an exclusion and a posted (empty) export batch.
    exclusion = invoicing_api.finance_exclusion_add(
        tenant_id=tenant.pk, actor=SETUP, kind="ACCOUNT", value="9999", reason="suspense"
    )
    export = invoicing_api.export_batch_post(
        tenant_id=tenant.pk,
        period_start=datetime(2020, 1, 1, tzinfo=UTC),
        period_end=datetime(2020, 2, 1, tzinfo=UTC),
        actor=SETUP,
    )
    assert export.batch is not None
    # Invoicing (issue 18, area "runs"): a billing run, written with the ORM (no task).
    run = BillingRun.objects.create(
        tenant=tenant,
        frequency="MONTHLY",
        period_start=datetime(2026, 1, 31, 23, 0, tzinfo=UTC),
        period_end=datetime(2026, 2, 28, 23, 0, tzinfo=UTC),
        trigger="MANUAL",
    )
    sub_id, _ = integrations_api.webhook_subscription_create(
        tenant_id=tenant.pk, url="http://127.0.0.1:9/hook", events=["cdr.created"], actor=SETUP
    )
    _, key = integrations_api.api_key_create(
        tenant_id=tenant.pk,
        name=f"{slug} key",
        scopes=["*:read", "*:write"],
        actor=Actor.system("tests"),
    )
    # roaming (issue 19, area "emsp"): an OCPI connection of this tenant
    connection = OcpiConnection.objects.create(
        tenant=tenant,
        name=f"{slug} CPO partner",
        versions_url="http://127.0.0.1:9/ocpi/versions",
        version="2.2.1",
        status="REGISTERED",
        initiator="US",
    )
    return World(
        tenant=tenant,
        cpo=cpo,
        emsp=emsp,
        key=key,
        ids={
            "token_id": token.pk,
            "customer_id": contract.customer_id,
            "contract_id": contract.pk,
            "location_id": station.location_id,
            "evse_uid": evse.uid,
            "station_id": station.pk,
            "tariff_id": tariff.pk,
            "session_id": session.pk,
            "cdr_id": cdr.pk,
            "webhook_id": sub_id,
            "partner_id": partner.pk,
            "country_code": emsp.country_code,
            "party_id": emsp.party_id,
            "uid": token.uid,
            "rule_id": rule.id,
            "package_id": package.id,
            "group_id": group.id,
            "cpo_contract_id": cpo_contract.id,
            "payee_id": payee.id,
            "document_id": draft_document.pk,
            "finalized_document_id": document.pk,
            "exclusion_id": exclusion.id,
            "batch_id": export.batch.id,
            "kind": "JOURNAL_CSV",
            "run_id": run.pk,
            "connection_id": connection.pk,
        },
    )


@pytest.fixture(autouse=True)
def _clear_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def world_a(db: None) -> World:
    return build_world("tenant-a", "AAA")


@pytest.fixture
def world_b(db: None) -> World:
    return build_world("tenant-b", "BBB")


@pytest.fixture
def client_a(world_a: World) -> APIClient:
    return world_a.client()


def key_with(tenant_id: int, *scopes: str, rate: int | None = None) -> str:
    _, key = integrations_api.api_key_create(
        tenant_id=tenant_id,
        name="test",
        scopes=scopes or ALL_SCOPES,
        rate_limit_per_minute=rate,
        actor=Actor.system("tests"),
    )
    return key
