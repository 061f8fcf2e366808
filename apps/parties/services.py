from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import check_version, validated_save
from apps.parties import selectors
from apps.parties.access import audit
from apps.parties.contracts import PartnerInput, PartnerRecord, PartyKind, PartyRole, TenantRole
from apps.parties.models import Membership, Operator, Party, User

# The platform's name in the audit log for what it does on its own (ADR 0027).
MARKETPLACE_ACTOR = Actor.system("platform marketplace")


def operator_ensure(*, slug: str, name: str) -> int:
    operator, _ = Operator.objects.get_or_create(slug=slug, defaults={"name": name})
    return operator.pk


def party_ensure(
    *, tenant_id: int, role: PartyRole, country_code: str, party_id: str, name: str
) -> int:
    """The tenant's own identity (kind OWN) with this OCPI identity and role, created in
    `tenant_id` if no tenant holds it yet. One another tenant owns is refused (own
    identities are unique on the platform); so is one the tenant knows as a partner."""
    party = Party.objects.filter(
        country_code=country_code.upper(),
        party_id=party_id.upper(),
        role=role.value,
        kind=PartyKind.OWN.value,
    ).first()
    if party is None:
        if (
            Party.objects.for_tenant(tenant_id)
            .filter(country_code=country_code.upper(), party_id=party_id.upper(), role=role.value)
            .exists()
        ):
            raise Conflict(
                f"{role.value} party {country_code}*{party_id} is a partner of this tenant"
            )
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


# --- partners (ADR 0027) ---------------------------------------------------------------------


def _vat_rate(value: object, path: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        rate = Decimal(-1)
    if not rate.is_finite() or rate < 0 or rate >= 100 or rate != rate.quantize(Decimal("0.01")):
        raise ValidationFailed(
            f"invalid VAT rate {value!r}",
            problems=(Problem(path, "a percentage from 0 to 99.99 with at most 2 decimals"),),
        )
    return rate


@transaction.atomic
def partner_create(*, tenant_id: int, actor: Actor, data: PartnerInput) -> PartnerRecord:
    """A partner (kind PARTNER) of the tenant, audited with `actor`. It may carry an
    identity another tenant holds as its own or knows as a partner (two CPO tenants dealing
    with one roaming eMSP; a marketplace partner); refused when the tenant already has this
    identity in this role, as one of its own or as a partner (Conflict)."""
    try:
        role = PartyRole(data.role)
    except ValueError:
        raise ValidationFailed(
            f"unknown role {data.role!r}",
            problems=(Problem("role", f"one of {', '.join(r.value for r in PartyRole)}"),),
        ) from None
    party = Party(
        tenant_id=tenant_id,
        kind=PartyKind.PARTNER.value,
        role=role.value,
        country_code=str(data.country_code).upper(),
        party_id=str(data.party_id).upper(),
        name=data.name.strip(),
        website=data.website,
        vat_rate=_vat_rate(data.vat_rate, "vat_rate"),
    )
    existing = (
        Party.objects.for_tenant(tenant_id)
        .filter(country_code=party.country_code, party_id=party.party_id, role=role.value)
        .values_list("kind", flat=True)
        .first()
    )
    if existing is not None:
        what = "one of its own identities" if existing == PartyKind.OWN else "a partner"
        raise Conflict(
            f"{role.value} {party.country_code}*{party.party_id} is already {what} of this tenant"
        )
    try:
        with transaction.atomic():
            validated_save(party)
    except IntegrityError as exc:  # a concurrent create of the same partner
        raise Conflict(
            f"{role.value} {party.country_code}*{party.party_id} is already a partner "
            "of this tenant"
        ) from exc
    record = selectors.partner_get(tenant_id=tenant_id, partner_id=party.pk)
    audit(tenant_id, actor, "partner.create", "party", party.pk, after=_audited(record))
    return record


_UNSET = object()


@transaction.atomic
def partner_update(
    *,
    tenant_id: int,
    actor: Actor,
    partner_id: int,
    name: str | None = None,
    website: str | None = None,
    vat_rate: object = _UNSET,
    if_match: str | None = None,
) -> PartnerRecord:
    """Change a partner's name, website or VAT rate (None / unset: unchanged; a VAT rate of
    None clears it), audited with `actor`; `if_match`: the version the caller last saw
    (PreconditionFailed when it changed since). Another tenant's partner is not found."""
    party = (
        Party.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk=partner_id, kind=PartyKind.PARTNER.value)
        .first()
    )
    if party is None:
        raise NotFound(f"no partner {partner_id} in this tenant")
    check_version(party, if_match)
    before = selectors.partner_get(tenant_id=tenant_id, partner_id=partner_id)
    if name is not None:
        party.name = name.strip()
    if website is not None:
        party.website = website
    if vat_rate is not _UNSET:
        party.vat_rate = _vat_rate(vat_rate, "vat_rate")
    validated_save(party)
    after = selectors.partner_get(tenant_id=tenant_id, partner_id=partner_id)
    audit(
        tenant_id,
        actor,
        "partner.update",
        "party",
        party.pk,
        before=_audited(before),
        after=_audited(after),
    )
    return after


def _audited(record: PartnerRecord) -> dict[str, object]:
    out = asdict(record)
    for key in ("created_at", "last_updated", "etag", "marketplace_tenant"):
        out.pop(key)
    return out


@transaction.atomic
def operator_marketplace_set(*, tenant_id: int, actor: Actor, marketplace: bool) -> bool:
    """Take the tenant into the platform marketplace or out of it, audited with `actor`
    (the portal lets platform admins only). Returns whether it changed."""
    op = Operator.objects.select_for_update().filter(pk=tenant_id).first()
    if op is None:
        raise NotFound(f"no tenant {tenant_id}")
    if op.marketplace == marketplace:
        return False
    Operator.objects.filter(pk=tenant_id).update(marketplace=marketplace)
    audit(
        tenant_id,
        actor,
        "operator.marketplace_set",
        "operator",
        tenant_id,
        before={"marketplace": op.marketplace},
        after={"marketplace": marketplace},
    )
    return True


def marketplace_partner_ensure(
    *, tenant_id: int, role: PartyRole, country_code: str, party_id: str, name: str
) -> int:
    """The pk of the tenant's row for another marketplace tenant's identity: the partner
    row it has, else one the platform creates now (once, audited as the platform itself).
    Run inside the caller's transaction (the CDR pipeline); a concurrent creation of the
    same row is read back, not an error."""
    cc, pid = country_code.upper(), party_id.upper()
    rows = Party.objects.for_tenant(tenant_id).filter(
        country_code=cc, party_id=pid, role=role.value
    )
    pk = rows.values_list("pk", flat=True).first()
    if pk is not None:
        return pk
    try:
        with transaction.atomic():
            party = Party.objects.create(
                tenant_id=tenant_id,
                kind=PartyKind.PARTNER.value,
                role=role.value,
                country_code=cc,
                party_id=pid,
                name=name[:200],
            )
    except IntegrityError:
        found = rows.values_list("pk", flat=True).first()
        if found is None:
            raise
        return found
    audit(
        tenant_id,
        MARKETPLACE_ACTOR,
        "partner.create",
        "party",
        party.pk,
        after={"role": role.value, "country_code": cc, "party_id": pid, "name": party.name},
    )
    return party.pk


# -- OCPI connections (issue 19, area "connections") -------------------------------------------


def partner_ensure(
    *,
    tenant_id: int,
    actor: Actor,
    role: PartyRole,
    country_code: str,
    party_id: str,
    name: str,
    website: str = "",
) -> int | None:
    """The pk of the tenant's PARTNER row for an identity a roaming partner announced (OCPI
    credentials roles, HubClientInfo): the row it has, else one created now, audited with
    `actor`. None when the identity is one of the tenant's own (a platform that registers
    with itself has no partner to link). Safe against a concurrent creation of the row."""
    cc, pid = country_code.upper(), party_id.upper()
    rows = Party.objects.for_tenant(tenant_id).filter(
        country_code=cc, party_id=pid, role=role.value
    )
    found = rows.values_list("pk", "kind").first()
    if found is not None:
        return found[0] if found[1] == PartyKind.PARTNER.value else None
    try:
        with transaction.atomic():
            party = Party(
                tenant_id=tenant_id,
                kind=PartyKind.PARTNER.value,
                role=role.value,
                country_code=cc,
                party_id=pid,
                name=(name.strip() or f"{cc}*{pid}")[:200],
                website=website if len(website) <= 200 else "",
            )
            validated_save(party)
    except IntegrityError:
        return rows.filter(kind=PartyKind.PARTNER.value).values_list("pk", flat=True).first()
    except ValidationFailed:
        # A website the URL validator refuses: the identity still counts, the website not.
        party.website = ""
        with transaction.atomic():
            validated_save(party)
    audit(
        tenant_id,
        actor,
        "partner.create",
        "party",
        party.pk,
        after={"role": role.value, "country_code": cc, "party_id": pid, "name": party.name},
    )
    return party.pk
