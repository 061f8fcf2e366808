"""Public functions of the parties app. Other apps and outer layers import only this module
and `contracts`."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Q

from apps.common.errors import NotFound, Problem, ValidationFailed
from apps.parties import access, admin_audit, selectors, services
from apps.parties.contracts import OperatorRef, PartyKind, PartyRef, PartyRole
from apps.parties.models import Operator, Party

operator_ensure = services.operator_ensure
party_ensure = services.party_ensure
user_ensure_with_role = services.user_ensure_with_role
# Partners and the marketplace (ADR 0027; area attrib).
partner_create = services.partner_create
partner_update = services.partner_update
partner_list = selectors.partner_list
partner_get = selectors.partner_get
operator_marketplace_set = services.operator_marketplace_set
operator_marketplace = selectors.operator_marketplace
marketplace_tenant_ids = selectors.marketplace_tenant_ids
marketplace_partner_ensure = services.marketplace_partner_ensure
# OCPI connections (issue 19, area "connections"): the partner rows of a partner's roles.
partner_ensure = services.partner_ensure


def _party_ref(p: Party) -> PartyRef:
    return PartyRef(
        id=p.pk,
        tenant_id=p.tenant_id,
        role=PartyRole(p.role),
        country_code=p.country_code,
        party_id=p.party_id,
        name=p.name,
        kind=PartyKind(p.kind),
    )


def operator_get(*, slug: str) -> OperatorRef:
    try:
        op = Operator.objects.get(slug=slug)
    except Operator.DoesNotExist:
        raise NotFound(f"no operator with slug {slug!r}") from None
    return OperatorRef(id=op.pk, slug=op.slug, name=op.name)


def operator_slugs() -> list[str]:
    """Every operator's slug, sorted (to tell a caller which ones exist)."""
    return sorted(Operator.objects.values_list("slug", flat=True))


def party_get(*, country_code: str, party_id: str, role: PartyRole) -> PartyRef:
    """The tenant identity (kind OWN) with this OCPI identity and role, whichever tenant
    holds it."""
    try:
        p = Party.objects.get(
            country_code=country_code.upper(),
            party_id=party_id.upper(),
            role=role.value,
            kind=PartyKind.OWN.value,
        )
    except Party.DoesNotExist:
        raise NotFound(f"no {role.value} party {country_code}*{party_id}") from None
    return _party_ref(p)


# (tenant, country code, party id, role) -> (pk, cached at): a party's OCPI identity is
# unique and almost never changes; hot write paths (token PUT) skip the look-up for this long.
_PK_CACHE: dict[tuple[int, str, str, str], tuple[int, float]] = {}
PK_CACHE_SECONDS = 30.0


def party_pk_for_tenant_cached(
    *, tenant_id: int, country_code: str, party_id: str, role: PartyRole, path: str = "$"
) -> int:
    """`party_pk_for_tenant` with a per-process cache of found parties (PK_CACHE_SECONDS):
    a party whose identity was changed may still be found under the old one for that long.
    Misses are never cached."""
    import time

    key = (tenant_id, str(country_code).upper(), str(party_id).upper(), role.value)
    hit = _PK_CACHE.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[1] < PK_CACHE_SECONDS:
        return hit[0]
    pk = party_pk_for_tenant(
        tenant_id=tenant_id, country_code=country_code, party_id=party_id, role=role, path=path
    )
    if len(_PK_CACHE) > 10_000:
        _PK_CACHE.clear()
    _PK_CACHE[key] = (pk, now)
    return pk


def party_pk_cache_clear() -> None:
    _PK_CACHE.clear()


def party_pk_for_tenant(
    *,
    tenant_id: int,
    country_code: str,
    party_id: str,
    role: PartyRole,
    path: str = "$",
    own_only: bool = False,
) -> int:
    """The pk of this tenant's party with this OCPI identity and role, whichever its kind:
    one of its own identities or a partner (a CPO tenant stores the tokens of a partner
    eMSP; ADR 0027), or only its own identities with `own_only` (a location belongs to one of
    the tenant's own CPO identities). Another tenant's party (or none) is a validation
    problem at `path`, worded the same in both cases so that one tenant cannot learn which
    identities another tenant holds."""
    pk = (
        Party.objects.filter(
            tenant_id=tenant_id,
            country_code=str(country_code).upper(),
            party_id=str(party_id).upper(),
            role=role.value,
            **({"kind": PartyKind.OWN.value} if own_only else {}),
        )
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        raise ValidationFailed(
            f"no {role.value} party {country_code}*{party_id} in this tenant",
            problems=(
                Problem(path, f"no {role.value} party {country_code}*{party_id} in this tenant"),
            ),
        )
    return pk


def party_by_pk(*, pk: int) -> PartyRef:
    p = Party.objects.get(pk=pk)
    return _party_ref(p)


# Sign-in, roles and the audit log (apps.parties.access).
memberships_of_user = access.memberships_of_user
membership_set = access.membership_set
sign_in_check = access.sign_in_check
sign_in_failure_record = access.sign_in_failure_record
sign_in_success_record = access.sign_in_success_record
sign_in_throttles = access.sign_in_throttles
sign_in_unlock = access.sign_in_unlock
sign_in_client_key = access.client_key
mfa_state = access.mfa_state
mfa_totp_begin = access.mfa_totp_begin
mfa_totp_pending = access.mfa_totp_pending
mfa_totp_confirm = access.mfa_totp_confirm
mfa_recovery_codes_new = access.mfa_recovery_codes_new
mfa_reset = access.mfa_reset
audit_record = access.audit_record
audit = access.audit
# The Django admin's ModelAdmin for domain rows: staff edits are audited too.
AuditedAdmin = admin_audit.AuditedAdmin
audit_record_with = access.audit_record_with
audit_list = access.audit_list


def party_and_own_parties(
    *, tenant_id: int, pk: int, own_role: PartyRole
) -> tuple[PartyRef | None, list[PartyRef]]:
    """This tenant's party with this pk (None: not one of the tenant's) and the tenant's
    own identities of `own_role`, in one query."""
    rows = [
        _party_ref(p)
        for p in Party.objects.filter(tenant_id=tenant_id)
        .filter(Q(pk=pk) | Q(role=own_role.value, kind=PartyKind.OWN.value))
        .order_by("country_code", "party_id")
    ]
    own = [p for p in rows if p.role is own_role and p.kind is PartyKind.OWN]
    return next((p for p in rows if p.id == pk), None), own


def parties_of_tenant(*, tenant_id: int, role: PartyRole | None = None) -> list[PartyRef]:
    qs = Party.objects.filter(tenant_id=tenant_id)
    if role is not None:
        qs = qs.filter(role=role.value)
    return [_party_ref(p) for p in qs.order_by("country_code", "party_id")]


def party_vat_rates(*, party_ids: Iterable[int]) -> dict[int, Decimal | None]:
    """Each party's own VAT rate (percent; None: not set), the last level of the rating
    engines' VAT resolution (issue 17, area "rate"). One query."""
    return dict(Party.objects.filter(pk__in=set(party_ids)).values_list("pk", "vat_rate"))
