"""OCPI sender pages of sessions and CDRs (issue 19): what one eMSP partner may pull
(`sessions.ocpi_session_page`, `cdrs.ocpi_cdr_page` use the helpers here).

A partner sees only the sessions and CDRs of its own tokens (`emsp_party`, matched on the
OCPI country_code + party_id of its roles; not those of an eMSP running on this platform,
which sees them inside it), ordered by (last_updated, id): a session's
`updated_at`, a CDR's `created_at` (CDRs are immutable). `date_from` is inclusive and
`date_to` exclusive.

Deep offsets stay cheap: the offset is first resolved to the (last_updated, id) key of the
page's first row with a narrow query that reads only the partial index
(tenant, emsp_party, last_updated, id); the page itself is then a keyset seek from that key
(`(last_updated, id) >= key ORDER BY ... LIMIT n`), and only its rows are rendered with
their joins. A row inserted behind the crawl's position never shifts the pages ahead.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db.models import Q

from apps.charging.models import Cdr, ChargingSession


def emsp_filter(parties: Collection[tuple[str, str]]) -> Q:
    """Of these eMSP parties' tokens, and of an eMSP outside the platform only (a marketplace
    tenant's driver is seen inside the platform, never a second time over OCPI)."""
    q = Q()
    for country_code, party_id in parties:
        q |= Q(emsp_party__country_code=country_code.upper(), emsp_party__party_id=party_id.upper())
    return q & Q(emsp_tenant__isnull=True)


def keyset_page_ids(
    qs: Any,
    stamp: str,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> tuple[int, list[int]]:
    """(total, ids of the page) of `qs` in (`stamp`, id) order, [date_from, date_to)."""
    if date_from is not None:
        qs = qs.filter(**{f"{stamp}__gte": date_from})
    if date_to is not None:
        qs = qs.filter(**{f"{stamp}__lt": date_to})
    total = qs.count()
    if limit <= 0 or offset >= total:
        return total, []
    key = qs.order_by(stamp, "id").values_list(stamp, "id")[offset : offset + 1].first()
    if key is None:
        return total, []
    at, pk = key
    ids = list(
        qs.filter(Q(**{f"{stamp}__gt": at}) | Q(**{stamp: at, "id__gte": pk}))
        .order_by(stamp, "id")
        .values_list("id", flat=True)[:limit]
    )
    return total, ids


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
