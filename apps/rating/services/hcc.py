"""Home-charger flags in bulk (BILLING.md section 3): rows naming a charge station (platform
id) or a token (uid) of the tenant and the flag to give it. All or nothing: every row is
checked first and any problem (each at `$.items[i].<field>`) refuses the whole batch; then the
locations and tokens services set the flags, each changed row audited there. Setting a flag
a row already has changes nothing (idempotent)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from django.db import transaction

from apps.common.contracts import Actor, HccFlag
from apps.common.errors import Problem, ValidationFailed
from apps.locations import api as locations_api
from apps.rating.contracts import HccFlagOutcome, HccFlagRow
from apps.tokens import api as tokens_api

HCC_MAX_ROWS = 10_000


def hcc_rows_problems(
    *,
    tenant_id: int,
    rows: Sequence[HccFlagRow],
    path: str = "$.items",
    labels: Sequence[str] | None = None,
) -> list[Problem]:
    """Every problem of the batch, each at `<path>[i].<field>` (or `<labels[i]>.<field>`,
    e.g. a CSV line); an empty list: it can be applied."""
    problems: list[Problem] = []
    if len(rows) > HCC_MAX_ROWS:
        return [Problem(path, f"at most {HCC_MAX_ROWS} rows at once, not {len(rows)}")]
    stations = locations_api.charge_station_ids_of_tenant(
        tenant_id=tenant_id,
        station_ids=[r.charge_station_id for r in rows if r.charge_station_id is not None],
    )
    tokens = tokens_api.token_ids_by_uid(
        tenant_id=tenant_id, uids=[r.token_uid for r in rows if r.token_uid]
    )
    seen: dict[tuple[str, object], int] = {}
    for i, row in enumerate(rows):
        at = labels[i] if labels is not None else f"{path}[{i}]"
        if row.hcc is not None and row.hcc not in {f.value for f in HccFlag}:
            problems.append(Problem(f"{at}.hcc", "must be HCC_E, HCC_V or null"))
        if (row.charge_station_id is None) == (not row.token_uid):
            problems.append(Problem(at, "name either a charge_station or a token, not both"))
            continue
        if row.charge_station_id is not None:
            key: tuple[str, object] = ("charge_station", row.charge_station_id)
            if row.charge_station_id not in stations:
                problems.append(
                    Problem(
                        f"{at}.charge_station",
                        f"no charge station "
                        f"{row.charge_station_identity or row.charge_station_id} in this tenant",
                    )
                )
        else:
            key = ("token", row.token_uid)
            found = tokens.get(row.token_uid or "", [])
            if not found:
                problems.append(
                    Problem(f"{at}.token", f"no token {row.token_uid!r} in this tenant")
                )
            elif len(found) > 1:
                problems.append(
                    Problem(
                        f"{at}.token",
                        f"uid {row.token_uid!r} names {len(found)} tokens of this tenant "
                        "(one per issuer and type): which one is meant is not clear",
                    )
                )
        if key in seen:
            problems.append(Problem(at, f"the same {key[0]} as row {seen[key]}"))
        else:
            seen[key] = i
    return problems


def hcc_csv_rows(*, tenant_id: int, csv_text: str) -> tuple[list[HccFlagRow], list[str]]:
    """The rows of a CSV `target,id,hcc` (target `station` with the station's OCPP identity,
    or `token` with the token's uid; hcc `HCC_E`, `HCC_V` or empty to clear; a header line
    with these names is allowed) and a label per row (`line N`). Stations are looked up by
    identity in this tenant; an unknown one keeps no id, so `hcc_rows_problems` names it."""
    lines = [
        (n, row)
        for n, row in enumerate(csv.reader(io.StringIO(csv_text)), start=1)
        if any(cell.strip() for cell in row)
    ]
    if lines and [c.strip().lower() for c in lines[0][1]][:3] == ["target", "id", "hcc"]:
        lines = lines[1:]
    identities = [r[1].strip() for _, r in lines if len(r) > 1 and r[0].strip() == "station"]
    stations = locations_api.station_ids_by_identity(tenant_id=tenant_id, identities=identities)
    rows: list[HccFlagRow] = []
    labels: list[str] = []
    for n, cells in lines:
        target, ident, flag = ([c.strip() for c in cells] + ["", "", ""])[:3]
        labels.append(f"line {n}")
        if target == "station":
            # An unknown identity becomes id 0, which no station has: named as unknown.
            rows.append(HccFlagRow(stations.get(ident, 0), None, flag or None, ident))
        elif target == "token":
            rows.append(HccFlagRow(None, ident, flag or None))
        else:
            rows.append(HccFlagRow(None, None, flag or None))  # "name either ..." problem
    return rows, labels


def _flag(value: str | None) -> HccFlag | None:
    return None if value is None else HccFlag(value)


@transaction.atomic
def hcc_flags_set(
    *,
    tenant_id: int,
    rows: Sequence[HccFlagRow],
    actor: Actor,
    path: str = "$.items",
    labels: Sequence[str] | None = None,
) -> HccFlagOutcome:
    problems = hcc_rows_problems(tenant_id=tenant_id, rows=rows, path=path, labels=labels)
    if problems:
        raise ValidationFailed(
            "invalid home-charger flags: nothing changed", problems=tuple(problems)
        )
    tokens = tokens_api.token_ids_by_uid(
        tenant_id=tenant_id, uids=[r.token_uid for r in rows if r.token_uid]
    )
    station_flags = {
        r.charge_station_id: _flag(r.hcc) for r in rows if r.charge_station_id is not None
    }
    token_flags = {tokens[r.token_uid][0]: _flag(r.hcc) for r in rows if r.token_uid}
    stations_changed = (
        locations_api.charge_stations_hcc_set(tenant_id=tenant_id, flags=station_flags, actor=actor)
        if station_flags
        else []
    )
    tokens_changed = (
        tokens_api.tokens_hcc_set(tenant_id=tenant_id, flags=token_flags, actor=actor)
        if token_flags
        else []
    )
    return HccFlagOutcome(
        charge_stations_changed=tuple(stations_changed),
        tokens_changed=tuple(tokens_changed),
        rows=len(rows),
    )
