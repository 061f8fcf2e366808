"""Customer contracts are versioned (ADR 0027): a change is a new version from a moment on,
the version before it ends there, one token's versions never overlap, and the version in
force at a past moment never changes. Retail packages and user groups: audited writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, ValidationFailed
from apps.customers import api as customers
from apps.customers.contracts import ContractRecord
from apps.customers.models import Contract
from apps.parties.models import AuditEntry
from tests.factories import T0, ContractFactory, CustomerFactory, TokenFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
H = timedelta(hours=1)


def _contract(**kw: object) -> ContractRecord:
    customer = CustomerFactory()
    token = TokenFactory(party=customer.party, tenant=customer.tenant)
    values = {"reference": "CTR-1", "valid_from": T0, **kw}
    return customers.contract_create(
        tenant_id=customer.tenant_id,
        customer_id=customer.pk,
        token_id=token.pk,
        values=values,
        actor=ACTOR,
    )


def test_a_change_is_a_new_version_and_the_previous_one_ends_there() -> None:
    first = _contract()
    tenant_id = Contract.objects.get(pk=first.id).tenant_id
    package = customers.retail_package_create(tenant_id=tenant_id, name="Flex", actor=ACTOR)
    group = customers.user_group_create(tenant_id=tenant_id, name="ACME drivers", actor=ACTOR)
    now = T0 + 10 * H
    second = customers.contract_version_add(
        tenant_id=tenant_id,
        contract_id=first.id,
        effective_from=now + H,
        values={"retail_package_id": package.id, "user_group_id": group.id},
        actor=ACTOR,
        now=now,
    )
    assert (second.version, second.valid_from, second.valid_until) == (2, now + H, None)
    assert (second.retail_package_id, second.user_group_id) == (package.id, group.id)
    assert second.reference == first.reference and second.customer_id == first.customer_id
    rows = list(
        Contract.objects.filter(reference="CTR-1")
        .order_by("version")
        .values_list("version", "valid_from", "valid_until", "retail_package_id")
    )
    assert rows == [(1, T0, now + H, None), (2, now + H, None, package.id)]
    assert [v.version for v in second.versions] == [1, 2]
    entry = AuditEntry.objects.get(action="contract.version_add")
    assert entry.object_id == str(second.id)
    assert entry.before["valid_until"] is None and entry.after["version"] == 2


def test_the_version_in_force_at_a_past_moment_never_changes() -> None:
    first = _contract()
    tenant_id = Contract.objects.get(pk=first.id).tenant_id
    other = CustomerFactory(
        tenant_id=tenant_id, party=Contract.objects.get(pk=first.id).customer.party
    )
    now = T0 + 48 * H
    past = T0 + 24 * H
    before = customers.contract_version_at(tenant_id=tenant_id, reference="CTR-1", at=past)
    with pytest.raises(ValidationFailed) as refused:
        customers.contract_version_add(
            tenant_id=tenant_id,
            contract_id=first.id,
            effective_from=past,
            values={"customer_id": other.pk},
            actor=ACTOR,
            now=now,
        )
    assert refused.value.problems[0].path == "$.effective_from"
    assert "past moment never changes" in refused.value.problems[0].message
    customers.contract_version_add(
        tenant_id=tenant_id,
        contract_id=first.id,
        effective_from=now,
        values={"customer_id": other.pk},
        actor=ACTOR,
        now=now,
    )
    after = customers.contract_version_at(tenant_id=tenant_id, reference="CTR-1", at=past)
    assert before is not None and after is not None
    assert (
        (after.id, after.customer_id)
        == (before.id, before.customer_id)
        == (
            first.id,
            first.customer_id,
        )
    )
    current = customers.contract_version_at(tenant_id=tenant_id, reference="CTR-1", at=now)
    assert current is not None and current.customer_id == other.pk and current.version == 2
    assert customers.contract_version_at(tenant_id=tenant_id, reference="CTR-1", at=T0 - H) is None


def test_nothing_to_change_writes_no_version() -> None:
    first = _contract()
    tenant_id = Contract.objects.get(pk=first.id).tenant_id
    same = customers.contract_version_add(
        tenant_id=tenant_id,
        contract_id=first.id,
        effective_from=T0 + H,
        values={"customer_id": first.customer_id},
        actor=ACTOR,
        now=T0 + H,
    )
    assert same.id == first.id and Contract.objects.count() == 1
    assert not AuditEntry.objects.filter(action="contract.version_add").exists()


def test_an_overlapping_contract_of_the_same_token_is_refused_naming_it() -> None:
    first = _contract(valid_until=T0 + 10 * H)
    row = Contract.objects.get(pk=first.id)
    with pytest.raises(Conflict) as refused:
        customers.contract_create(
            tenant_id=row.tenant_id,
            customer_id=row.customer_id,
            token_id=row.token_id,
            values={"reference": "CTR-2", "valid_from": T0 + 9 * H},
            actor=ACTOR,
        )
    assert "'CTR-1' version 1" in refused.value.message
    assert f"(id {first.id})" in refused.value.message
    assert Contract.objects.count() == 1
    # Back to back is no overlap: [from, until) windows.
    second = customers.contract_create(
        tenant_id=row.tenant_id,
        customer_id=row.customer_id,
        token_id=row.token_id,
        values={"reference": "CTR-2", "valid_from": T0 + 10 * H},
        actor=ACTOR,
    )
    assert second.version == 1
    # Before the first one starts, open-ended: overlaps both.
    with pytest.raises(Conflict):
        customers.contract_create(
            tenant_id=row.tenant_id,
            customer_id=row.customer_id,
            token_id=row.token_id,
            values={"reference": "CTR-3", "valid_from": T0 - H},
            actor=ACTOR,
        )


def test_a_new_version_moving_to_a_token_under_contract_is_refused() -> None:
    first = _contract()
    row = Contract.objects.get(pk=first.id)
    busy = ContractFactory(
        tenant=row.tenant,
        customer=row.customer,
        token__party=row.customer.party,
        token__tenant=row.tenant,
        reference="OTHER",
        valid_from=T0,
    )
    with pytest.raises(Conflict) as refused:
        customers.contract_version_add(
            tenant_id=row.tenant_id,
            contract_id=first.id,
            effective_from=T0 + 5 * H,
            values={"token_id": busy.token_id},
            actor=ACTOR,
            now=T0 + 5 * H,
        )
    assert "'OTHER'" in refused.value.message
    # Refused as a whole: the first version still runs open-ended.
    assert Contract.objects.get(pk=first.id).valid_until is None


def test_ids_of_another_tenant_are_refused_at_their_paths() -> None:
    first = _contract()
    tenant_id = Contract.objects.get(pk=first.id).tenant_id
    foreign = CustomerFactory()
    foreign_package = customers.retail_package_create(
        tenant_id=foreign.tenant_id, name="Theirs", actor=ACTOR
    )
    with pytest.raises(ValidationFailed) as refused:
        customers.contract_version_add(
            tenant_id=tenant_id,
            contract_id=first.id,
            effective_from=T0 + H,
            values={"customer_id": foreign.pk, "retail_package_id": foreign_package.id},
            actor=ACTOR,
            now=T0,
        )
    assert {p.path for p in refused.value.problems} == {"$.customer_id", "$.retail_package_id"}
    with pytest.raises(NotFound):
        customers.contract_version_add(
            tenant_id=foreign.tenant_id,
            contract_id=first.id,
            effective_from=T0 + H,
            values={},
            actor=ACTOR,
            now=T0,
        )


def test_patch_refuses_a_new_reference_or_start_with_the_reason() -> None:
    first = _contract()
    tenant_id = Contract.objects.get(pk=first.id).tenant_id
    with pytest.raises(ValidationFailed) as refused:
        customers.contract_update(
            tenant_id=tenant_id,
            contract_id=first.id,
            if_match=None,
            values={"reference": "NEW", "valid_from": T0 + H},
            actor=ACTOR,
            now=T0 + H,
        )
    assert [p.path for p in refused.value.problems] == ["$.reference", "$.valid_from"]


def test_upsert_creates_then_versions_only_on_a_change() -> None:
    customer = CustomerFactory()
    token = TokenFactory(party=customer.party, tenant=customer.tenant)
    kw = {
        "tenant_id": customer.tenant_id,
        "reference": "CRM-1",
        "customer_id": customer.pk,
        "token_id": token.pk,
        "valid_from": T0,
    }
    first = customers.contract_upsert(**kw)
    assert customers.contract_upsert(**kw, now=T0 + H) == first
    assert Contract.objects.count() == 1
    package = customers.retail_package_create(tenant_id=customer.tenant_id, name="P", actor=ACTOR)
    second = customers.contract_upsert(**kw, retail_package_id=package.id, now=T0 + H)
    assert second != first
    assert list(Contract.objects.order_by("version").values_list("version", "valid_until")) == [
        (1, T0 + H),
        (2, None),
    ]


@pytest.mark.postgres
def test_postgres_exclusion_constraint_refuses_overlap_written_around_the_service() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    first = ContractFactory(valid_from=T0)
    with (
        pytest.raises(IntegrityError, match="contract_token_validity_no_overlap"),
        transaction.atomic(),
    ):
        ContractFactory(
            tenant=first.tenant,
            customer=first.customer,
            token=first.token,
            reference="RAW",
            valid_from=T0 + H,
        )


def test_packages_and_groups_are_unique_by_name_renamed_and_audited() -> None:
    customer = CustomerFactory()
    t = customer.tenant_id
    p = customers.retail_package_create(
        tenant_id=t, name="Flex", description="pay as you go", actor=ACTOR
    )
    with pytest.raises(Conflict):
        customers.retail_package_create(tenant_id=t, name="Flex", actor=ACTOR)
    other_tenant = CustomerFactory().tenant_id
    customers.retail_package_create(tenant_id=other_tenant, name="Flex", actor=ACTOR)
    renamed = customers.retail_package_rename(
        tenant_id=t, package_id=p.id, name="Flex+", actor=ACTOR
    )
    assert (renamed.name, renamed.description) == ("Flex+", "pay as you go")
    assert [x.name for x in customers.retail_package_list(tenant_id=t)] == ["Flex+"]
    g = customers.user_group_create(tenant_id=t, name="Fleet", actor=ACTOR)
    customers.user_group_rename(tenant_id=t, group_id=g.id, name="Fleet A", actor=ACTOR)
    with pytest.raises(NotFound):
        customers.user_group_rename(tenant_id=other_tenant, group_id=g.id, name="X", actor=ACTOR)
    actions = list(
        AuditEntry.objects.filter(tenant_id=t).order_by("id").values_list("action", flat=True)
    )
    assert actions == [
        "retail_package.create",
        "retail_package.rename",
        "user_group.create",
        "user_group.rename",
    ]


class VersionChains(HypothesisTestCase):
    """Any sequence of changes keeps one token's versions back to back, never overlapping,
    and every moment before `now` keeps the version it had."""

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=1, max_size=6))
    def test_chain(self, steps: list[tuple[int, bool]]) -> None:
        first = _contract()
        row = Contract.objects.get(pk=first.id)
        other = CustomerFactory(tenant=row.tenant, party=row.customer.party)
        now = T0
        probes = [T0 + k * H for k in range(0, 200, 7)]
        seen: dict[object, int] = {}
        for gap, switch in steps:
            now = now + gap * H
            for at in probes:
                if at < now:
                    v = customers.contract_version_at(
                        tenant_id=row.tenant_id, reference="CTR-1", at=at
                    )
                    seen.setdefault(at, v.id if v else 0)
                    assert (v.id if v else 0) == seen[at]
            try:
                customers.contract_version_add(
                    tenant_id=row.tenant_id,
                    contract_id=first.id,
                    effective_from=now,
                    values={"customer_id": other.pk if switch else row.customer_id},
                    actor=ACTOR,
                    now=now,
                )
            except ValidationFailed:
                pass  # same moment as the latest version's start
        versions = list(Contract.objects.filter(token_id=row.token_id).order_by("valid_from"))
        for a, b in zip(versions, versions[1:], strict=False):
            assert a.valid_until == b.valid_from
        assert versions[-1].valid_until is None
