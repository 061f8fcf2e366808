"""The access rule (ADR 0015) as a table: no database, every case with its exact answer."""

from __future__ import annotations

import pytest

from apps.tokens.contracts import AuthorizationStatus as S
from apps.tokens.contracts import StationAccessFacts, TokenAccessFacts, access_decision

OPEN = StationAccessFacts(roaming=True)
NO_ROAMING = StationAccessFacts(roaming=False)
DEPOT = StationAccessFacts(roaming=True, charge_port_group_ids=frozenset({7, 8}))
DEPOT_NO_ROAMING = StationAccessFacts(roaming=False, charge_port_group_ids=frozenset({7}))

OWN = TokenAccessFacts(valid=True, own=True)
OWN_IN_7 = TokenAccessFacts(valid=True, own=True, charge_port_group_ids=frozenset({7}))
OWN_BLOCKED = TokenAccessFacts(valid=False, own=True, charge_port_group_ids=frozenset({7}))
ROAMING = TokenAccessFacts(valid=True, own=False)
ROAMING_IN_7 = TokenAccessFacts(valid=True, own=False, charge_port_group_ids=frozenset({7}))


@pytest.mark.parametrize(
    ("tokens", "station", "expected"),
    [
        ([], OPEN, S.UNKNOWN),
        ([OWN_BLOCKED], OPEN, S.BLOCKED),
        ([OWN_BLOCKED], DEPOT, S.BLOCKED),  # blocked says more than "not here"
        ([OWN], OPEN, S.ACCEPTED),
        ([OWN], NO_ROAMING, S.ACCEPTED),
        ([OWN], DEPOT, S.NOT_AT_THIS_LOCATION),
        ([OWN_IN_7], DEPOT, S.ACCEPTED),
        ([OWN_IN_7], DEPOT_NO_ROAMING, S.ACCEPTED),
        ([ROAMING], OPEN, S.ACCEPTED),
        ([ROAMING], NO_ROAMING, S.NOT_AT_THIS_LOCATION),
        ([ROAMING], DEPOT, S.NOT_AT_THIS_LOCATION),
        ([ROAMING_IN_7], DEPOT, S.ACCEPTED),
        ([ROAMING_IN_7], DEPOT_NO_ROAMING, S.NOT_AT_THIS_LOCATION),  # both conditions hold
        ([OWN_BLOCKED, OWN], DEPOT, S.NOT_AT_THIS_LOCATION),
        ([OWN_BLOCKED, OWN_IN_7], DEPOT, S.ACCEPTED),
        ([ROAMING, OWN_IN_7], DEPOT, S.ACCEPTED),  # any allowed token of the uid
    ],
)
def test_access_decision(
    tokens: list[TokenAccessFacts], station: StationAccessFacts, expected: S
) -> None:
    assert access_decision(tokens, station) is expected
