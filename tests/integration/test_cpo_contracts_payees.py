"""CPO contracts and payees (issue 17, area "cust"): the lookups rating reads give the
version / payee in force at a moment, exactly; writes are checked, append-only, audited, and
never change what was in force in the past."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.common.contracts import Actor
from apps.common.errors import Conflict, ImmutableRecordError, NotFound, ValidationFailed
from apps.parties.models import AuditEntry
from apps.rating import api as rating
from apps.rating.contracts import RoundingMode
from apps.rating.models import CpoContractVersion, PayeeAssignment
from apps.rating.services.iban import iban_problem
from tests.factories import T0, ChargeStationFactory, PartyFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
H = timedelta(hours=1)


def _contract(party, **terms):
    return rating.cpo_contract_create(
        tenant_id=party.tenant_id,
        country_code=party.country_code,
        party_id=party.party_id,
        reference="CPO-1",
        effective_from=T0,
        terms=terms,
        actor=ACTOR,
    )


def test_terms_in_force_by_moment_exactly() -> None:
    party = PartyFactory()
    c = _contract(party, vat_rate="21", vat_country="nl")
    rating.cpo_contract_version_add(
        tenant_id=party.tenant_id,
        contract_id=c.id,
        effective_from=T0 + 10 * H,
        terms={"vat_rate": "9.5", "rounding_mode": RoundingMode.HALF_EVEN.value},
        actor=ACTOR,
        now=T0 + H,
    )
    at = lambda moment: rating.cpo_contract_terms(  # noqa: E731
        tenant_id=party.tenant_id, party_id=party.pk, at=moment
    )
    assert at(T0 - timedelta(microseconds=1)) is None
    first, edge, second = at(T0), at(T0 + 10 * H - timedelta(microseconds=1)), at(T0 + 10 * H)
    assert first == edge
    v1, v2 = CpoContractVersion.objects.order_by("version")
    assert (first.version_id, first.vat_rate, first.vat_country, first.rounding_mode) == (
        v1.pk,
        Decimal("21.00"),
        "NL",
        RoundingMode.HALF_UP,
    )
    assert (second.version_id, second.vat_rate, second.vat_country, second.rounding_mode) == (
        v2.pk,
        Decimal("9.50"),
        "NL",  # carried over from version 1
        RoundingMode.HALF_EVEN,
    )
    # The bulk lookup answers the same, and nothing for another tenant's party.
    other = PartyFactory()
    keys = [(party.tenant_id, party.pk, T0), (party.tenant_id, party.pk, T0 + 11 * H)]
    keys.append((other.tenant_id, party.pk, T0 + 11 * H))
    bulk = rating.cpo_contracts_terms(keys=keys)
    assert bulk == {keys[0]: first, keys[1]: second, keys[2]: None}
    assert rating.cpo_contract_terms(tenant_id=other.tenant_id, party_id=party.pk, at=T0) is None


def test_versions_are_append_only_and_never_start_in_the_past() -> None:
    party = PartyFactory()
    c = _contract(party)
    with pytest.raises(ValidationFailed) as refused:
        rating.cpo_contract_version_add(
            tenant_id=party.tenant_id,
            contract_id=c.id,
            effective_from=T0 + H,
            terms={"vat_rate": "1"},
            actor=ACTOR,
            now=T0 + 2 * H,
        )
    assert refused.value.problems[0].path == "$.effective_from"
    version = CpoContractVersion.objects.get()
    version.vat_rate = Decimal("5")
    with pytest.raises(ImmutableRecordError):
        version.save()
    assert [e.action for e in AuditEntry.objects.order_by("id")] == ["cpo_contract.create"]


@pytest.mark.parametrize(
    ("terms", "path"),
    [
        ({"vat_rate": "100.01"}, "$.vat_rate"),
        ({"vat_rate": "-1"}, "$.vat_rate"),
        ({"vat_rate": "7.125"}, "$.vat_rate"),
        ({"rounding_mode": "ROUND_05UP"}, "$.rounding_mode"),
        ({"vat_country": "NLD"}, "$.vat_country"),
        ({"payee_iban": "NL91ABNA0417164301"}, "$.payee_iban"),
        ({"payee_bic": "AB"}, "$.payee_bic"),
    ],
)
def test_bad_terms_are_refused_at_their_path(terms: dict[str, str], path: str) -> None:
    party = PartyFactory()
    with pytest.raises(ValidationFailed) as refused:
        _contract(party, **terms)
    assert [p.path for p in refused.value.problems] == [path]
    assert not CpoContractVersion.objects.exists()


def test_one_contract_per_party_and_only_the_tenants_cpo_parties() -> None:
    party = PartyFactory()
    _contract(party)
    with pytest.raises(Conflict):
        _contract(party)
    foreign = PartyFactory()
    with pytest.raises(ValidationFailed):
        rating.cpo_contract_create(
            tenant_id=party.tenant_id,
            country_code=foreign.country_code,
            party_id=foreign.party_id,
            reference="X",
            effective_from=T0,
            terms={},
            actor=ACTOR,
        )


def test_payees_in_force_by_moment_in_bulk() -> None:
    station = ChargeStationFactory()
    other_station = ChargeStationFactory(tenant=station.tenant, location=station.location)
    t = station.tenant_id
    jan = rating.payee_create(tenant_id=t, values={"kind": "HOME", "name": "Jan"}, actor=ACTOR)
    piet = rating.payee_create(tenant_id=t, values={"kind": "SITE_HOST", "name": "P"}, actor=ACTOR)
    rating.payee_assign(
        tenant_id=t, station_id=station.pk, payee_id=jan.id, effective_from=T0, actor=ACTOR, now=T0
    )
    rating.payee_assign(
        tenant_id=t,
        station_id=station.pk,
        payee_id=piet.id,
        effective_from=T0 + 5 * H,
        actor=ACTOR,
        now=T0,
    )
    rating.payee_assign(
        tenant_id=t,
        station_id=station.pk,
        payee_id=None,
        effective_from=T0 + 9 * H,
        actor=ACTOR,
        now=T0,
    )
    keys = [
        (station.pk, T0 - H),
        (station.pk, T0),
        (station.pk, T0 + 5 * H - timedelta(microseconds=1)),
        (station.pk, T0 + 5 * H),
        (station.pk, T0 + 9 * H),
        (other_station.pk, T0 + 6 * H),
    ]
    assert list(rating.payees_in_force(keys=keys).values()) == [
        None,
        jan.id,
        jan.id,
        piet.id,
        None,
        None,
    ]
    assert rating.payee_stations(tenant_id=t, payee_id=piet.id, at=T0 + 6 * H) == [station.pk]
    actions = AuditEntry.objects.filter(object_type="charge_station").order_by("id")
    assert [e.action for e in actions] == ["payee.assign", "payee.assign", "payee.unassign"]


def test_payee_assignment_refusals() -> None:
    station = ChargeStationFactory()
    t = station.tenant_id
    jan = rating.payee_create(tenant_id=t, values={"kind": "HOME", "name": "Jan"}, actor=ACTOR)
    foreign_station = ChargeStationFactory()
    with pytest.raises(NotFound):
        rating.payee_assign(
            tenant_id=t,
            station_id=foreign_station.pk,
            payee_id=jan.id,
            effective_from=T0,
            actor=ACTOR,
            now=T0,
        )
    rating.payee_assign(
        tenant_id=t, station_id=station.pk, payee_id=jan.id, effective_from=T0, actor=ACTOR, now=T0
    )
    other = rating.payee_create(tenant_id=t, values={"kind": "HOME", "name": "O"}, actor=ACTOR)
    with pytest.raises(ValidationFailed) as past:
        rating.payee_assign(
            tenant_id=t,
            station_id=station.pk,
            payee_id=other.id,
            effective_from=T0 + H,
            actor=ACTOR,
            now=T0 + 2 * H,
        )
    assert "past session never changes" in past.value.problems[0].message
    # Idempotent: the payee already in force.
    again = rating.payee_assign(
        tenant_id=t,
        station_id=station.pk,
        payee_id=jan.id,
        effective_from=T0 + 3 * H,
        actor=ACTOR,
        now=T0 + 3 * H,
    )
    assert again.effective_from == T0 and PayeeAssignment.objects.count() == 1
    with pytest.raises(ValidationFailed) as bad_iban:
        rating.payee_create(
            tenant_id=t,
            values={"kind": "HOME", "name": "X", "iban": "GB00WEST12345698765432"},
            actor=ACTOR,
        )
    assert bad_iban.value.problems[0].path == "$.iban"


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_iban_check_digits_catch_every_single_digit_change(account: str) -> None:
    """ISO 13616 mod 97 detects every one-digit error: a valid IBAN built from any account
    number passes, and changing any one digit of it fails."""
    bban = "ABNA" + account
    check = 98 - int("".join(str(int(ch, 36)) for ch in bban + "NL00")) % 97
    iban = f"NL{check:02d}{bban}"
    assert iban_problem(iban) is None
    for i in range(8, len(iban)):
        wrong = iban[:i] + str((int(iban[i]) + 1) % 10) + iban[i + 1 :]
        assert iban_problem(wrong) is not None, wrong
