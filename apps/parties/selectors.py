"""Reads of the parties app: partners and the marketplace setting (ADR 0027)."""

from __future__ import annotations

from collections.abc import Iterable

from apps.common.errors import NotFound
from apps.common.services import version_tag
from apps.parties.contracts import PartnerRecord, PartyKind, PartyRole
from apps.parties.models import Operator, Party


def _partner(p: Party, marketplace_identities: set[tuple[str, str, str]]) -> PartnerRecord:
    return PartnerRecord(
        id=p.pk,
        role=PartyRole(p.role),
        country_code=p.country_code,
        party_id=p.party_id,
        name=p.name,
        website=p.website,
        vat_rate=p.vat_rate,
        marketplace_tenant=(p.country_code, p.party_id, p.role) in marketplace_identities,
        created_at=p.created_at,
        last_updated=p.updated_at,
        etag=version_tag(p),
    )


def _marketplace_identities(tenant_id: int, parties: list[Party]) -> set[tuple[str, str, str]]:
    """Of these partners' identities, those another marketplace tenant holds as its own
    (one query)."""
    if not parties:
        return set()
    rows = Party.objects.filter(
        kind=PartyKind.OWN.value,
        tenant__marketplace=True,
        country_code__in={p.country_code for p in parties},
        party_id__in={p.party_id for p in parties},
    ).exclude(tenant_id=tenant_id)
    return set(rows.values_list("country_code", "party_id", "role"))


def partner_list(
    *,
    tenant_id: int,
    role: PartyRole | None = None,
    after_id: int | None = None,
    limit: int = 1000,
) -> list[PartnerRecord]:
    """The tenant's partners in id order (keyset: those after `after_id`)."""
    qs = Party.objects.for_tenant(tenant_id).filter(kind=PartyKind.PARTNER.value)
    if role is not None:
        qs = qs.filter(role=role.value)
    if after_id is not None:
        qs = qs.filter(pk__gt=after_id)
    parties = list(qs.order_by("id")[:limit])
    found = _marketplace_identities(tenant_id, parties)
    return [_partner(p, found) for p in parties]


def partner_get(*, tenant_id: int, partner_id: int) -> PartnerRecord:
    """One partner of the tenant; another tenant's (or an own identity) is not found."""
    p = (
        Party.objects.for_tenant(tenant_id)
        .filter(pk=partner_id, kind=PartyKind.PARTNER.value)
        .first()
    )
    if p is None:
        raise NotFound(f"no partner {partner_id} in this tenant")
    return _partner(p, _marketplace_identities(tenant_id, [p]))


def operator_marketplace(*, tenant_id: int) -> bool:
    """Whether the tenant takes part in the platform marketplace."""
    return bool(Operator.objects.filter(pk=tenant_id).values_list("marketplace", flat=True).first())


def marketplace_tenant_ids(*, tenant_ids: Iterable[int]) -> set[int]:
    """Those of these tenants that take part in the marketplace (one query)."""
    return set(
        Operator.objects.filter(pk__in=set(tenant_ids), marketplace=True).values_list(
            "pk", flat=True
        )
    )
