from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Max, OuterRef, Subquery
from django.db.models.functions import Greatest

from apps.common.errors import NotFound
from apps.common.keyset import keyset_page
from apps.tariffs.contracts import (
    BillingEngine,
    ImportStatus,
    TariffAssignmentRecord,
    TariffCodeRecord,
    TariffRecord,
    TariffSnapshot,
    TariffVersionInfo,
    TariffVersionTerms,
)
from apps.tariffs.models import (
    Tariff,
    TariffAssignment,
    TariffCode,
    TariffCodeImport,
    TariffVersion,
)


def tariff_for_session(
    *, charge_station_id: int, connector_id: int | None, at: datetime
) -> TariffSnapshot | None:
    """The tariff version a session starting at `at` on this connector is priced with:
    the connector's override if one is in force, else the station's default code; then that
    code's tariff version in force at `at`. None when nothing is assigned or no version is
    effective yet (the session is then flagged, never priced by guess)."""
    assignments = TariffAssignment.objects.filter(
        charge_station_id=charge_station_id, effective_from__lte=at
    ).select_related("tariff_code")
    assignment = None
    if connector_id is not None:
        assignment = (
            assignments.filter(connector_id=connector_id).order_by("-effective_from").first()
        )
    if assignment is None:
        assignment = assignments.filter(connector__isnull=True).order_by("-effective_from").first()
    if assignment is None:
        return None
    version = (
        TariffVersion.objects.filter(
            tariff_id=assignment.tariff_code.tariff_id, effective_from__lte=at
        )
        .select_related("tariff")
        .order_by("-effective_from")
        .first()
    )
    if version is None:
        return None
    return TariffSnapshot(
        tariff_id=version.tariff_id,
        tariff_version_id=version.pk,
        version=version.version,
        ocpi_id=version.tariff.ocpi_id,
        currency=version.tariff.currency,
        effective_from=version.effective_from,
        ocpi=version.ocpi,
    )


def tariff_versions_count(*, tariff_id: int) -> int:
    return TariffVersion.objects.filter(tariff_id=tariff_id).count()


def _tariff(t: Tariff, at: datetime) -> TariffRecord:
    versions = sorted(t.versions.all(), key=lambda v: v.version)
    in_force = [v for v in versions if v.effective_from <= at]
    current = (
        max(in_force, key=lambda v: v.effective_from)
        if in_force
        else (versions[0] if versions else None)
    )
    last = max([t.updated_at, *(v.created_at for v in versions)])
    ocpi = None
    if current is not None:
        ocpi = {
            **from_stored(current.ocpi),
            "country_code": t.party.country_code,
            "party_id": t.party.party_id,
            "id": t.ocpi_id,
            "currency": t.currency,
            "last_updated": current.created_at,
        }
    return TariffRecord(
        platform_id=t.pk,
        country_code=t.party.country_code,
        party_id=t.party.party_id,
        id=t.ocpi_id,
        currency=t.currency,
        type=t.type,
        name=t.name,
        engine=t.engine,
        current_version=current.version if current else None,
        ocpi=ocpi,
        versions=tuple(
            TariffVersionInfo(
                version=v.version, effective_from=v.effective_from, created_at=v.created_at
            )
            for v in versions
        ),
        last_updated=last,
    )


def tariff_get(*, tenant_id: int, tariff_id: int, at: datetime) -> TariffRecord:
    t = (
        Tariff.objects.for_tenant(tenant_id)
        .select_related("party")
        .prefetch_related("versions")
        .filter(pk=tariff_id)
        .first()
    )
    if t is None:
        raise NotFound(f"no tariff {tariff_id} in this tenant")
    return _tariff(t, at)


def tariff_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    at: datetime,
    country_code: str | None = None,
    party_id: str | None = None,
    engine: str | None = None,
) -> list[TariffRecord]:
    qs = Tariff.objects.for_tenant(tenant_id).select_related("party").prefetch_related("versions")
    if engine:
        qs = qs.filter(engine=engine)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if country_code:
        qs = qs.filter(party__country_code=country_code.upper())
    if party_id:
        qs = qs.filter(party__party_id=party_id.upper())
    return [_tariff(t, at) for t in qs.order_by("id")[:limit]]


def _code(c: TariffCode) -> TariffCodeRecord:
    return TariffCodeRecord(id=c.pk, code=c.code, description=c.description, tariff_id=c.tariff_id)


def tariff_code_get(*, tenant_id: int, code_id: int) -> TariffCodeRecord:
    c = TariffCode.objects.for_tenant(tenant_id).filter(pk=code_id).first()
    if c is None:
        raise NotFound(f"no tariff code {code_id} in this tenant")
    return _code(c)


def tariff_code_list(*, tenant_id: int, after_id: int | None, limit: int) -> list[TariffCodeRecord]:
    qs = TariffCode.objects.for_tenant(tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return [_code(c) for c in qs.order_by("id")[:limit]]


def _assignment(a: TariffAssignment) -> TariffAssignmentRecord:
    return TariffAssignmentRecord(
        id=a.pk,
        charge_station_id=a.charge_station_id,
        connector_pk=a.connector_id,
        tariff_code=a.tariff_code.code,
        tariff_id=a.tariff_code.tariff_id,
        effective_from=a.effective_from,
    )


def tariff_assignment_get(*, tenant_id: int, assignment_id: int) -> TariffAssignmentRecord:
    a = (
        TariffAssignment.objects.for_tenant(tenant_id)
        .select_related("tariff_code")
        .filter(pk=assignment_id)
        .first()
    )
    if a is None:
        raise NotFound(f"no tariff assignment {assignment_id} in this tenant")
    return _assignment(a)


def tariff_assignment_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    charge_station_id: int | None = None,
) -> list[TariffAssignmentRecord]:
    qs = TariffAssignment.objects.for_tenant(tenant_id).select_related("tariff_code")
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if charge_station_id is not None:
        qs = qs.filter(charge_station_id=charge_station_id)
    return [_assignment(a) for a in qs.order_by("id")[:limit]]


def tariff_code_rows(*, tenant_id: int) -> list[dict[str, Any]]:
    """Every tariff code with its tariff (a tenant has tens, not thousands)."""
    return list(
        TariffCode.objects.filter(tenant_id=tenant_id)
        .order_by("code")
        .values("id", "code", "description", "tariff_id", "tariff__ocpi_id", "tariff__name")
    )


def assignments_of_station(
    *, tenant_id: int, charge_station_id: int, now: datetime
) -> list[dict[str, Any]]:
    """The station's assignments, newest first, with which are in force now."""
    rows = list(
        TariffAssignment.objects.filter(tenant_id=tenant_id, charge_station_id=charge_station_id)
        .order_by("connector_id", "-effective_from")
        .values(
            "id",
            "connector_id",
            "connector__connector_id",
            "connector__evse__uid",
            "tariff_code__code",
            "effective_from",
        )
    )
    seen: set[Any] = set()
    for r in rows:
        r["in_force"] = False
        r["scheduled"] = r["effective_from"] > now
        if not r["scheduled"] and r["connector_id"] not in seen:
            r["in_force"] = True
            seen.add(r["connector_id"])
    return rows


def station_default_codes(
    *, tenant_id: int, station_ids: list[int], now: datetime
) -> dict[int, str]:
    """The code of each station's default assignment in force at `now` (stations without one
    are absent)."""
    current: dict[int, str] = {}
    for sid, code in (
        TariffAssignment.objects.filter(
            tenant_id=tenant_id,
            charge_station_id__in=station_ids,
            connector__isnull=True,
            effective_from__lte=now,
        )
        .order_by("charge_station_id", "-effective_from")
        .values_list("charge_station_id", "tariff_code__code")
    ):
        current.setdefault(sid, code)
    return current


def tariff_code_import_get(*, tenant_id: int, import_id: int) -> ImportStatus:
    job = TariffCodeImport.objects.filter(tenant_id=tenant_id, pk=import_id).first()
    if job is None:
        raise NotFound(f"no import {import_id} in this tenant")
    return ImportStatus(
        id=job.pk,
        status=job.status,
        total=job.total,
        done=job.done,
        report=job.report,
        effective_from=job.effective_from,
        created_at=job.created_at,
    )


def _decimal(value: Any) -> Decimal | None:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


_NUMERIC_KEYS = {
    "price",
    "vat",
    "excl_vat",
    "incl_vat",
    "min_kwh",
    "max_kwh",
    "min_current",
    "max_current",
    "min_power",
    "max_power",
}


def from_stored(value: Any, key: str = "") -> Any:
    """The stored OCPI object with its money and energy numbers as Decimal."""
    if isinstance(value, dict):
        return {k: from_stored(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [from_stored(v, key) for v in value]
    if (
        key in _NUMERIC_KEYS
        and isinstance(value, str | int | float)
        and not isinstance(value, bool)
    ):
        d = _decimal(value)
        return d if d is not None else value
    return value


def tariff_versions_of(*, tariff_ids: Iterable[int]) -> list[TariffVersionTerms]:
    """Every version of these tariffs, oldest first per tariff (the billing engines take the
    one in force at a session's start). One query."""
    rows = (
        TariffVersion.objects.filter(tariff_id__in=set(tariff_ids))
        .order_by("tariff_id", "effective_from")
        .values_list(
            "pk",
            "tenant_id",
            "tariff_id",
            "tariff__engine",
            "tariff__currency",
            "version",
            "effective_from",
            "ocpi",
        )
    )
    return [TariffVersionTerms(*row) for row in rows]


def tariff_codes_in_force(
    *, keys: Iterable[tuple[int, int | None, datetime]]
) -> dict[tuple[int, int | None, datetime], int]:
    """(charge station id, connector id or None, at) -> the tariff code assigned then: the
    connector's override in force, else the station's default (as `tariff_for_session`
    chooses); keys with none are left out. One query (the billing engines' TARIFF_CODE
    scope)."""
    wanted = set(keys)
    if not wanted:
        return {}
    history: dict[tuple[int, int | None], list[tuple[datetime, int]]] = {}
    rows = (
        TariffAssignment.objects.filter(charge_station_id__any=[s for s, _, _ in wanted])
        .order_by("effective_from")
        .values_list("charge_station_id", "connector_id", "effective_from", "tariff_code_id")
    )
    for station_id, connector_id, start, code_id in rows:
        history.setdefault((station_id, connector_id), []).append((start, code_id))

    def latest(station_id: int, connector_id: int | None, at: datetime) -> int | None:
        found = None
        for start, code_id in history.get((station_id, connector_id), ()):
            if start > at:
                break
            found = code_id
        return found

    out = {}
    for station_id, connector_id, at in wanted:
        code = latest(station_id, connector_id, at) if connector_id is not None else None
        if code is None:
            code = latest(station_id, None, at)
        if code is not None:
            out[(station_id, connector_id, at)] = code
    return out


# --- published to roaming partners (issue 19, area "cpo") ----------------------------------


def ocpi_tariff_page(
    *,
    tenant_id: int,
    at: datetime,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> tuple[int, list[TariffRecord], tuple[datetime, int] | None]:
    """(total, page, cursor of the next page or None) of the tariffs a CPO publishes: its
    WHOLESALE tariffs (the station price) that have a version, oldest `last_updated` (the
    tariff's or its newest version's) first, then id. Paged by apps.common.keyset (after the
    cursor `after`, else from `offset`) over the computed value: a tenant's tariffs are
    counted in tens, no index needed."""
    newest = (
        TariffVersion.objects.filter(tariff=OuterRef("pk"))
        .order_by()
        .values("tariff")
        .annotate(m=Max("created_at"))
        .values("m")
    )
    qs = (
        Tariff.objects.for_tenant(tenant_id)
        .filter(engine=BillingEngine.WHOLESALE.value)
        .annotate(newest=Subquery(newest))
        .filter(newest__isnull=False)
        .annotate(ocpi_lu=Greatest("updated_at", "newest"))
    )
    page = keyset_page(
        qs,
        "ocpi_lu",
        date_from=date_from,
        date_to=date_to,
        offset=offset,
        limit=limit,
        after=after,
    )
    ids = page.ids
    rows = {
        t.pk: t
        for t in Tariff.objects.filter(pk__in=ids)
        .select_related("party")
        .prefetch_related("versions")
    }
    return page.total, [_tariff(rows[i], at) for i in ids if i in rows], page.last
