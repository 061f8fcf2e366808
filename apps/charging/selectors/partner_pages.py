"""OCPI sender pages of sessions and CDRs (issue 19): what one eMSP partner may pull
(`sessions.ocpi_session_page`, `cdrs.ocpi_cdr_page` use the helpers here).

A partner sees only the sessions and CDRs of its own tokens (`emsp_party`, matched on the
OCPI country_code + party_id of its roles; not those of an eMSP running on this platform,
which sees them inside it), ordered by (last_updated, id): a session's
`updated_at`, a CDR's `created_at` (CDRs are immutable). `date_from` is inclusive and
`date_to` exclusive.

Deep offsets stay cheap: the pages are apps.common.keyset's (the offset resolved to a key
over the partial index (tenant, emsp_party, last_updated, id), then a keyset seek); only the
page's rows are rendered with their joins. A row inserted behind the crawl's position never
shifts the pages ahead.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Q

from apps.charging.models import Cdr, ChargingSession
from apps.common.keyset import keyset_page_ids

__all__ = ["cdr_emsp_party", "emsp_filter", "keyset_page_ids", "session_emsp_party"]


def emsp_filter(parties: Collection[tuple[str, str]]) -> Q:
    """Of these eMSP parties' tokens, and of an eMSP outside the platform only (a marketplace
    tenant's driver is seen inside the platform, never a second time over OCPI)."""
    q = Q()
    for country_code, party_id in parties:
        q |= Q(emsp_party__country_code=country_code.upper(), emsp_party__party_id=party_id.upper())
    return q & Q(emsp_tenant__isnull=True)


def session_emsp_party(*, tenant_id: int, session_id: int) -> tuple[str, str] | None:
    """(country_code, party_id) of the eMSP whose token a session is, or None. None too when
    that eMSP runs on this platform (its own tenant, or a marketplace tenant, which sees the
    session inside the platform): OCPI is for eMSPs outside it, never both ways at once."""
    row = (
        ChargingSession.objects.filter(
            tenant_id=tenant_id, pk=session_id, emsp_party__isnull=False, emsp_tenant__isnull=True
        )
        .values_list("emsp_party__country_code", "emsp_party__party_id")
        .first()
    )
    return None if row is None else (row[0], row[1])


def cdr_emsp_party(*, tenant_id: int, cdr_id: int) -> tuple[str, str] | None:
    """(country_code, party_id) of the eMSP whose token a CDR is, or None; None too when that
    eMSP runs on this platform (see `session_emsp_party`)."""
    row = (
        Cdr.objects.filter(
            tenant_id=tenant_id, pk=cdr_id, emsp_party__isnull=False, emsp_tenant__isnull=True
        )
        .values_list("emsp_party__country_code", "emsp_party__party_id")
        .first()
    )
    return None if row is None else (row[0], row[1])
