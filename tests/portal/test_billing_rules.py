"""Portal: billing rules. The list shows active rules by default; the editor shows the
overlapping rules before saving and saves over them only when confirmed; problems appear
beside their field; new versions, copy, retire; the tester names the rule that would match."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.parties.models import AuditEntry
from apps.rating.models import BillingRule, BillingRuleVersion
from tests.portal.world import Tenant, signed_in_client

pytestmark = pytest.mark.django_db


def url(a: Tenant, name: str, *args: Any) -> str:
    return reverse(f"portal:{name}", args=[a.operator.slug, *args])


def form(a: Tenant, **kw: Any) -> dict[str, Any]:
    data = {
        "name": "Station evenings",
        "engine": "WHOLESALE",
        "effective_from": "",
        "cpo_scope": "STATION",
        "cpo_scope_value": str(a.station.pk),
        "emsp_scope": "ANY",
        "emsp_scope_value": "",
        "pricing": "TARIFF",
        "tariff_id": str(a.tariff.pk),
        "weekdays": ["1", "2", "4", "8", "16", "32", "64"],
        "time_from": "18:00",
        "time_until": "23:00",
        "op": "save",
    }
    data.update(kw)
    return data


def test_the_editor_shows_overlaps_and_saves_only_when_confirmed(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    client = signed_in_client(a.users["cpo_admin"])
    checked = client.post(url(a, "billing_rule_new"), form(a, op="check"))
    assert checked.status_code == 200
    body = checked.content.decode()
    assert "These active rules may cover the same sessions" in body
    assert a.rule.name in body and b.rule.name not in body
    assert BillingRule.objects.filter(tenant=a.operator).count() == 1

    refused = client.post(url(a, "billing_rule_new"), form(a))
    assert refused.status_code == 409
    assert 'data-testid="confirm-overlaps"' in refused.content.decode()
    assert BillingRule.objects.filter(tenant=a.operator).count() == 1

    saved = client.post(url(a, "billing_rule_new"), form(a, confirm_overlaps="on"))
    assert saved.status_code == 302
    rule = BillingRule.objects.get(tenant=a.operator, name="Station evenings")
    assert saved["Location"] == url(a, "billing_rule", rule.pk)
    v1 = BillingRuleVersion.objects.get(rule=rule)
    assert (v1.cpo_scope, v1.cpo_scope_value, str(v1.time_from)) == (
        "STATION",
        str(a.station.pk),
        "18:00:00",
    )
    entry = AuditEntry.objects.get(action="billing_rule.create", object_id=str(rule.pk))
    assert entry.actor_id == a.users["cpo_admin"].pk

    detail = client.get(url(a, "billing_rule", rule.pk)).content.decode()
    assert "Station evenings" in detail and "in force" in detail and "18:00" in detail


def test_a_draft_without_overlaps_is_saved_at_once(world) -> None:  # type: ignore[no-untyped-def]
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    checked = client.post(url(a, "billing_rule_new"), form(a, engine="REIMBURSEMENT", op="check"))
    assert 'data-testid="no-overlaps"' in checked.content.decode()


def test_problems_are_shown_beside_their_field_and_nothing_is_saved(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        url(a, "billing_rule_new"),
        form(a, cpo_scope_value=str(b.station.pk), time_until="18:00", time_from="18:00"),
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert f"no station {b.station.pk} in this tenant" in body
    assert "must differ from time_from" in body
    assert b.station.identity not in body
    assert BillingRule.objects.filter(tenant=a.operator).count() == 1


def test_new_version_copy_retire_and_the_active_list(world) -> None:  # type: ignore[no-untyped-def]
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    editor = client.get(url(a, "billing_rule_version_new", a.rule.pk))
    assert editor.status_code == 200
    r = client.post(
        url(a, "billing_rule_version_new", a.rule.pk),
        form(
            a,
            effective_from="2031-01-01T00:00",
            cpo_scope="ANY",
            cpo_scope_value="",
            reason="lead time",
        ),
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    assert a.rule.versions.count() == 2

    copy_page = client.get(url(a, "billing_rule_copy", a.rule.pk)).content.decode()
    assert f"{a.rule.name} (copy)" in copy_page
    r = client.post(
        url(a, "billing_rule_copy", a.rule.pk),
        form(a, name="Only station", cpo_scope="STATION", confirm_overlaps="on"),
    )
    assert r.status_code == 302
    copy = BillingRule.objects.get(tenant=a.operator, name="Only station")

    r = client.post(url(a, "billing_rule_retire", copy.pk), {"reason": "not needed"})
    assert r.status_code == 302
    listed = client.get(url(a, "billing_rules")).content.decode()
    assert a.rule.name in listed and "Only station" not in listed
    everything = client.get(url(a, "billing_rules") + "?retired=1").content.decode()
    assert "Only station" in everything and "retired" in everything
    retail = client.get(url(a, "billing_rules") + "?engine=RETAIL").content.decode()
    assert a.rule.name not in retail and "No active billing rules for Retail" in retail


def test_the_tester_names_the_rule(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    client = signed_in_client(a.users["support"])
    page = client.get(url(a, "billing_rule_tester"))
    assert page.status_code == 200 and b.station.identity not in page.content.decode()
    r = client.get(
        url(a, "billing_rule_tester"),
        {"station_id": a.station.pk, "token_id": a.token.pk, "at": "2030-01-01T12:00"},
    )
    body = r.content.decode()
    assert r.status_code == 200
    assert f"{a.rule.name}</a> (rule {a.rule.pk})" in body
    assert body.count("NO_RULE") == 2  # retail and reimbursement
    other = client.get(
        url(a, "billing_rule_tester"),
        {"station_id": b.station.pk, "token_id": a.token.pk, "at": "2030-01-01T12:00"},
    )
    assert other.status_code == 400
    assert f"no charge station {b.station.pk} in this tenant" in other.content.decode()
