from __future__ import annotations

from datetime import datetime

from apps.tariffs.contracts import TariffSnapshot
from apps.tariffs.models import TariffAssignment, TariffVersion


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
