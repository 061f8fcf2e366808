"""Tariff work of the operator portal: the price preview of a tariff being edited, copying a
tariff, and the bulk update of default tariff codes from a CSV file."""

from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.locations import api as locations_api
from apps.parties import api as parties_api
from apps.tariffs import selectors
from apps.tariffs.contracts import (
    ImportPreview,
    ImportRow,
    ImportStatus,
    PreviewLine,
    TariffPreview,
    TariffRecord,
)
from apps.tariffs.models import TariffAssignment, TariffCode, TariffCodeImport
from apps.tariffs.services import tariff_code_assign, tariff_create, tariff_validate
from billing import pricing

log = logging.getLogger(__name__)
IMPORT_MAX_ROWS = 20000
IMPORT_CHUNK = 200


def tariff_preview(
    *,
    ocpi: dict[str, Any],
    start: datetime,
    charging_minutes: int,
    parking_minutes: int,
    energy_kwh: Decimal,
    time_zone: str,
) -> TariffPreview:
    """Price a sample session with `ocpi` (validated by the pricing core's parser: a bad
    tariff raises ValidationFailed with its JSON paths). Energy flows evenly while charging,
    then the car stays parked for `parking_minutes`."""
    tariff_validate(ocpi=ocpi)
    tariff = pricing.parse_tariff(ocpi)
    if charging_minutes <= 0:
        raise ValidationFailed(
            "invalid sample", problems=(Problem("charging_minutes", "must be at least 1"),)
        )
    charge_end = start + timedelta(minutes=charging_minutes)
    end = charge_end + timedelta(minutes=max(0, parking_minutes))
    wh = energy_kwh * 1000
    power_kw = (energy_kwh / (Decimal(charging_minutes) / 60)).quantize(Decimal("0.001"))
    samples = []
    steps = max(1, min(charging_minutes // 5, 96))
    for i in range(steps + 1):
        at = start + (charge_end - start) * i / steps
        samples.append(
            pricing.MeterSample(
                timestamp=at,
                energy_wh=(wh * i / steps).quantize(Decimal("1")),
                state=pricing.ChargingState.CHARGING,
                power_kw=power_kw,
            )
        )
    if parking_minutes > 0:
        samples.append(
            pricing.MeterSample(
                timestamp=charge_end + timedelta(seconds=1),
                energy_wh=wh.quantize(Decimal("1")),
                state=pricing.ChargingState.SUSPENDED_EV,
                power_kw=Decimal(0),
            )
        )
    try:
        periods = pricing.split_session(
            tariff=tariff, samples=samples, time_zone=time_zone, start=start, end=end
        )
        result = pricing.price_session(
            tariff=tariff,
            session=pricing.SessionInput(
                start=start, end=end, time_zone=time_zone, charging_periods=periods
            ),
        )
    except pricing.PricingInputError as exc:
        raise ValidationFailed(
            "the sample cannot be priced",
            problems=tuple(Problem(i.path, i.message) for i in exc.issues),
        ) from None
    t = result.totals
    lines = []
    for name, amount, volume in (
        ("Start fee (FLAT)", t.total_fixed_cost, ""),
        ("Energy", t.total_energy_cost, f"{result.billed_energy:.3f} kWh"),
        ("Charging time", t.total_time_cost, f"{result.billed_time_seconds // 60} min"),
        ("Parking time", t.total_parking_cost, f"{result.billed_parking_seconds // 60} min"),
    ):
        if amount.excl_vat or amount.incl_vat:
            lines.append(
                PreviewLine(
                    dimension=name,
                    volume=volume,
                    excl_vat=amount.excl_vat,
                    incl_vat=amount.incl_vat,
                )
            )
    local = start.astimezone(__import__("zoneinfo").ZoneInfo(time_zone))
    return TariffPreview(
        currency=result.currency,
        total_excl_vat=t.total_cost.excl_vat,
        total_incl_vat=t.total_cost.incl_vat,
        lines=tuple(lines),
        warnings=tuple(w.message for w in result.warnings),
        description=(
            f"{energy_kwh} kWh in {charging_minutes} min from {local:%a %d %b %H:%M} "
            f"({time_zone}), then {parking_minutes} min parked"
        ),
    )


@transaction.atomic
def tariff_copy(
    *,
    tenant_id: int,
    tariff_id: int,
    new_ocpi_id: str,
    effective_from: datetime,
    now: datetime,
    actor: Actor,
) -> TariffRecord:
    """A new tariff with the prices of this one's version in force now."""
    source = selectors.tariff_get(tenant_id=tenant_id, tariff_id=tariff_id, at=now)
    if source.ocpi is None:
        raise Conflict("this tariff has no version to copy")
    ocpi = {k: v for k, v in source.ocpi.items() if k != "last_updated"}
    ocpi["id"] = new_ocpi_id
    ocpi["last_updated"] = now.isoformat().replace("+00:00", "Z")
    return tariff_create(
        tenant_id=tenant_id,
        ocpi=_plain(ocpi),
        effective_from=effective_from,
        now=now,
        actor=actor,
        copied_from=tariff_id,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


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


def _current_defaults(tenant_id: int, station_ids: list[int], now: datetime) -> dict[int, str]:
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


def _parse_csv(
    tenant_id: int, csv_text: str, now: datetime
) -> tuple[list[ImportRow], list[tuple[int, str, int, str]]]:
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff")))
    raw = [(i + 1, row) for i, row in enumerate(reader) if any(c.strip() for c in row)]
    if raw and [c.strip().lower() for c in raw[0][1][:2]] == ["station", "tariff_code"]:
        raw = raw[1:]
    if not raw:
        raise ValidationFailed(
            "empty file",
            problems=(Problem("file", "no rows: the file needs lines 'station,tariff_code'"),),
        )
    if len(raw) > IMPORT_MAX_ROWS:
        raise ValidationFailed(
            "file too large",
            problems=(Problem("file", f"{len(raw)} rows; at most {IMPORT_MAX_ROWS} per import"),),
        )
    identities = [r[0].strip() for _, r in raw if r]
    stations = locations_api.station_ids_by_identity(tenant_id=tenant_id, identities=identities)
    codes = dict(TariffCode.objects.filter(tenant_id=tenant_id).values_list("code", "id"))
    current = _current_defaults(tenant_id, list(stations.values()), now)
    rows: list[ImportRow] = []
    plan: list[tuple[int, str, int, str]] = []
    seen: dict[str, int] = {}
    for line, r in raw:
        identity = r[0].strip() if r else ""
        code = r[1].strip() if len(r) > 1 else ""
        problem = ""
        if len(r) != 2:
            problem = f"expected 2 columns (station,tariff_code), found {len(r)}"
        elif identity not in stations:
            problem = f"no charge station {identity!r} in this tenant"
        elif code not in codes:
            problem = f"no tariff code {code!r}: create it first (Tariffs ▸ codes)"
        elif identity in seen:
            problem = f"station {identity} is also on line {seen[identity]}"
        if problem:
            rows.append(ImportRow(line, identity, code, None, "error", problem))
            continue
        seen[identity] = line
        cur = current.get(stations[identity])
        change = "same" if cur == code else "change"
        rows.append(ImportRow(line, identity, code, cur, change))
        if change == "change":
            plan.append((stations[identity], identity, codes[code], code))
    return rows, plan


def tariff_code_import_preview(*, tenant_id: int, csv_text: str, now: datetime) -> ImportPreview:
    rows, _ = _parse_csv(tenant_id, csv_text, now)
    return ImportPreview(
        rows=tuple(rows),
        changes=sum(r.change == "change" for r in rows),
        unchanged=sum(r.change == "same" for r in rows),
        errors=sum(r.change == "error" for r in rows),
    )


@transaction.atomic
def tariff_code_import_start(
    *,
    tenant_id: int,
    csv_text: str,
    effective_from: datetime,
    now: datetime,
    created_by_id: int | None,
    actor: Actor,
) -> int:
    """Validate again and queue the import (a worker applies it); nothing is applied when
    a line is wrong."""
    if effective_from < now - timedelta(minutes=1):
        raise ValidationFailed(
            "invalid import",
            problems=(
                Problem(
                    "effective_from",
                    "must not be in the past: changes apply to future sessions only",
                ),
            ),
        )
    rows, plan = _parse_csv(tenant_id, csv_text, now)
    errors = [r for r in rows if r.change == "error"]
    if errors:
        raise ValidationFailed(
            "the file has errors; nothing was imported",
            problems=tuple(Problem(f"line {r.line}", r.problem) for r in errors),
        )
    job = TariffCodeImport.objects.create(
        tenant_id=tenant_id,
        created_by_id=created_by_id,
        effective_from=max(effective_from, now),
        rows=[list(p) for p in plan],
        total=len(plan),
        report={"unchanged": sum(r.change == "same" for r in rows)},
    )
    parties_api.audit_record(
        tenant_id=tenant_id,
        actor=actor,
        action="tariff_code.import",
        object_type="tariff_import",
        object_id=job.pk,
        after={"effective_from": job.effective_from, "lines": csv_text.count("\n") + 1},
    )
    from apps.tariffs.tasks import tariff_code_import_run

    transaction.on_commit(lambda: tariff_code_import_run.delay(job.pk))
    return job.pk


def tariff_code_import_run(*, import_id: int) -> None:
    """Apply an import in chunks (each its own transaction, so progress is visible and a
    redelivered task continues where it stopped: assigning again at the same instant
    replaces the same row)."""
    job = TariffCodeImport.objects.filter(pk=import_id).first()
    if job is None or job.status in ("DONE", "FAILED"):
        return
    TariffCodeImport.objects.filter(pk=job.pk).update(status="RUNNING")
    applied = job.done
    try:
        for start in range(job.done, job.total, IMPORT_CHUNK):
            with transaction.atomic():
                for station_id, _identity, code_id, _code in job.rows[start : start + IMPORT_CHUNK]:
                    tariff_code_assign(
                        tenant_id=job.tenant_id,
                        charge_station_id=station_id,
                        tariff_code_id=code_id,
                        effective_from=job.effective_from,
                    )
                    applied += 1
                TariffCodeImport.objects.filter(pk=job.pk).update(done=applied)
    except Exception as exc:  # the report says what failed; nothing after it was applied
        log.exception("tariff code import %s failed", job.pk)
        TariffCodeImport.objects.filter(pk=job.pk).update(
            status="FAILED", report={**job.report, "error": str(exc)[:500], "applied": applied}
        )
        return
    TariffCodeImport.objects.filter(pk=job.pk).update(
        status="DONE",
        done=applied,
        report={
            **job.report,
            "applied": applied,
            "changes": [[identity, code] for _, identity, _, code in job.rows[:1000]],
        },
    )


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
