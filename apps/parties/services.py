from __future__ import annotations

from django.db import transaction

from apps.common.errors import Conflict
from apps.common.services import validated_save
from apps.parties.contracts import PartyRole, TenantRole
from apps.parties.models import Membership, Operator, Party, User


def operator_ensure(*, slug: str, name: str) -> int:
    operator, _ = Operator.objects.get_or_create(slug=slug, defaults={"name": name})
    return operator.pk


def party_ensure(
    *, tenant_id: int, role: PartyRole, country_code: str, party_id: str, name: str
) -> int:
    """The party with this OCPI identity, created in `tenant_id` if it does not exist yet."""
    party = Party.objects.filter(
        country_code=country_code.upper(), party_id=party_id.upper(), role=role.value
    ).first()
    if party is None:
        party = Party(
            tenant_id=tenant_id,
            country_code=country_code.upper(),
            party_id=party_id.upper(),
            role=role.value,
            name=name,
        )
        validated_save(party)
    elif party.tenant_id != tenant_id:
        raise Conflict(f"{role.value} party {country_code}*{party_id} belongs to another tenant")
    return party.pk


@transaction.atomic
def user_ensure_with_role(
    *, email: str, password: str, tenant_id: int, role: TenantRole, is_staff: bool = False
) -> int:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User(username=email, email=email, is_staff=is_staff, is_superuser=is_staff)
        user.set_password(password)
        user.save()
    Membership.objects.get_or_create(user=user, tenant_id=tenant_id, defaults={"role": role.value})
    return user.pk
