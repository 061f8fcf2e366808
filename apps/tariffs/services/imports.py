"""The bulk update of stations' default tariff codes from a CSV file (`station,tariff_code`
lines): checked as a whole (a preview, then again at the start), applied by a worker in
chunks from a point in time on."""

from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, timedelta

from django.db import transaction

from apps.common.contracts import Actor
from apps.common.errors import Problem, ValidationFailed
from apps.locations import api as locations_api
from apps.parties import api as parties_api
from apps.tariffs import jobs, selectors
from apps.tariffs.contracts import ImportPreview, ImportRow
from apps.tariffs.models import TariffCode, TariffCodeImport
from apps.tariffs.services.codes import tariff_code_assign

log = logging.getLogger(__name__)
IMPORT_MAX_ROWS = 20000
IMPORT_CHUNK = 200


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
    current = selectors.station_default_codes(
        tenant_id=tenant_id, station_ids=list(stations.values()), now=now
    )
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
    transaction.on_commit(lambda: jobs.tariff_code_import_run(job.pk))
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
