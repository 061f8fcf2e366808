"""Access control (ADR 0015): which answer a token gets at which station, only ever from the
tokens of the station's tenant; the group services keep every member in the group's tenant."""

from __future__ import annotations

from typing import Any

import pytest

from apps.common.errors import Conflict, NotFound, ValidationFailed
from apps.tokens import api as tokens_api
from apps.tokens.contracts import AuthorizationStatus as S
from apps.tokens.models import ChargePortGroupStation, EmaidGroupToken
from tests.factories import ChargeStationFactory, EmspFactory, PartyFactory, TokenFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    """Tenant A (CPO NL*AAA, which is also its own eMSP identity) with a depot station in the
    charge-port group "Depot", a public station in no group and a station without roaming;
    tenant B with a token of a uid tenant A does not know."""
    cpo = PartyFactory(country_code="NL", party_id="AAA")
    a = cpo.tenant
    own_emsp = EmspFactory(tenant=a, country_code="NL", party_id="AAA")
    # A roaming eMSP the tenant knows as a partner (ADR 0027): its tokens need roaming.
    roaming_emsp = EmspFactory(tenant=a, country_code="DE", party_id="XYZ", kind="PARTNER")
    depot = ChargeStationFactory(location__party=cpo)
    public = ChargeStationFactory(location__party=cpo)
    private = ChargeStationFactory(location__party=cpo, roaming=False)
    staff = TokenFactory(party=own_emsp, uid="STAFF")
    visitor = TokenFactory(party=own_emsp, uid="VISITOR")
    roamer = TokenFactory(party=roaming_emsp, uid="ROAMER")
    blocked = TokenFactory(party=own_emsp, uid="BLOCKED", valid=False)
    only_b = TokenFactory(uid="ONLY-B")  # a token of another tenant
    assert only_b.tenant_id != a.pk
    cpg = tokens_api.charge_port_group_create(tenant_id=a.pk, name="Depot")
    emg = tokens_api.emaid_group_create(tenant_id=a.pk, name="Staff")
    assert (
        tokens_api.charge_port_group_stations_add(
            tenant_id=a.pk, group_id=cpg, station_ids=[depot.pk]
        )
        == 1
    )
    assert (
        tokens_api.emaid_group_tokens_add(tenant_id=a.pk, group_id=emg, token_ids=[staff.pk]) == 1
    )
    assert (
        tokens_api.emaid_group_charge_port_groups_assign(
            tenant_id=a.pk, group_id=emg, charge_port_group_ids=[cpg]
        )
        == 1
    )
    return {
        "a": a.pk,
        "depot": depot.pk,
        "public": public.pk,
        "private": private.pk,
        "cpg": cpg,
        "emg": emg,
        "tokens": {"staff": staff, "visitor": visitor, "roamer": roamer, "blocked": blocked},
        "only_b": only_b,
    }


@pytest.mark.parametrize(
    ("station", "uid", "expected"),
    [
        # The depot admits only EMAID groups assigned "Depot".
        ("depot", "STAFF", S.ACCEPTED),
        ("depot", "VISITOR", S.NOT_AT_THIS_LOCATION),
        ("depot", "ROAMER", S.NOT_AT_THIS_LOCATION),
        ("depot", "BLOCKED", S.BLOCKED),
        ("depot", "NOBODY", S.UNKNOWN),
        ("depot", "ONLY-B", S.UNKNOWN),  # tenant B's token is nothing at tenant A's station
        # A station in no group, roaming active: every valid token of the tenant.
        ("public", "STAFF", S.ACCEPTED),
        ("public", "VISITOR", S.ACCEPTED),
        ("public", "ROAMER", S.ACCEPTED),
        ("public", "BLOCKED", S.BLOCKED),
        ("public", "ONLY-B", S.UNKNOWN),
        # Roaming inactive: the tenant's own tokens only.
        ("private", "VISITOR", S.ACCEPTED),
        ("private", "ROAMER", S.NOT_AT_THIS_LOCATION),
    ],
)
def test_the_answer_per_station_and_token(
    world: dict[str, Any], station: str, uid: str, expected: S
) -> None:
    got = tokens_api.token_authorize(tenant_id=world["a"], station_id=world[station], uid=uid)
    assert got is expected


def test_ocpp1x_says_invalid_for_unknown_and_not_at_this_location() -> None:
    assert [s.for_ocpp1x() for s in S] == [
        S.ACCEPTED,
        S.BLOCKED,
        S.EXPIRED,
        S.INVALID,
        S.INVALID,
        S.INVALID,
    ]


def test_a_uid_known_only_in_tenant_b_is_accepted_there_and_unknown_at_tenant_a(
    world: dict[str, Any],
) -> None:
    b_token = world["only_b"]
    b_station = ChargeStationFactory(location__party=PartyFactory(tenant=b_token.tenant))
    assert (
        tokens_api.token_authorize(
            tenant_id=b_token.tenant_id, station_id=b_station.pk, uid="ONLY-B"
        )
        is S.ACCEPTED
    )
    assert (
        tokens_api.token_authorize(tenant_id=world["a"], station_id=world["public"], uid="ONLY-B")
        is S.UNKNOWN
    )
    # A station id of another tenant is never answered with this tenant's tokens.
    assert (
        tokens_api.token_authorize(tenant_id=world["a"], station_id=b_station.pk, uid="VISITOR")
        is S.NOT_AT_THIS_LOCATION
    )


def test_a_valid_token_wins_over_a_blocked_one_with_the_same_uid(world: dict[str, Any]) -> None:
    TokenFactory(party=EmspFactory(tenant_id=world["a"]), uid="STAFF", valid=False, type="APP_USER")
    assert (
        tokens_api.token_authorize(tenant_id=world["a"], station_id=world["depot"], uid="STAFF")
        is S.ACCEPTED
    )


def test_removing_members_and_assignments_changes_the_answer(world: dict[str, Any]) -> None:
    a, staff = world["a"], world["tokens"]["staff"]
    assert (
        tokens_api.emaid_group_charge_port_groups_unassign(
            tenant_id=a, group_id=world["emg"], charge_port_group_ids=[world["cpg"]]
        )
        == 1
    )
    assert tokens_api.token_authorize(tenant_id=a, station_id=world["depot"], uid="STAFF") is (
        S.NOT_AT_THIS_LOCATION
    )
    tokens_api.emaid_group_charge_port_groups_assign(
        tenant_id=a, group_id=world["emg"], charge_port_group_ids=[world["cpg"]]
    )
    assert (
        tokens_api.emaid_group_tokens_remove(
            tenant_id=a, group_id=world["emg"], token_ids=[staff.pk]
        )
        == 1
    )
    assert tokens_api.token_authorize(tenant_id=a, station_id=world["depot"], uid="STAFF") is (
        S.NOT_AT_THIS_LOCATION
    )
    assert (
        tokens_api.charge_port_group_stations_remove(
            tenant_id=a, group_id=world["cpg"], station_ids=[world["depot"]]
        )
        == 1
    )
    # The depot is in no group any more: unrestricted.
    assert tokens_api.token_authorize(tenant_id=a, station_id=world["depot"], uid="VISITOR") is (
        S.ACCEPTED
    )


def test_group_services_refuse_members_and_groups_of_another_tenant(
    world: dict[str, Any],
) -> None:
    a, only_b = world["a"], world["only_b"]
    b_station = ChargeStationFactory(location__party=PartyFactory(tenant=only_b.tenant))
    with pytest.raises(ValidationFailed, match=f"no token {only_b.pk} in this tenant"):
        tokens_api.emaid_group_tokens_add(tenant_id=a, group_id=world["emg"], token_ids=[only_b.pk])
    with pytest.raises(ValidationFailed, match=f"no charge station {b_station.pk} in this tenant"):
        tokens_api.charge_port_group_stations_add(
            tenant_id=a, group_id=world["cpg"], station_ids=[b_station.pk]
        )
    with pytest.raises(NotFound, match=f"no EMAID group {world['emg']} in this tenant"):
        tokens_api.emaid_group_tokens_add(
            tenant_id=only_b.tenant_id, group_id=world["emg"], token_ids=[only_b.pk]
        )
    with pytest.raises(Conflict, match="already has a charge-port group named 'Depot'"):
        tokens_api.charge_port_group_create(tenant_id=a, name="Depot")
    # Nothing was written by the refused calls; adding twice adds nothing.
    assert EmaidGroupToken.objects.filter(group_id=world["emg"]).count() == 1
    assert ChargePortGroupStation.objects.filter(group_id=world["cpg"]).count() == 1
    assert (
        tokens_api.emaid_group_tokens_add(
            tenant_id=a, group_id=world["emg"], token_ids=[world["tokens"]["staff"].pk]
        )
        == 0
    )


def test_one_query_for_an_unknown_uid_and_four_for_a_restricted_station(
    world: dict[str, Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        tokens_api.token_authorize(tenant_id=world["a"], station_id=world["depot"], uid="NOBODY")
    # The tokens (with their party's kind), the station's roaming, its groups, the grants.
    with django_assert_num_queries(4):
        tokens_api.token_authorize(tenant_id=world["a"], station_id=world["depot"], uid="STAFF")


def test_the_admin_inline_refuses_a_station_of_another_tenant_and_stamps_the_tenant(
    world: dict[str, Any],
) -> None:
    from django.forms.models import inlineformset_factory

    from apps.tokens.admin import ChargePortGroupStationInline
    from apps.tokens.models import ChargePortGroup

    group = ChargePortGroup.objects.get(pk=world["cpg"])
    FormSet = inlineformset_factory(
        ChargePortGroup,
        ChargePortGroupStation,
        formset=ChargePortGroupStationInline.formset,
        fields=["charge_station"],
        extra=1,
    )
    foreign = ChargeStationFactory()
    data = {
        "members-TOTAL_FORMS": "1",
        "members-INITIAL_FORMS": "0",
        "members-0-charge_station": str(foreign.pk),
    }
    refused = FormSet(data, instance=group)
    assert not refused.is_valid()
    assert refused.forms[0].errors == {
        "charge_station": ["belongs to another tenant than the group"]
    }
    data["members-0-charge_station"] = str(world["public"])
    accepted = FormSet(data, instance=group)
    assert accepted.is_valid(), accepted.errors
    accepted.save()
    row = ChargePortGroupStation.objects.get(group=group, charge_station_id=world["public"])
    assert row.tenant_id == world["a"]
