"""Access control (ADR 0015): EMAID groups (sets of the tenant's tokens) and charge-port
groups (sets of the tenant's charge stations), and the Authorize decision built on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, When

from apps.common.errors import Conflict, NotFound, ValidationFailed
from apps.locations import api as locations_api
from apps.parties import api as parties_api
from apps.parties.contracts import PartyKind
from apps.tokens.contracts import (
    AuthorizationStatus,
    StationAccessFacts,
    TokenAccessFacts,
    access_decision,
)
from apps.tokens.models import (
    ChargePortGroup,
    ChargePortGroupStation,
    EmaidGroup,
    EmaidGroupAccess,
    EmaidGroupToken,
    Token,
)

# -- the decision --------------------------------------------------------------------------


def token_authorize(*, tenant_id: int, station_id: int, uid: str) -> AuthorizationStatus:
    """May a station of `tenant_id` start charging for `uid`? The tokens are looked for in
    the attribution order (ADR 0027): the station tenant's own (kind OWN eMSP party) and its
    partners' tokens decide as access control says (ADR 0015: a partner's token needs
    roaming at the station); only when the tenant has none with this uid, the tokens of
    other marketplace tenants (their own eMSP identities), when both tenants are in the
    marketplace and the station admits roaming: exactly one valid such token is accepted
    (charge-port groups apply: a marketplace token is in none of this tenant's EMAID
    groups); two are Unknown (ambiguous, never a guess). A few queries; one when the uid is
    unknown or blocked in the tenant."""
    # The station tenant's own rows first, so the cap never cuts them off.
    rows = list(
        Token.objects.filter(uid=uid)
        .order_by(Case(When(tenant_id=tenant_id, then=0), default=1), "id")
        .values_list("id", "tenant_id", "valid", "party__kind", "tenant__marketplace")[:50]
    )
    mine = [(tid, valid, kind) for tid, tenant, valid, kind, _ in rows if tenant == tenant_id]
    if not mine:
        return _authorize_marketplace(tenant_id, station_id, rows)
    if not any(valid for _, valid, _ in mine):
        return access_decision([TokenAccessFacts(valid=False, own=False)] * len(mine), _NOWHERE)
    roaming = locations_api.charge_station_roaming(tenant_id=tenant_id, station_id=station_id)
    if roaming is None:  # not a station of this tenant: never answer for another tenant
        return AuthorizationStatus.NOT_AT_THIS_LOCATION
    station_groups = _station_groups(tenant_id, station_id)
    granted: dict[int, set[int]] = {}
    if station_groups:
        for token_id, group_id in (
            EmaidGroupToken.objects.for_tenant(tenant_id)
            .filter(
                token_id__in=[r[0] for r in mine if r[1]],
                group__accesses__charge_port_group_id__in=station_groups,
            )
            .values_list("token_id", "group__accesses__charge_port_group_id")
        ):
            granted.setdefault(token_id, set()).add(group_id)
    return access_decision(
        [
            TokenAccessFacts(
                valid=valid,
                own=kind == PartyKind.OWN,
                charge_port_group_ids=frozenset(granted.get(token_id, ())),
            )
            for token_id, valid, kind in mine
        ],
        StationAccessFacts(roaming=roaming, charge_port_group_ids=station_groups),
    )


def _station_groups(tenant_id: int, station_id: int) -> frozenset[int]:
    return frozenset(
        ChargePortGroupStation.objects.for_tenant(tenant_id)
        .filter(charge_station_id=station_id)
        .values_list("group_id", flat=True)
    )


def _authorize_marketplace(
    tenant_id: int, station_id: int, rows: list[tuple[int, int, bool, str, bool]]
) -> AuthorizationStatus:
    """The marketplace tier of `token_authorize` (the station's tenant has no such token)."""
    theirs = [
        valid for _, _, valid, kind, marketplace in rows if marketplace and kind == PartyKind.OWN
    ]
    if not theirs or not parties_api.operator_marketplace(tenant_id=tenant_id):
        return AuthorizationStatus.UNKNOWN
    valid = [v for v in theirs if v]
    if not valid:
        return AuthorizationStatus.BLOCKED
    if len(valid) > 1:
        return AuthorizationStatus.UNKNOWN  # two marketplace tenants hold it: ambiguous
    roaming = locations_api.charge_station_roaming(tenant_id=tenant_id, station_id=station_id)
    if roaming is None:
        return AuthorizationStatus.NOT_AT_THIS_LOCATION
    if not roaming:
        return AuthorizationStatus.UNKNOWN  # no roaming here: another tenant's token is none
    return access_decision(
        [TokenAccessFacts(valid=True, own=False)],
        StationAccessFacts(
            roaming=True, charge_port_group_ids=_station_groups(tenant_id, station_id)
        ),
    )


_NOWHERE = StationAccessFacts(roaming=False)


# -- managing the groups -------------------------------------------------------------------


def _create(model: type[ChargePortGroup] | type[EmaidGroup], tenant_id: int, name: str) -> int:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed(f"a {model._meta.verbose_name} name is 1 to 100 characters")
    try:
        with transaction.atomic():
            return model.objects.create(tenant_id=tenant_id, name=name).pk
    except IntegrityError as exc:
        raise Conflict(
            f"this tenant already has a {model._meta.verbose_name} named {name!r}"
        ) from exc


def charge_port_group_create(*, tenant_id: int, name: str) -> int:
    return _create(ChargePortGroup, tenant_id, name)


def emaid_group_create(*, tenant_id: int, name: str) -> int:
    return _create(EmaidGroup, tenant_id, name)


def _group(model: type[ChargePortGroup] | type[EmaidGroup], tenant_id: int, group_id: int) -> None:
    if not model.objects.for_tenant(tenant_id).filter(pk=group_id).exists():
        raise NotFound(f"no {model._meta.verbose_name} {group_id} in this tenant")


def _not_of_tenant(what: str, wanted: Sequence[int], found: set[int]) -> None:
    missing = sorted(set(wanted) - found)
    if missing:
        raise ValidationFailed(f"no {what} {', '.join(map(str, missing))} in this tenant")


def _members_add(
    model: Any, tenant_id: int, group: tuple[str, int], member: str, ids: set[int]
) -> int:
    """Link `ids` (already checked to be the tenant's) to the group; how many were new."""
    group_field, group_id = group
    rows = model.objects.filter(**{group_field: group_id})
    before = rows.count()
    model.objects.bulk_create(
        [model(tenant_id=tenant_id, **{group_field: group_id, member: i}) for i in sorted(ids)],
        ignore_conflicts=True,
    )
    return int(rows.count() - before)


def _members_remove(
    model: Any, tenant_id: int, group: tuple[str, int], member: str, ids: Sequence[int]
) -> int:
    group_field, group_id = group
    deleted, _ = (
        model.objects.for_tenant(tenant_id)
        .filter(**{group_field: group_id, f"{member}__in": set(ids)})
        .delete()
    )
    return int(deleted)


@transaction.atomic
def charge_port_group_stations_add(
    *, tenant_id: int, group_id: int, station_ids: Sequence[int]
) -> int:
    """Add charge stations of the tenant to the group; returns how many were not in it."""
    _group(ChargePortGroup, tenant_id, group_id)
    found = locations_api.charge_station_ids_of_tenant(tenant_id=tenant_id, station_ids=station_ids)
    _not_of_tenant("charge station", station_ids, found)
    return _members_add(
        ChargePortGroupStation, tenant_id, ("group_id", group_id), "charge_station_id", found
    )


@transaction.atomic
def charge_port_group_stations_remove(
    *, tenant_id: int, group_id: int, station_ids: Sequence[int]
) -> int:
    _group(ChargePortGroup, tenant_id, group_id)
    return _members_remove(
        ChargePortGroupStation, tenant_id, ("group_id", group_id), "charge_station_id", station_ids
    )


@transaction.atomic
def emaid_group_tokens_add(*, tenant_id: int, group_id: int, token_ids: Sequence[int]) -> int:
    """Add tokens of the tenant to the EMAID group; returns how many were not in it."""
    _group(EmaidGroup, tenant_id, group_id)
    found = set(
        Token.objects.for_tenant(tenant_id)
        .filter(pk__in=set(token_ids))
        .values_list("pk", flat=True)
    )
    _not_of_tenant("token", token_ids, found)
    return _members_add(EmaidGroupToken, tenant_id, ("group_id", group_id), "token_id", found)


@transaction.atomic
def emaid_group_tokens_remove(*, tenant_id: int, group_id: int, token_ids: Sequence[int]) -> int:
    _group(EmaidGroup, tenant_id, group_id)
    return _members_remove(
        EmaidGroupToken, tenant_id, ("group_id", group_id), "token_id", token_ids
    )


@transaction.atomic
def emaid_group_charge_port_groups_assign(
    *, tenant_id: int, group_id: int, charge_port_group_ids: Sequence[int]
) -> int:
    """Let the EMAID group's tokens charge at the stations of these charge-port groups."""
    _group(EmaidGroup, tenant_id, group_id)
    found = set(
        ChargePortGroup.objects.for_tenant(tenant_id)
        .filter(pk__in=set(charge_port_group_ids))
        .values_list("pk", flat=True)
    )
    _not_of_tenant("charge-port group", charge_port_group_ids, found)
    return _members_add(
        EmaidGroupAccess, tenant_id, ("emaid_group_id", group_id), "charge_port_group_id", found
    )


@transaction.atomic
def emaid_group_charge_port_groups_unassign(
    *, tenant_id: int, group_id: int, charge_port_group_ids: Sequence[int]
) -> int:
    _group(EmaidGroup, tenant_id, group_id)
    return _members_remove(
        EmaidGroupAccess,
        tenant_id,
        ("emaid_group_id", group_id),
        "charge_port_group_id",
        charge_port_group_ids,
    )
