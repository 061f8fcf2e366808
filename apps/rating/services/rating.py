"""Rating CDRs: the three engines' results compared with what is written, and the
difference written as append-only rated lines and rating flags (ADR 0031).

- `cdrs_rate`: every engine that applies to each CDR, once. A CDR x engine that has a line,
  or an OPEN or DROPPED flag, is skipped: rating twice (a redelivered message, the sweep)
  writes nothing twice.
- `flags_retry`: the flags whose retry is due, rated again; resolved, rescheduled or dropped.
- `cdr_rerate`: re-rate now (the flagged queue, after a rule fix): where the result differs
  from the line in force, a REVERSAL of it and a new LINE, with the reason; nothing when
  equal.

One transaction per batch. On PostgreSQL the batch first takes a transaction-level advisory
lock per CDR (in id order, so two batches never deadlock), then reads the lines and flags:
a second worker on the same CDRs (a redelivery while the first still runs) waits, then
finds the lines and skips them. The unique (cdr, engine, seq) constraint is the backstop
(the transaction of a second writer fails and its message is retried). A worker killed
mid-batch rolls its transaction back: nothing half-written, and the redelivered message
rates the batch again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.charging import api as charging_api
from apps.common.contracts import Actor
from apps.common.errors import NotFound, ValidationFailed
from apps.parties import api as parties_api
from apps.rating.contracts import LineKind, RatingFlagStatus, RatingOutcome
from apps.rating.models import RatedLine, RatingFlag
from apps.rating.selectors.facts import CdrFacts, cdr_facts
from apps.rating.services import flags as flag_services
from apps.rating.services.engines import Engines, Priced, Result
from apps.tariffs.contracts import BillingEngine
from billing.rating.amounts import Dimensions

log = logging.getLogger(__name__)

RATE: Final = "rate"
RETRY: Final = "retry"
RERATE: Final = "rerate"
_LOCK_CLASS: Final = 0x5241  # "RA": the advisory lock space of rating (one lock per CDR)
_AMOUNTS: Final = (
    "energy_kwh",
    "time_hours",
    "parking_hours",
    "fixed_exact",
    "fixed",
    "energy_exact",
    "energy",
    "time_exact",
    "time",
    "parking_exact",
    "parking",
    "reservation_exact",
    "reservation",
    "adjustment_exact",
    "adjustment",
    "total_excl_vat",
    "vat",
    "total_incl_vat",
)
_COPIED: Final = (
    "tenant_id",
    "seller_party_id",
    "seller_payee_id",
    "buyer_party_id",
    "buyer_customer_id",
    "buyer_tenant_id",
    "own_charge",
    "rule_version_id",
    "tariff_version_id",
    "currency",
    "rounding_mode",
    "vat_rate",
    "vat_source",
    "vat_exemption_reason",
    "hcc",
)


@dataclass
class _State:
    """What is written for one CDR x engine: its lines in seq order, the line in force
    (a LINE no REVERSAL points at), its OPEN (else DROPPED) flag."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    flag: RatingFlag | None = None

    @property
    def in_force(self) -> dict[str, Any] | None:
        reversed_ids = {x["reverses_id"] for x in self.lines if x["reverses_id"] is not None}
        live = [x for x in self.lines if x["kind"] == LineKind.LINE and x["id"] not in reversed_ids]
        return live[-1] if live else None

    @property
    def next_seq(self) -> int:
        return (self.lines[-1]["seq"] if self.lines else 0) + 1


@dataclass
class _Writes:
    lines: list[dict[str, Any]] = field(default_factory=list)  # RatedLine columns
    new_flags: list[RatingFlag] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    skipped: int = 0
    tenants: dict[int, list[int]] = field(default_factory=dict)  # tenant -> CDR ids changed

    def touched(self, tenant_id: int, cdr_id: int) -> None:
        self.tenants.setdefault(tenant_id, []).append(cdr_id)


def _lock(cdr_ids: Sequence[int]) -> None:
    if connection.vendor != "postgresql" or not cdr_ids:
        return  # SQLite: one writer at a time already
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, (x %% 2147483647)::int) "
            "FROM unnest(%s::bigint[]) AS x",
            [_LOCK_CLASS, sorted(cdr_ids)],
        )


def _state(cdr_ids: Sequence[int]) -> dict[tuple[int, str], _State]:
    out: dict[tuple[int, str], _State] = {}
    lines = (
        RatedLine.objects.filter(cdr_id__any=cdr_ids)
        .order_by("cdr_id", "engine", "seq")
        .values(*_LINE_ATTNAMES)  # plain rows: no model instances
    )
    for row in lines:
        out.setdefault((row["cdr_id"], row["engine"]), _State()).lines.append(row)
    flags = RatingFlag.objects.filter(
        cdr_id__any=cdr_ids,
        status__in=[RatingFlagStatus.OPEN.value, RatingFlagStatus.DROPPED.value],
    ).order_by("closed_at")  # OPEN (no closed_at) last on PostgreSQL, first on SQLite
    for flag in flags:
        state = out.setdefault((flag.cdr_id, flag.engine), _State())
        if state.flag is None or flag.status == RatingFlagStatus.OPEN:
            state.flag = flag
    return out


def _as_priced(line: dict[str, Any]) -> Priced:
    """A line in force as the engines' result it was (cost-plus marks it up)."""
    exact = Dimensions(
        line["fixed_exact"],
        line["energy_exact"],
        line["time_exact"],
        line["parking_exact"],
        line["reservation_exact"],
    )
    return Priced(BillingEngine(line["engine"]), line["tenant_id"], dict(line), exact)


def _new_line(
    cdr_id: int,
    seq: int,
    values: dict[str, Any],
    *,
    actor: Actor,
    now: datetime,
    engine: str,
    kind: LineKind = LineKind.LINE,
    reverses_id: int | None = None,
    reason: str = "",
) -> dict[str, Any]:
    return {
        **_LINE_DEFAULTS,
        **values,
        "cdr_id": cdr_id,
        "engine": engine,
        "seq": seq,
        "kind": kind.value,
        "reverses_id": reverses_id,
        "reason": reason[:200],
        "rated_by": _actor_name(actor),
        "created_at": now,
        "updated_at": now,
    }


_LINE_ATTNAMES: Final = tuple(f.attname for f in RatedLine._meta.concrete_fields)
# Every column of a rated line (attname, column), its primary key aside, and the defaults
# of those a line may leave out.
_LINE_FIELDS: Final = [
    (f.attname, f.column)
    for f in RatedLine._meta.concrete_fields
    if f is not RatedLine._meta.auto_field
]
_LINE_DEFAULTS: Final = {
    f.attname: f.get_default()
    for f in RatedLine._meta.concrete_fields
    if f is not RatedLine._meta.auto_field and f.has_default()
}


def _insert_lines(rows: list[dict[str, Any]]) -> None:
    """Write the batch's lines in one statement: COPY on PostgreSQL (no per-row SQL, no
    model instances), a multi-row INSERT elsewhere. The unique (cdr, engine, seq) fails
    the whole batch if another writer got there first (its transaction rolls back)."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        columns = ", ".join(connection.ops.quote_name(c) for _, c in _LINE_FIELDS)
        table = connection.ops.quote_name(RatedLine._meta.db_table)
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[a] for a, _ in _LINE_FIELDS])
        return
    RatedLine.objects.bulk_create([RatedLine(**row) for row in rows], batch_size=500)


def _reversal(
    line: dict[str, Any], seq: int, *, actor: Actor, now: datetime, reason: str
) -> dict[str, Any]:
    values = {k: line[k] for k in _COPIED}
    values.update({k: -line[k] for k in _AMOUNTS})
    return _new_line(
        line["cdr_id"],
        seq,
        values,
        actor=actor,
        now=now,
        engine=line["engine"],
        kind=LineKind.REVERSAL,
        reverses_id=line["id"],
        reason=reason,
    )


def _actor_name(actor: Actor) -> str:
    if actor.name:
        return actor.name[:254]
    if actor.user_id is not None:
        return f"user {actor.user_id}"
    return ""


def _apply(
    f: CdrFacts,
    result: Result,
    state: _State,
    writes: _Writes,
    *,
    mode: str,
    actor: Actor,
    now: datetime,
    reason: str,
) -> None:
    cdr_id = f.cdr.id
    engine = result.engine.value
    flag = state.flag
    if isinstance(result, Priced):
        current = state.in_force
        if current is not None and result.same_as(current):
            writes.skipped += 1
        else:
            seq = state.next_seq
            if current is not None:
                writes.lines.append(_reversal(current, seq, actor=actor, now=now, reason=reason))
                seq += 1
            values = {"tenant_id": result.tenant_id, **result.fields}
            line_reason = reason if mode != RATE else ""
            writes.lines.append(
                _new_line(
                    cdr_id, seq, values, actor=actor, now=now, engine=engine, reason=line_reason
                )
            )
            writes.touched(result.tenant_id, cdr_id)
        if flag is not None:
            writes.resolved.append(flag.pk)
        return
    if flag is None:
        writes.new_flags.append(
            flag_services.flag_new(
                tenant_id=result.tenant_id,
                cdr_id=cdr_id,
                engine=result.engine,
                reason=result.reason,
                detail=result.detail,
                now=now,
            )
        )
        writes.touched(result.tenant_id, cdr_id)
    elif flag.status == RatingFlagStatus.OPEN:
        flag_services.flag_tried_again(
            flag, reason=result.reason, detail=result.detail, now=now, may_drop=mode == RETRY
        )
    else:
        writes.skipped += 1  # DROPPED and still failing: it stays dropped


def _rate_batch(
    cdr_ids: Sequence[int],
    *,
    actor: Actor,
    now: datetime,
    mode: str,
    only: set[tuple[int, str]] | None = None,
    reason: str = "",
) -> RatingOutcome:
    """Rate one batch in one transaction (the caller opens it)."""
    # A credited original is never rated again: its lines in force are reversed (a credit
    # CDR cancels it; the re-billed original, if any, is a CDR of its own).
    credited = charging_api.cdrs_credited(cdr_ids=cdr_ids)
    _lock(sorted({*cdr_ids, *credited}))
    facts = [f for f in cdr_facts(cdr_ids=cdr_ids) if f.cdr.id not in credited]
    states = _state(sorted({*cdr_ids, *credited}))
    writes = _Writes()
    _reverse_credited(credited, states, writes, actor=actor, now=now)
    todo: list[tuple[CdrFacts, list[BillingEngine]]] = []
    for f in facts:
        wanted = []
        for engine in Engines.applies(f):
            key = (f.cdr.id, engine.value)
            if only is not None and key not in only:
                continue
            state = states.get(key)
            if mode == RATE and state is not None and (state.lines or state.flag is not None):
                writes.skipped += 1
                continue
            wanted.append(engine)
        if wanted:
            todo.append((f, wanted))
    if only is not None:  # flags of engines that no longer apply: nothing left to rate
        applying = {(f.cdr.id, e.value) for f in facts for e in Engines.applies(f)}
        for key in only - applying:
            state = states.get(key)
            if state is not None and state.flag is not None:
                writes.resolved.append(state.flag.pk)
    engines = Engines([f for f, _ in todo])
    for f, wanted in todo:
        wholesale: Priced | None = None
        for engine in wanted:
            key = (f.cdr.id, engine.value)
            state = states.get(key) or _State()
            if engine == BillingEngine.WHOLESALE:
                result: Result = engines.wholesale(f)
                if isinstance(result, Priced):
                    wholesale = result
            elif engine == BillingEngine.RETAIL:
                basis = wholesale
                if basis is None and BillingEngine.WHOLESALE not in wanted:
                    line = (
                        states.get((f.cdr.id, BillingEngine.WHOLESALE.value)) or _State()
                    ).in_force
                    basis = None if line is None else _as_priced(line)
                result = engines.retail(f, basis)
            else:
                result = engines.reimbursement(f)
            _apply(f, result, state, writes, mode=mode, actor=actor, now=now, reason=reason)
    _insert_lines(writes.lines)
    RatingFlag.objects.bulk_create(writes.new_flags, batch_size=1000)
    flag_services.flags_resolve(writes.resolved, now=now)
    for tenant_id, changed in writes.tenants.items():
        parties_api.audit(
            tenant_id,
            actor,
            f"rating.{mode}",
            "cdr",
            changed[0],
            after={"cdrs": sorted(set(changed)), "reason": reason}
            if reason
            else {"cdrs": len(set(changed))},
        )
    return RatingOutcome(
        lines_written=len(writes.lines), flags_opened=len(writes.new_flags), skipped=writes.skipped
    )


def _reverse_credited(
    credited: dict[int, tuple[int, str]],
    states: dict[tuple[int, str], _State],
    writes: _Writes,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Reverse every line in force of each credited original (reason: the credit CDR) and
    resolve its flags: what a credit CDR cancels is never billed. Nothing when already
    reversed, so a redelivery writes nothing twice."""
    for (cdr_id, _engine), state in states.items():
        if cdr_id not in credited:
            continue
        current = state.in_force
        if current is not None:
            reason = f"credited by CDR {credited[cdr_id][1]}"
            writes.lines.append(
                _reversal(current, state.next_seq, actor=actor, now=now, reason=reason)
            )
            writes.touched(current["tenant_id"], cdr_id)
        if state.flag is not None and state.flag.status == RatingFlagStatus.OPEN:
            writes.resolved.append(state.flag.pk)


def _chunks(ids: Iterable[int], size: int) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def cdrs_rate(
    *, cdr_ids: Sequence[int], actor: Actor, now: datetime | None = None
) -> RatingOutcome:
    """Rate every engine that applies to each CDR (idempotent: a CDR x engine with a line
    or an open or dropped flag is skipped), RATING_BATCH_SIZE CDRs per transaction."""
    now = now or timezone.now()
    total = RatingOutcome()
    for chunk in _chunks(cdr_ids, settings.RATING_BATCH_SIZE):
        with transaction.atomic():
            total += _rate_batch(chunk, actor=actor, now=now, mode=RATE)
    return total


def flags_retry(*, actor: Actor, now: datetime | None = None) -> RatingOutcome:
    """Rate again every OPEN flag whose retry is due; a flag still failing after the retry
    window is DROPPED."""
    now = now or timezone.now()
    total = RatingOutcome()
    after = 0
    while True:
        due = flag_services.flags_due(now=now, after_id=after, limit=settings.RATING_BATCH_SIZE)
        if not due:
            return total
        after = due[-1][0]
        only = {(cdr_id, engine) for _, cdr_id, engine in due}
        with transaction.atomic():
            total += _rate_batch(
                sorted({cdr_id for cdr_id, _ in only}), actor=actor, now=now, mode=RETRY, only=only
            )


def cdrs_sweep_unrated(*, actor: Actor, now: datetime | None = None) -> RatingOutcome:
    """Rate the CDRs of the last RATING_SWEEP_HOURS that no engine has looked at (no line,
    no flag): written while rating was off, or whose message was lost."""
    now = now or timezone.now()
    since = now - timedelta(hours=settings.RATING_SWEEP_HOURS)
    until = now - timedelta(seconds=settings.RATING_SWEEP_GRACE_SECONDS)
    total = RatingOutcome()
    after = 0
    size = settings.RATING_BATCH_SIZE
    while True:
        ids = charging_api.cdr_ids_original_since(
            since=since, until=until, after_id=after, limit=size
        )
        if not ids:
            return total
        after = ids[-1]
        seen = set(RatedLine.objects.filter(cdr_id__in=ids).values_list("cdr_id", flat=True))
        seen |= set(RatingFlag.objects.filter(cdr_id__in=ids).values_list("cdr_id", flat=True))
        todo = [i for i in ids if i not in seen]
        if todo:
            total += cdrs_rate(cdr_ids=todo, actor=actor, now=now)


def cdr_rerate(
    *, tenant_id: int, cdr_id: int, actor: Actor, reason: str, now: datetime | None = None
) -> RatingOutcome:
    """Re-rate one CDR now, for the engines `tenant_id` rates (the CPO tenant: wholesale and
    reimbursement; the eMSP tenant: retail): a reversal and a new line where the result
    differs from the line in force, nothing where it is equal; flags it fixes resolved."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("a re-rating needs a reason")
    now = now or timezone.now()
    found = cdr_facts(cdr_ids=[cdr_id])
    if not found:
        raise NotFound(f"no CDR {cdr_id}")
    c = found[0].cdr
    only: set[tuple[int, str]] = set()
    if c.tenant_id == tenant_id:
        only |= {
            (cdr_id, BillingEngine.WHOLESALE.value),
            (cdr_id, BillingEngine.REIMBURSEMENT.value),
        }
    if c.emsp_tenant_id == tenant_id:
        only.add((cdr_id, BillingEngine.RETAIL.value))
    if not only:
        raise NotFound(f"no CDR {cdr_id} rated by this tenant")
    with transaction.atomic():
        return _rate_batch([cdr_id], actor=actor, now=now, mode=RERATE, only=only, reason=reason)
