"""Token attribution (issue 17, ADR 0027): a session's token is resolved in a fixed order —
the station tenant's own eMSP tokens, then its partners' tokens where the station admits
roaming, then other marketplace tenants' — never by uid across tenants; the session and the
CDR record which, whose driver it is, the contract and customer in force and the home-charger
flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging import api as charging_api
from apps.charging.contracts import EventKind, TransactionEventIn
from apps.charging.models import Cdr, ChargingSession, ReviewFlag
from apps.charging.services import processing
from apps.common.errors import Conflict
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.parties.models import AuditEntry, Operator, Party
from apps.tokens import api as tokens_api
from apps.tokens.contracts import AuthorizationStatus
from tests.factories import (
    ContractFactory,
    CustomerFactory,
    EmspFactory,
    OperatorFactory,
    PartyFactory,
    TokenFactory,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
UID = "04C0111DE5"


def _event(st: Any, kind: EventKind, key: str, minutes: int, **kw: Any) -> TransactionEventIn:
    return TransactionEventIn(
        tenant_id=st.tenant_id,
        station_id=st.pk,
        kind=kind,
        idempotency_key=key,
        protocol="1.6",
        action=kind.value,
        station_timestamp=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(hours=3),
        **kw,
    )


def charge(st: Any, capture: Any, uid: str = UID, times: int = 1) -> tuple[ChargingSession, Cdr]:
    """One 60-minute, 9 kWh session at `st` with `uid`, processed `times` times (redelivery)."""
    with capture(execute=False):
        (started,) = charging_api.transaction_events_record(
            events=[
                _event(
                    st,
                    EventKind.STARTED,
                    f"s{uid}",
                    0,
                    evse_ocpp_id=1,
                    id_tag=uid,
                    meter_wh=Decimal(1000),
                )
            ]
        )
        txid = started.ocpp_transaction_id
        charging_api.transaction_events_record(
            events=[
                _event(
                    st,
                    EventKind.ENDED,
                    f"e{uid}",
                    60,
                    ocpp_transaction_id=txid,
                    meter_wh=Decimal(10000),
                )
            ]
        )
    for _ in range(times):
        processing.transaction_process(station_id=st.pk, ocpp_transaction_id=txid)
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    return session, Cdr.objects.get(session=session)


@pytest.fixture
def world(station: dict[str, Any]) -> dict[str, Any]:
    """Tenant A runs the station (its CPO identity on the location) and is its own eMSP;
    tenant B is another eMSP on the platform. Both in the marketplace unless a test says
    otherwise."""
    st = station["station"]
    a = st.tenant
    b = OperatorFactory(slug="tenant-b")
    Operator.objects.filter(pk__in=[a.pk, b.pk]).update(marketplace=True)
    return {
        "station": st,
        "a": a,
        "b": b,
        "a_emsp": station["token"].party,  # A's own eMSP identity
        "b_emsp": EmspFactory(tenant=b, country_code="DE", party_id="BBB", name="B mobility"),
        "cpo": st.location.party,
    }


def test_same_uid_in_two_tenants_is_the_station_tenants_token_never_the_other(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    mine = TokenFactory(party=world["a_emsp"], uid=UID)
    TokenFactory(party=world["b_emsp"], uid=UID)  # B's token: created first or not, not it
    session, cdr = charge(world["station"], django_capture_on_commit_callbacks)
    assert (session.token_id, session.token_source) == (mine.pk, "OWN")
    assert (session.emsp_party_id, session.emsp_tenant_id) == (world["a_emsp"].pk, world["a"].pk)
    assert (cdr.token_id, cdr.token_source, cdr.emsp_party_id, cdr.emsp_tenant_id) == (
        mine.pk,
        "OWN",
        world["a_emsp"].pk,
        world["a"].pk,
    )
    assert not ReviewFlag.objects.filter(reason="UNKNOWN_TOKEN").exists()
    # No partner row for B appears anywhere: B's token played no part.
    assert not Party.objects.filter(kind="PARTNER").exists()
    assert (
        tokens_api.token_authorize(
            tenant_id=world["a"].pk, station_id=session.charge_station_id, uid=UID
        )
        is AuthorizationStatus.ACCEPTED
    )


def test_a_uid_only_in_a_marketplace_tenant_is_roamed_inside_the_platform(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    theirs = TokenFactory(party=world["b_emsp"], uid=UID, contract_id="DE-BBB-C00000001-X")
    st = world["station"]
    assert (
        tokens_api.token_authorize(tenant_id=world["a"].pk, station_id=st.pk, uid=UID)
        is AuthorizationStatus.ACCEPTED
    )
    session, cdr = charge(st, django_capture_on_commit_callbacks, times=3)
    # A's partner row for B's eMSP identity, created by the platform, once.
    partner = Party.objects.get(tenant=world["a"], kind="PARTNER")
    assert (partner.role, partner.country_code, partner.party_id, partner.name) == (
        "EMSP",
        "DE",
        "BBB",
        "B mobility",
    )
    # ... and B's partner row for A's CPO identity.
    cpo = world["cpo"]
    b_partner = Party.objects.get(tenant=world["b"], kind="PARTNER")
    assert (b_partner.role, b_partner.country_code, b_partner.party_id) == (
        "CPO",
        cpo.country_code,
        cpo.party_id,
    )
    assert (session.token_id, session.token_source, session.emsp_party_id) == (
        theirs.pk,
        "MARKETPLACE",
        partner.pk,
    )
    assert session.emsp_tenant_id == world["b"].pk
    assert session.tenant_id == world["a"].pk  # the session stays the station tenant's
    assert (cdr.token_id, cdr.token_source, cdr.emsp_party_id, cdr.emsp_tenant_id) == (
        theirs.pk,
        "MARKETPLACE",
        partner.pk,
        world["b"].pk,
    )
    # The OCPI CDR names the token's issuer by its identity.
    assert {k: cdr.data["cdr_token"][k] for k in ("country_code", "party_id", "contract_id")} == {
        "country_code": "DE",
        "party_id": "BBB",
        "contract_id": "DE-BBB-C00000001-X",
    }
    created = AuditEntry.objects.filter(action="partner.create").order_by("tenant_id")
    assert [(e.tenant_id, e.actor_name, e.actor_id) for e in created] == sorted(
        [
            (world["a"].pk, "platform marketplace", None),
            (world["b"].pk, "platform marketplace", None),
        ]
    )


def test_not_in_the_marketplace_means_no_token(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    Operator.objects.filter(pk=world["b"].pk).update(marketplace=False)
    TokenFactory(party=world["b_emsp"], uid=UID)
    st = world["station"]
    session, cdr = charge(st, django_capture_on_commit_callbacks)
    assert (session.token_id, session.token_source, session.emsp_tenant_id) == (None, "", None)
    assert (cdr.token_id, cdr.emsp_party_id, cdr.emsp_tenant_id, cdr.customer_id) == (
        None,
        None,
        None,
        None,
    )
    flag = ReviewFlag.objects.get(reason="UNKNOWN_TOKEN")
    assert flag.details == {"id_tag": UID}
    assert not Party.objects.filter(kind="PARTNER").exists()
    assert (
        tokens_api.token_authorize(tenant_id=world["a"].pk, station_id=st.pk, uid=UID)
        is AuthorizationStatus.UNKNOWN
    )


def test_the_station_tenant_out_of_the_marketplace_accepts_no_marketplace_token(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    Operator.objects.filter(pk=world["a"].pk).update(marketplace=False)
    TokenFactory(party=world["b_emsp"], uid=UID)
    session, _ = charge(world["station"], django_capture_on_commit_callbacks)
    assert session.token_id is None
    assert ReviewFlag.objects.filter(reason="UNKNOWN_TOKEN").count() == 1


def test_two_marketplace_tenants_holding_the_uid_is_no_token_and_a_flag_naming_both(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    c = OperatorFactory(slug="tenant-c", marketplace=True)
    one = TokenFactory(party=world["b_emsp"], uid=UID)
    two = TokenFactory(party=EmspFactory(tenant=c, country_code="BE", party_id="CCC"), uid=UID)
    st = world["station"]
    session, cdr = charge(st, django_capture_on_commit_callbacks)
    assert (session.token_id, session.token_source, cdr.emsp_tenant_id) == (None, "", None)
    flag = ReviewFlag.objects.get(reason="UNKNOWN_TOKEN")
    assert flag.details == {
        "id_tag": UID,
        "ambiguous": True,
        "token_ids": sorted([one.pk, two.pk]),
    }
    assert not Party.objects.filter(kind="PARTNER").exists()
    assert (
        tokens_api.token_authorize(tenant_id=world["a"].pk, station_id=st.pk, uid=UID)
        is AuthorizationStatus.UNKNOWN
    )


def test_a_valid_token_beats_an_invalid_one_in_the_same_tier(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    c = OperatorFactory(slug="tenant-c", marketplace=True)
    TokenFactory(party=world["b_emsp"], uid=UID, valid=False)
    valid = TokenFactory(party=EmspFactory(tenant=c, country_code="BE", party_id="CCC"), uid=UID)
    session, cdr = charge(world["station"], django_capture_on_commit_callbacks)
    assert (session.token_id, cdr.emsp_tenant_id) == (valid.pk, c.pk)


def test_a_partners_token_needs_roaming_at_the_station_and_names_no_emsp_tenant(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    roamer = EmspFactory(tenant=world["a"], country_code="FR", party_id="RRR", kind="PARTNER")
    token = TokenFactory(party=roamer, uid=UID)
    # An own token of A with this uid would win; a marketplace one would lose to the partner.
    TokenFactory(party=world["b_emsp"], uid=UID)
    st = world["station"]
    session, cdr = charge(st, django_capture_on_commit_callbacks)
    assert (session.token_id, session.token_source, session.emsp_party_id) == (
        token.pk,
        "PARTNER",
        roamer.pk,
    )
    assert (cdr.token_source, cdr.emsp_party_id, cdr.emsp_tenant_id) == ("PARTNER", roamer.pk, None)

    st.roaming = False
    st.save()
    session, cdr = charge(st, django_capture_on_commit_callbacks, uid=UID + "0")
    assert session.token_id is None  # another uid: nothing holds it
    TokenFactory(party=roamer, uid="04C0111DE6")
    session, cdr = charge(st, django_capture_on_commit_callbacks, uid="04C0111DE6")
    assert (session.token_id, cdr.token_source) == (None, "")  # no roaming here


def test_the_cdr_carries_the_contract_version_in_force_at_the_start_and_the_hcc_flag(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    b = world["b"]
    token = TokenFactory(party=world["b_emsp"], uid=UID, hcc="HCC_V")
    first = CustomerFactory(party=world["b_emsp"])
    second = CustomerFactory(party=world["b_emsp"])
    ContractFactory(
        customer=first,
        token=token,
        reference="CTR-1",
        version=1,
        valid_from=T0 - timedelta(days=30),
        valid_until=T0 - timedelta(minutes=1),
    )
    v2 = ContractFactory(
        customer=second,
        token=token,
        reference="CTR-1",
        version=2,
        valid_from=T0 - timedelta(minutes=1),
    )
    assert v2.tenant_id == b.pk
    session, cdr = charge(world["station"], django_capture_on_commit_callbacks)
    assert (cdr.contract_id, cdr.customer_id, cdr.hcc) == (v2.pk, second.pk, "HCC_V")
    # The station's own flag wins over the token's.
    st = world["station"]
    st.hcc = "HCC_E"
    st.save()
    token2 = TokenFactory(party=world["b_emsp"], uid="04C0111DE7", hcc="HCC_V")
    _, cdr2 = charge(st, django_capture_on_commit_callbacks, uid=token2.uid)
    assert (cdr2.hcc, cdr2.contract_id, cdr2.customer_id) == ("HCC_E", None, None)


def test_a_party_of_another_tenant_is_still_refused_as_an_own_identity() -> None:
    owner = PartyFactory(country_code="NL", party_id="OWN")
    other = OperatorFactory()
    with pytest.raises(Conflict):
        parties_api.party_ensure(
            tenant_id=other.pk, role=PartyRole.CPO, country_code="NL", party_id="OWN", name="x"
        )
    assert (
        parties_api.party_ensure(
            tenant_id=owner.tenant_id,
            role=PartyRole.CPO,
            country_code="nl",
            party_id="own",
            name="x",
        )
        == owner.pk
    )


def test_authorize_finds_the_tenants_own_token_behind_fifty_older_ones_of_other_tenants(
    world: dict[str, Any],
) -> None:
    """Authorize reads at most 50 rows of a uid: the station tenant's own come first, so
    other tenants holding the uid (older rows, lower ids) never hide it."""
    for n in range(55):
        other = OperatorFactory(slug=f"other-{n}")
        TokenFactory(party=EmspFactory(tenant=other, party_id=f"O{n:02d}"), uid=UID)
    TokenFactory(party=world["a_emsp"], uid=UID)
    status = tokens_api.token_authorize(
        tenant_id=world["a"].pk, station_id=world["station"].pk, uid=UID
    )
    assert status is AuthorizationStatus.ACCEPTED
