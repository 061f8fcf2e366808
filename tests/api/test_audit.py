"""Every write through the REST API leaves exactly one audit entry naming the API key (issue
15 item 3): the services write it, with the actor the interface passes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from apps.common.contracts import Actor
from apps.integrations.models import ApiKey
from apps.invoicing import api as invoicing_api
from apps.parties.models import AuditEntry
from tests.api.conftest import World
from tests.api.test_fast_path import call
from tests.factories import SIMPLE_OCPI_TARIFF, PartyFactory
from tests.relay_fixtures import Relay

pytestmark = pytest.mark.django_db

CONNECTOR = {
    "id": "1",
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
}


def _token(w: World) -> dict[str, Any]:
    return {
        "country_code": w.emsp.country_code,
        "party_id": w.emsp.party_id,
        "uid": "AUDIT-1",
        "type": "RFID",
        "contract_id": "NL-AAA-C9",
        "issuer": "Audit",
    }


def _tariff(w: World) -> dict[str, Any]:
    return {**SIMPLE_OCPI_TARIFF, "party_id": w.cpo.party_id, "id": "T-AUDIT"}


# (operation as the schema names it, request, expected action, object type)
Write = tuple[str, Callable[[World], tuple[str, str, Any]], str, str]
WRITES: list[Write] = [
    (
        "POST /api/v1/tokens",
        lambda w: ("post", "/api/v1/tokens", _token(w)),
        "token.create",
        "token",
    ),
    (
        "PATCH /api/v1/tokens/{token_id}",
        lambda w: ("patch", f"/api/v1/tokens/{w.ids['token_id']}", {"issuer": "new"}),
        "token.update",
        "token",
    ),
    (
        "PUT /api/v1/tokens/{country_code}/{party_id}/{uid}",
        lambda w: (
            "put",
            f"/api/v1/tokens/{w.emsp.country_code}/{w.emsp.party_id}/AUDIT-2",
            {"contract_id": "NL-AAA-C8", "issuer": "Audit"},
        ),
        "token.create",
        "token",
    ),
    (
        "POST /api/v1/tokens/{token_id}/block",
        lambda w: ("post", f"/api/v1/tokens/{w.ids['token_id']}/block", None),
        "token.block",
        "token",
    ),
    (
        "POST /api/v1/tokens/{token_id}/unblock",
        lambda w: ("post", f"/api/v1/tokens/{w.ids['token_id']}/unblock", None),
        "token.unblock",
        "token",
    ),
    (
        "POST /api/v1/tokens/bulk",
        lambda w: (
            "post",
            "/api/v1/tokens/bulk",
            {"items": [_token(w), {**_token(w), "uid": "B2"}]},
        ),
        "token.bulk_upsert",
        "token",
    ),
    (
        "POST /api/v1/customers",
        lambda w: (
            "post",
            "/api/v1/customers",
            {
                "country_code": w.emsp.country_code,
                "party_id": w.emsp.party_id,
                "kind": "person",
                "name": "Ann",
            },
        ),
        "customer.create",
        "customer",
    ),
    (
        "PATCH /api/v1/customers/{customer_id}",
        lambda w: ("patch", f"/api/v1/customers/{w.ids['customer_id']}", {"name": "Bob"}),
        "customer.update",
        "customer",
    ),
    (
        "POST /api/v1/partners",
        lambda w: (
            "post",
            "/api/v1/partners",
            {"role": "CPO", "country_code": "FR", "party_id": "PRT", "name": "Partner CPO"},
        ),
        "partner.create",
        "party",
    ),
    (
        "PATCH /api/v1/partners/{partner_id}",
        lambda w: ("patch", f"/api/v1/partners/{w.ids['partner_id']}", {"name": "Renamed"}),
        "partner.update",
        "party",
    ),
    (
        "POST /api/v1/contracts",
        lambda w: (
            "post",
            "/api/v1/contracts",
            {
                "customer_id": w.ids["customer_id"],
                "token_id": w.ids["token_id"],
                "reference": "C-AUDIT",
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": "2026-02-01T00:00:00Z",  # before the token's contract
            },
        ),
        "contract.create",
        "contract",
    ),
    (
        "PATCH /api/v1/contracts/{contract_id}",
        lambda w: (
            "patch",
            f"/api/v1/contracts/{w.ids['contract_id']}",
            {"valid_until": "2100-01-01T00:00:00Z"},
        ),
        "contract.version_add",
        "contract",
    ),
    (
        "POST /api/v1/retail-packages",
        lambda w: ("post", "/api/v1/retail-packages", {"name": "Audit"}),
        "retail_package.create",
        "retail_package",
    ),
    (
        "PATCH /api/v1/retail-packages/{package_id}",
        lambda w: ("patch", f"/api/v1/retail-packages/{w.ids['package_id']}", {"name": "R"}),
        "retail_package.rename",
        "retail_package",
    ),
    (
        "POST /api/v1/user-groups",
        lambda w: ("post", "/api/v1/user-groups", {"name": "Audit"}),
        "user_group.create",
        "user_group",
    ),
    (
        "PATCH /api/v1/user-groups/{group_id}",
        lambda w: ("patch", f"/api/v1/user-groups/{w.ids['group_id']}", {"name": "R"}),
        "user_group.rename",
        "user_group",
    ),
    (
        "POST /api/v1/cpo-contracts",
        lambda w: (
            "post",
            "/api/v1/cpo-contracts",
            {
                "country_code": "NL",
                "party_id": _other_cpo(w),
                "reference": "AUDIT",
                "effective_from": "2026-01-01T00:00:00Z",
            },
        ),
        "cpo_contract.create",
        "cpo_contract",
    ),
    (
        "POST /api/v1/cpo-contracts/{cpo_contract_id}/versions",
        lambda w: (
            "post",
            f"/api/v1/cpo-contracts/{w.ids['cpo_contract_id']}/versions",
            {"vat_rate": 9},
        ),
        "cpo_contract.version_add",
        "cpo_contract",
    ),
    (
        "POST /api/v1/payees",
        lambda w: ("post", "/api/v1/payees", {"kind": "WORKPLACE", "name": "Audit"}),
        "payee.create",
        "payee",
    ),
    (
        "PATCH /api/v1/payees/{payee_id}",
        lambda w: ("patch", f"/api/v1/payees/{w.ids['payee_id']}", {"name": "R"}),
        "payee.update",
        "payee",
    ),
    (
        "PUT /api/v1/charge-stations/{station_id}/payee",
        lambda w: (
            "put",
            f"/api/v1/charge-stations/{w.ids['station_id']}/payee",
            {"payee_id": w.ids["payee_id"]},
        ),
        "payee.assign",
        "charge_station",
    ),
    (
        "POST /api/v1/hcc-flags",
        lambda w: (
            "post",
            "/api/v1/hcc-flags",
            {"items": [{"charge_station": w.ids["station_id"], "hcc": "HCC_E"}]},
        ),
        "charge_station.hcc_set",
        "charge_station",
    ),
    (
        "POST /api/v1/locations",
        lambda w: (
            "post",
            "/api/v1/locations",
            {
                "country_code": w.cpo.country_code,
                "party_id": w.cpo.party_id,
                "id": "LOC-AUDIT",
                "address": "Main 1",
                "city": "Utrecht",
                "country": "NLD",
                "coordinates": {"latitude": "52.090000", "longitude": "5.120000"},
                "time_zone": "Europe/Amsterdam",
            },
        ),
        "location.create",
        "location",
    ),
    (
        "PATCH /api/v1/locations/{location_id}",
        lambda w: ("patch", f"/api/v1/locations/{w.ids['location_id']}", {"name": "Renamed"}),
        "location.update",
        "location",
    ),
    (
        "PUT /api/v1/locations/{location_id}/evses/{evse_uid}",
        lambda w: (
            "put",
            f"/api/v1/locations/{w.ids['location_id']}/evses/E-AUDIT",
            {"connectors": [CONNECTOR]},
        ),
        "evse.create",
        "evse",
    ),
    (
        "POST /api/v1/charge-stations",
        lambda w: ("post", "/api/v1/charge-stations", {"identity": "AUDIT-CS"}),
        "station.create",
        "charge_station",
    ),
    (
        "PATCH /api/v1/charge-stations/{station_id}",
        lambda w: ("patch", f"/api/v1/charge-stations/{w.ids['station_id']}", {"vendor": "V"}),
        "station.update",
        "charge_station",
    ),
    (
        "POST /api/v1/charge-stations/{station_id}/password",
        lambda w: ("post", f"/api/v1/charge-stations/{w.ids['station_id']}/password", None),
        "station.password_reset",
        "charge_station",
    ),
    (
        "POST /api/v1/tariffs",
        lambda w: ("post", "/api/v1/tariffs", _tariff(w)),
        "tariff.create",
        "tariff",
    ),
    (
        "POST /api/v1/tariffs/{tariff_id}/versions",
        lambda w: ("post", f"/api/v1/tariffs/{w.ids['tariff_id']}/versions", _tariff(w)),
        "tariff.version_add",
        "tariff",
    ),
    (
        "POST /api/v1/tariff-codes",
        lambda w: (
            "post",
            "/api/v1/tariff-codes",
            {"code": "AUDIT", "tariff_id": w.ids["tariff_id"]},
        ),
        "tariff_code.create",
        "tariff_code",
    ),
    (
        "POST /api/v1/tariff-assignments",
        lambda w: (
            "post",
            "/api/v1/tariff-assignments",
            {"charge_station_id": w.ids["station_id"], "tariff_code": _code(w)},
        ),
        "tariff.assign",
        "charge_station",
    ),
    (
        "POST /api/v1/webhooks",
        lambda w: (
            "post",
            "/api/v1/webhooks",
            {"url": "https://crm.example/hook", "events": ["cdr.created"]},
        ),
        "webhook.create",
        "webhook",
    ),
    (
        "PATCH /api/v1/webhooks/{webhook_id}",
        lambda w: ("patch", f"/api/v1/webhooks/{w.ids['webhook_id']}", {"description": "d"}),
        "webhook.update",
        "webhook",
    ),
    (
        "DELETE /api/v1/webhooks/{webhook_id}",
        lambda w: ("delete", f"/api/v1/webhooks/{w.ids['webhook_id']}", None),
        "webhook.delete",
        "webhook",
    ),
    (
        "POST /api/v1/webhooks/{webhook_id}/test",
        lambda w: ("post", f"/api/v1/webhooks/{w.ids['webhook_id']}/test", None),
        "webhook.test",
        "webhook",
    ),
    (
        "POST /api/v1/billing-rules",
        lambda w: (
            "post",
            "/api/v1/billing-rules",
            {
                "engine": "WHOLESALE",
                "name": "Audited",
                "weekdays": 1,
                "confirm_overlaps": True,
                "tariff_id": w.ids["tariff_id"],
            },
        ),
        "billing_rule.create",
        "billing_rule",
    ),
    (
        "POST /api/v1/billing-rules/{rule_id}/versions",
        lambda w: (
            "post",
            f"/api/v1/billing-rules/{w.ids['rule_id']}/versions",
            {"tariff_id": w.ids["tariff_id"], "weekdays": 2},
        ),
        "billing_rule.version_add",
        "billing_rule",
    ),
    (
        "POST /api/v1/billing-rules/{rule_id}/retire",
        lambda w: ("post", f"/api/v1/billing-rules/{w.ids['rule_id']}/retire", {}),
        "billing_rule.retire",
        "billing_rule",
    ),
    (
        "POST /api/v1/billing-rules/{rule_id}/copy",
        lambda w: (
            "post",
            f"/api/v1/billing-rules/{w.ids['rule_id']}/copy",
            {"name": "Copied", "confirm_overlaps": True},
        ),
        "billing_rule.create",
        "billing_rule",
    ),
    # invoicing (issue 18, area "docs"): the fixtures' draft invoice
    (
        "POST /api/v1/documents/{document_id}/finalize",
        lambda w: ("post", f"/api/v1/documents/{w.ids['document_id']}/finalize", None),
        "document.finalize",
        "document",
    ),
    (
        "POST /api/v1/documents/{document_id}/discard",
        lambda w: (
            "post",
            f"/api/v1/documents/{w.ids['document_id']}/discard",
            {"reason": "duplicate"},
        ),
        "document.discard",
        "document",
    ),
    (
        "POST /api/v1/documents/{document_id}/credit-notes",
        lambda w: (
            "post",
            f"/api/v1/documents/{_finalized(w)}/credit-notes",
            {"reason": "price error"},
        ),
        "credit_note.create",
        "document",
    ),
    # invoicing (issue 18, areas "files", "runs", "finance")
    (
        "POST /api/v1/documents/{document_id}/deliveries",
        lambda w: (
            "post",
            f"/api/v1/documents/{w.ids['finalized_document_id']}/deliveries",
            {"to_email": "finance@customer.example"},
        ),
        "document.resend",
        "document",
    ),
    (
        "POST /api/v1/billing-runs",
        lambda w: (
            "post",
            "/api/v1/billing-runs",
            {"frequency": "MONTHLY", "period_start": "2026-03-01"},
        ),
        "billing_run.start",
        "billing_run",
    ),
    (
        "PUT /api/v1/invoicing-settings",
        lambda w: ("put", "/api/v1/invoicing-settings", {"legal_name": "A B.V.", "country": "NL"}),
        "invoicing_settings.update",
        "invoicing_settings",
    ),
    (
        "POST /api/v1/billing-profiles",
        lambda w: (
            "post",
            "/api/v1/billing-profiles",
            {"kind": "PAYEE", "counterparty_id": w.ids["payee_id"], "frequency": "WEEKLY"},
        ),
        "billing_profile.set",
        "billing_profile",
    ),
    (
        "POST /api/v1/finance/gl-mappings",
        lambda w: (
            "post",
            "/api/v1/finance/gl-mappings",
            {"role": "REVENUE", "component": "ENERGY", "account": "8000"},
        ),
        "gl_mapping.set",
        "gl_mapping",
    ),
    (
        "POST /api/v1/finance/exclusions",
        lambda w: (
            "post",
            "/api/v1/finance/exclusions",
            {"kind": "ACCOUNT", "value": "8001", "reason": "suspense account"},
        ),
        "finance_exclusion.add",
        "finance_exclusion",
    ),
    (
        "POST /api/v1/finance/exclusions/{exclusion_id}/retire",
        lambda w: ("post", f"/api/v1/finance/exclusions/{w.ids['exclusion_id']}/retire", None),
        "finance_exclusion.retire",
        "finance_exclusion",
    ),
    (
        "POST /api/v1/finance/adjustments",
        lambda w: (
            "post",
            "/api/v1/finance/adjustments",
            {
                "period_start": "2026-03-01T00:00:00Z",
                "period_end": "2026-04-01T00:00:00Z",
                "amount": -2.5,
                "currency": "EUR",
                "account": "8000",
                "reason": "goodwill",
            },
        ),
        "finance_adjustment.add",
        "finance_adjustment",
    ),
    (
        "POST /api/v1/export-batches",
        lambda w: (
            "post",
            "/api/v1/export-batches",
            {"period_start": "2021-01-01T00:00:00Z", "period_end": "2021-02-01T00:00:00Z"},
        ),
        "export_batch.post",
        "export_batch",
    ),
]
# Remote commands are audited too; they need the relay (Redis): test_remote_command_is_audited.
NEEDS_RELAY = {"POST /api/v1/charge-stations/{station_id}/commands"}
# Needs a CPO partner that answers (a loopback OCPI peer): its audit entry is checked in
# tests/roaming/test_emsp_rest.py.
NEEDS_PARTNER = {"POST /api/v1/roaming/connections/{connection_id}/commands"}
# POSTs that compute and store nothing (a body too rich for a query string): no audit entry;
# tests/api/test_billing_rules.py checks they leave none.
READS_BY_POST = {"POST /api/v1/billing-rules/overlaps", "POST /api/v1/billing-rules/test"}


def _other_cpo(w: World) -> str:
    """A second CPO party of the tenant (the first has its CPO contract already)."""
    return PartyFactory(tenant=w.tenant, role="CPO", country_code="NL", party_id="ZZZ").party_id


def _code(w: World) -> str:
    from apps.tariffs.models import TariffCode

    return TariffCode.objects.filter(tenant=w.tenant).values_list("code", flat=True).first() or ""


def _finalized(w: World) -> int:
    """The fixtures' draft, finalized (its own audit entry is cleared before the request)."""
    invoicing_api.document_finalize(
        tenant_id=w.tenant.pk, document_id=w.ids["document_id"], actor=Actor.system("setup")
    )
    return int(w.ids["document_id"])


def _key_of(w: World) -> ApiKey:
    return ApiKey.objects.get(tenant=w.tenant, name=f"{w.tenant.slug} key")


def test_the_table_covers_every_write_of_the_schema() -> None:
    schema = Client().get("/api/v1/schema/?format=json").json()
    writes = {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }
    assert writes == {w[0] for w in WRITES} | NEEDS_RELAY | NEEDS_PARTNER | READS_BY_POST


@pytest.mark.parametrize(
    ("operation", "request_of", "action", "object_type"), WRITES, ids=[w[0] for w in WRITES]
)
def test_every_api_write_leaves_exactly_one_audit_entry_naming_the_key(
    world_a: World,
    world_b: World,
    operation: str,
    request_of: Callable[[World], tuple[str, str, Any]],
    action: str,
    object_type: str,
) -> None:
    method, path, body = request_of(world_a)
    AuditEntry.objects.all().delete()
    response = getattr(world_a.client(), method)(path, body, format="json")
    assert response.status_code < 300, response.content
    (entry,) = AuditEntry.objects.all()
    key = _key_of(world_a)
    assert (entry.tenant_id, entry.action, entry.object_type) == (
        world_a.tenant.pk,
        action,
        object_type,
    )
    assert (entry.actor_id, entry.actor_email, entry.actor_api_key_id) == (None, "", key.pk)
    assert entry.actor_name == f"API key {key.key_id} ({key.name})"


def test_a_refused_write_leaves_no_audit_entry(world_a: World) -> None:
    AuditEntry.objects.all().delete()
    url = f"/api/v1/tokens/{world_a.ids['token_id']}"
    response = world_a.client().patch(url, {"issuer": "x"}, format="json", HTTP_IF_MATCH='"1-0"')
    assert response.status_code == 412
    response = world_a.client().post(
        "/api/v1/tokens", {**_token(world_a), "type": "NOPE"}, format="json"
    )
    assert response.status_code == 422
    assert not AuditEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_token_put_fast_path_writes_its_audit_entry_in_the_same_statement(
    world_a: World, settings: Any
) -> None:
    settings.API_FAST_PATHS = True
    path = f"/api/v1/tokens/{world_a.emsp.country_code}/{world_a.emsp.party_id}/FAST-1"
    body = json.dumps({"contract_id": "NL-AAA-C7", "issuer": "Fast"}).encode()
    AuditEntry.objects.all().delete()
    first, _, created = call(path, body, world_a.key)
    second, _, _ = call(path, body, world_a.key)
    assert (first, second) == (201, 200)
    key = _key_of(world_a)
    entries = list(AuditEntry.objects.order_by("id"))
    token_id = str(json.loads(created)["platform_id"])
    assert [(e.action, e.object_type, e.object_id) for e in entries] == [
        ("token.create", "token", token_id),
        ("token.update", "token", token_id),
    ]
    assert {(e.actor_api_key_id, e.actor_name, e.tenant_id) for e in entries} == {
        (key.pk, f"API key {key.key_id} ({key.name})", world_a.tenant.pk)
    }
    assert entries[0].after["issuer"] == "Fast"


def test_remote_command_is_audited(world_a: World, relay: Relay) -> None:
    AuditEntry.objects.all().delete()
    station_id = world_a.ids["station_id"]
    response = world_a.client().post(
        f"/api/v1/charge-stations/{station_id}/commands",
        {"type": "RESET", "reset_type": "HARD"},
        format="json",
    )
    assert response.status_code == 200, response.content
    (entry,) = AuditEntry.objects.all()
    assert (entry.action, entry.object_type, entry.object_id) == (
        "station.command",
        "charge_station",
        str(station_id),
    )
    assert entry.after["command_id"] == int(response.json()["id"])
    assert entry.after["status"] == "OFFLINE"
    assert entry.actor_api_key_id == _key_of(world_a).pk
