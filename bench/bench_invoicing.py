"""`make bench-invoicing`: issue 18's Speed section on PostgreSQL with 100,000 customers and
1,000,000 rated CDRs of one month (bench/invoicing_data.py).

Targets (issue 18), per phase (--phases, in this order):

- drafts: a billing run of the month (`apps.invoicing.api.billing_run_start`, then
  `services.runs.billing_run_execute(run_id=...)` in this process) <= 120 s;
- finalize: every draft (`apps.invoicing.api.documents_finalize`, --finalize-batch ids a
  call) >= 2,000 documents/s;
- ubl: the UBL 2.1 of --sample finalized documents, one process (one core) >= 500
  documents/s;
- pdf: the PDF of --sample finalized documents, one process >= 20 pages/s (pages counted
  with pypdf);
- export: the ERP export of the month (`apps.invoicing.api.export_batch_post`) <= 60 s;
- files (not in the default phases): `services.files.document_files_render` of the sample
  (PDF + UBL + CII, stored), for reference.

The data is generated once into a template database (`hbench_invoicing_tpl`, or
`hbench_invoicing_tpl_<customers>_<cdrs>_<month>` for other sizes) and kept between runs
while its applied migrations are the code's and its data version and sizes match (--rebuild
starts over; when the code only has NEW migrations, e.g. after another area's merge, the
template is migrated forward with its data instead of generated again). Each run clones it
(CREATE DATABASE ... TEMPLATE) into --db (`hbench_inv_run`), so every run starts from the
same unbilled rated lines.

Each phase prints one JSON line (bench "invoicing", its phase) with `status`: "ok" with wall
`seconds`, this process's `cpu_seconds`, its PostgreSQL backend's `backend_cpu_seconds`,
the rate, the target and `meets_target`, and correctness counts read back with SQL; or
"missing" when the entry point is not there yet (absent from `apps.invoicing.api`, or
raising NotImplementedError: a stub of the groundwork); "skipped" when an earlier phase
left nothing to work on; "error" with the exception (the run goes on). The entry points'
keyword arguments are matched by name from what the bench knows (tenant_id, actor, now,
period, ids), so a signature detail does not break the run; an argument the bench cannot
give is an "error" naming it. Then {"bench": "summary"} (each phase's status, figure and
target) and {"bench": "done"}; the run database is dropped unless --keep.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import json
import os
import random
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import invoicing_data as data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA_VERSION = 2  # bump when invoicing_data changes: templates of another version are rebuilt
PHASES = ("drafts", "finalize", "ubl", "pdf", "export")
ALL_PHASES = (*PHASES, "files")
TARGETS = {  # issue 18's Speed section
    "drafts": ("seconds", "<=", 120.0),
    "finalize": ("documents_per_second", ">=", 2000.0),
    "ubl": ("documents_per_second", ">=", 500.0),
    "pdf": ("pages_per_second", ">=", 20.0),
    "export": ("seconds", "<=", 60.0),
}
# Where the files area's render functions may be (first found wins; --ubl-call / --pdf-call
# name another as module:function). Each takes a document (model instance) or its id.
UBL_CALLS = (
    "bench.bench_invoicing:ubl_of_document",
    "apps.invoicing.render.ubl:render_ubl",
    "apps.invoicing.render.ubl:ubl_render",
    "apps.invoicing.render.ubl:document_ubl",
    "apps.invoicing.render.ubl:ubl_bytes",
    "apps.invoicing.render.ubl:build_ubl",
    "apps.invoicing.render.ubl:to_ubl",
    "apps.invoicing.render.ubl:render",
    "apps.invoicing.render.ubl:build",
)
PDF_CALLS = (
    "bench.bench_invoicing:pdf_of_document",
    "apps.invoicing.render.pdf:render_pdf",
    "apps.invoicing.render.pdf:pdf_render",
    "apps.invoicing.render.pdf:document_pdf",
    "apps.invoicing.render.pdf:pdf_bytes",
    "apps.invoicing.render.pdf:build_pdf",
    "apps.invoicing.render.pdf:to_pdf",
    "apps.invoicing.render.pdf:render",
    "apps.invoicing.render.pdf:build",
)


def ubl_of_document(document_id: int) -> bytes:
    """What the files service renders as UBL: the document read once (its lines and VAT
    breakdown), then the UBL 2.1 XML (without the XSD check the service adds)."""
    from apps.invoicing.render.data import document_data
    from apps.invoicing.render.ubl import ubl_xml

    return ubl_xml(document_data(document_id))


def pdf_of_document(document_id: int) -> bytes:
    """What the files service renders as the PDF: the document read once, its CII, the
    WeasyPrint PDF/A-3 with the CII embedded (Factur-X)."""
    from apps.invoicing.render.cii import cii_xml
    from apps.invoicing.render.data import document_data
    from apps.invoicing.render.pdf import facturx_pdf

    doc = document_data(document_id)
    return facturx_pdf(doc, cii_xml(doc))


def emit(**fields: Any) -> None:
    fields.setdefault("loadavg_1m", round(os.getloadavg()[0], 2))
    print(json.dumps(fields, default=str), flush=True)


def _admin(pg: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"{pg}/postgres", autocommit=True)


def _django_env(pg: str, db: str) -> dict[str, str]:
    """This process's (and `migrate`'s) environment: the bench database, no Redis (the
    finalizing transaction's render tasks go to the filesystem broker in var/, unread)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{pg}/{db}",
        DATABASE_CONN_MAX_AGE="600",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        DATA_DIR=str(ROOT / "var" / "bench-invoicing"),
    )
    for name in (
        "REDIS_URL",
        "CACHE_URL",
        "DATABASE_POOL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "RELAY_REDIS_URL",
    ):
        env.pop(name, None)
    return env


# -- the template database ------------------------------------------------------------------


def code_migrations() -> list[str]:
    """Every migration of the code, "app.name" (Django set up)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(f"{app}.{name}" for app, name in loader.disk_migrations)


def template_state(pg: str, tpl: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The template's comment (its data's sizes and version) and its applied migrations."""
    with _admin(pg) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [tpl],
        ).fetchone()
    if row is None:
        return None, []
    try:
        meta = dict(json.loads(row[0] or "")) or None
    except ValueError:
        meta = None
    try:
        with psycopg.connect(f"{pg}/{tpl}") as conn:
            applied = conn.execute("SELECT app || '.' || name FROM django_migrations").fetchall()
    except psycopg.Error:  # a build that stopped before its migrations
        return None, []
    return meta, sorted(a for (a,) in applied)


def build_template(pg: str, tpl: str, customers: int, cdrs: int, month: str) -> None:
    started = time.monotonic()
    with _admin(pg) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{tpl}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{tpl}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_django_env(pg, tpl),
        check=True,
    )
    migrated = time.monotonic()

    def progress(done: int) -> None:
        emit(bench="setup_progress", cdrs=done, seconds=round(time.monotonic() - started, 1))

    with psycopg.connect(f"{pg}/{tpl}") as conn:
        steps = data.build(conn, customers=customers, cdrs=cdrs, month=month, progress=progress)
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("customers_customer", "charging_cdr", "rating_ratedline", "rating_payee")
        }
        per_engine = conn.execute(
            "SELECT engine || '/' || kind || CASE WHEN own_charge THEN '/own' ELSE '' END,"
            " count(*), sum(total_excl_vat) FROM rating_ratedline GROUP BY 1 ORDER BY 1"
        ).fetchall()
    loaded = time.monotonic()
    with psycopg.connect(f"{pg}/{tpl}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    meta = json.dumps(
        {"customers": customers, "cdrs": cdrs, "month": month, "version": DATA_VERSION}
    )
    with _admin(pg) as conn:
        conn.execute(f"COMMENT ON DATABASE \"{tpl}\" IS '{meta}'")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(%s))", [tpl]).fetchone()
    emit(
        bench="setup",
        template=tpl,
        customers=counts["customers_customer"],
        cdrs=counts["charging_cdr"],
        rated_lines=counts["rating_ratedline"],
        payees=counts["rating_payee"],
        per_engine={k: {"lines": n, "total_excl_vat": str(s)} for k, n, s in per_engine},
        migrate_seconds=round(migrated - started, 1),
        **steps,
        vacuum_analyze_seconds=round(time.monotonic() - loaded, 1),
        seconds=round(time.monotonic() - started, 1),
        size=size[0] if size else None,
    )


def migrate_forward(pg: str, tpl: str) -> bool:
    """`migrate` on the template (its data kept); False when that fails (then rebuild)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_django_env(pg, tpl),
        capture_output=True,
        text=True,
    )
    emit(
        bench="setup_migrate_forward",
        template=tpl,
        ok=done.returncode == 0,
        seconds=round(time.monotonic() - started, 1),
        **({"error": done.stderr[-1500:]} if done.returncode else {}),
    )
    if done.returncode == 0:
        with psycopg.connect(f"{pg}/{tpl}", autocommit=True) as conn:
            conn.execute("ANALYZE")
    return done.returncode == 0


def clone(pg: str, tpl: str, db: str) -> float:
    started = time.monotonic()
    with _admin(pg) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{tpl}"')
    return time.monotonic() - started


# -- timing and calling the entry points ------------------------------------------------------


class Missing(Exception):
    """The phase's entry point is not built yet."""


class Skipped(Exception):
    """Nothing to work on (an earlier phase made nothing)."""


def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc; 0 when unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])


@dataclass
class Clock:
    """Wall, this process's CPU and its PostgreSQL backend's CPU, from start() to stop()."""

    wall: float = 0.0
    cpu: float = 0.0
    backend_cpu: float = 0.0
    _marks: tuple[float, float, float, int] = (0.0, 0.0, 0.0, 0)

    def start(self) -> Clock:
        backend = _backend_pid()
        self._marks = (
            time.monotonic(),
            time.process_time(),
            _proc_cpu_seconds(backend),
            backend,
        )
        return self

    def stop(self) -> Clock:
        wall, cpu, backend_cpu, backend = self._marks
        self.wall = time.monotonic() - wall
        self.cpu = time.process_time() - cpu
        # The same connection unless a service closed it (then the figure is a lower bound).
        self.backend_cpu = _proc_cpu_seconds(backend) - backend_cpu
        return self

    def fields(self) -> dict[str, float]:
        return {
            "seconds": round(self.wall, 3),
            "cpu_seconds": round(self.cpu, 3),
            "backend_cpu_seconds": round(self.backend_cpu, 3),
        }


def entry_point(module: str, name: str) -> Callable[..., Any]:
    """`module.name`, or Missing."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise Missing(f"no module {module} ({exc})") from exc
    fn = getattr(mod, name, None)
    if fn is None:
        raise Missing(f"{module} has no {name}")
    return fn


def first_entry_point(calls: list[str]) -> tuple[str, Callable[..., Any]]:
    """The first of `calls` ("module:function") that exists, or Missing naming them."""
    for spec in calls:
        module, name = spec.split(":")
        try:
            return spec, entry_point(module, name)
        except Missing:
            continue
    raise Missing(f"none of {', '.join(calls)} exists (--ubl-call / --pdf-call name another)")


def call(fn: Callable[..., Any], known: dict[str, Any]) -> Any:
    """Call `fn` with the keyword arguments it takes from `known` (by name; a date
    parameter gets the local date of a datetime). A required parameter the bench does not
    know: TypeError naming it. NotImplementedError (a stub): Missing."""
    kwargs: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in known:
            value = known[p.name]
            annotation = str(p.annotation)
            if (
                isinstance(value, datetime)
                and "date" in annotation
                and "datetime" not in annotation
            ):
                value = value.astimezone(data.ZoneInfo(data.TIME_ZONE)).date()
            kwargs[p.name] = value
        elif p.default is p.empty:
            raise TypeError(f"{fn.__module__}.{fn.__qualname__}: the bench cannot give {p.name!r}")
    try:
        return fn(**kwargs)
    except NotImplementedError as exc:
        raise Missing(
            f"{fn.__module__}.{fn.__qualname__} raises NotImplementedError: {exc}"
        ) from exc


def _id(result: Any) -> int:
    """The id of what a service returned (an int, a model, a dataclass with id / run_id)."""
    if isinstance(result, int):
        return result
    for attr in ("id", "pk", "run_id"):
        value = getattr(result, attr, None)
        if isinstance(value, int):
            return value
    if isinstance(result, dict):
        for key in ("id", "run_id"):
            if isinstance(result.get(key), int):
                return int(result[key])
    raise TypeError(f"cannot tell the run id from {result!r}")


def _meets(phase: str, figures: dict[str, Any]) -> dict[str, Any]:
    key, op, target = TARGETS[phase]
    value = figures.get(key)
    ok = None if value is None else (value <= target if op == "<=" else value >= target)
    return {"target": f"{key} {op} {target:g}", "meets_target": ok}


@dataclass
class Context:
    pg: str
    db: str
    tenant_id: int
    period_start: datetime
    period_end: datetime
    now: datetime
    actor: Any
    args: argparse.Namespace
    run_id: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def known(self, **more: Any) -> dict[str, Any]:
        from apps.invoicing.contracts import Frequency, RunTrigger

        return {
            "tenant_id": self.tenant_id,
            "actor": self.actor,
            "now": self.now,
            "frequency": Frequency.MONTHLY,
            "trigger": RunTrigger.MANUAL,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "start": self.period_start,
            "end": self.period_end,
            # Other names a period may go by (a date parameter gets the local date).
            "period": self.period_start,
            "month": self.period_start,
            "day": self.period_start,
            "on": self.period_start,
            "dry_run": False,
            **more,
        }

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(query, params or [])
            return list(cur.fetchall())


# -- the phases ------------------------------------------------------------------------------


def phase_drafts(ctx: Context) -> dict[str, Any]:
    start = entry_point("apps.invoicing.api", "billing_run_start")
    from apps.invoicing.services import runs

    clock = Clock().start()
    ctx.run_id = _id(call(start, ctx.known()))
    call(runs.billing_run_execute, ctx.known(run_id=ctx.run_id))
    clock.stop()
    docs = ctx.sql(
        "SELECT doc_type, count(*), sum(line_count), sum(net_total), sum(total),"
        " count(*) FILTER (WHERE has_late_section) FROM invoicing_document"
        " WHERE tenant_id = %s AND status = 'DRAFT' GROUP BY doc_type ORDER BY doc_type",
        [ctx.tenant_id],
    )
    run = ctx.sql(
        "SELECT status, groups_total, groups_done, documents_created, lines_billed, error"
        " FROM invoicing_billingrun WHERE id = %s",
        [ctx.run_id],
    )
    # What should be billed (every unbilled line of the tenant whose CDR ended before the
    # period's end, own charge excepted), per document type, against what the drafts hold.
    expected = ctx.sql(
        "SELECT CASE r.engine WHEN 'RETAIL' THEN 'CUSTOMER_INVOICE' WHEN 'WHOLESALE' THEN"
        " 'EMSP_INVOICE' ELSE 'SELF_BILLING' END, count(*), sum(r.total_excl_vat)"
        " FROM rating_ratedline r JOIN charging_cdr c ON c.id = r.cdr_id"
        " WHERE r.tenant_id = %s AND NOT r.own_charge AND c.end_date_time < %s GROUP BY 1",
        [ctx.tenant_id, ctx.period_end],
    )
    billed = ctx.sql(
        "SELECT d.doc_type, count(*), sum(l.net) FROM invoicing_documentline l"
        " JOIN invoicing_document d ON d.id = l.document_id WHERE d.tenant_id = %s"
        " AND l.active AND l.rated_line_id IS NOT NULL GROUP BY 1",
        [ctx.tenant_id],
    )
    own = ctx.sql(
        "SELECT count(*) FROM invoicing_documentline l JOIN rating_ratedline r"
        " ON r.id = l.rated_line_id WHERE l.active AND r.own_charge"
    )[0][0]
    n_docs = sum(d[1] for d in docs)
    lines = sum(d[2] or 0 for d in docs)
    figures = {
        **clock.fields(),
        "run_id": ctx.run_id,
        "run": dict(
            zip(
                ("status", "groups_total", "groups_done", "documents", "lines", "error"),
                run[0],
                strict=True,
            )
        )
        if run
        else None,  # fmt: skip
        "documents": n_docs,
        "document_lines": lines,
        "documents_per_second": round(n_docs / clock.wall, 1) if clock.wall else None,
        "per_type": {
            t: {"documents": n, "lines": ln, "net_total": str(net), "total": str(tot), "late": late}
            for t, n, ln, net, tot, late in docs
        },
        "expected_lines": {t: {"lines": n, "net": str(s)} for t, n, s in expected},
        "billed_lines": {t: {"lines": n, "net": str(s)} for t, n, s in billed},
        "own_charge_lines_billed": own,
    }
    if n_docs == 0:
        figures["note"] = "the run made no drafts"
    return figures


def _draft_ids(ctx: Context) -> list[int]:
    return [
        r[0]
        for r in ctx.sql(
            "SELECT id FROM invoicing_document WHERE tenant_id = %s AND status = 'DRAFT'"
            " ORDER BY id",
            [ctx.tenant_id],
        )
    ]


def phase_finalize(ctx: Context) -> dict[str, Any]:
    finalize = entry_point("apps.invoicing.api", "documents_finalize")
    ids = _draft_ids(ctx)
    if not ids:
        raise Skipped("no drafts to finalize")
    batch = ctx.args.finalize_batch or len(ids)
    clock = Clock().start()
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        call(finalize, ctx.known(document_ids=chunk, ids=chunk))
    clock.stop()
    done = ctx.sql(
        "SELECT doc_type, count(*), count(DISTINCT number) FROM invoicing_document"
        " WHERE tenant_id = %s AND status = 'FINALIZED' GROUP BY 1 ORDER BY 1",
        [ctx.tenant_id],
    )
    # Gapless: per series (type and number text before its last dash), n numbers 1..n.
    gaps = ctx.sql(
        "SELECT doc_type, regexp_replace(number, '-[0-9]+$', ''), count(*),"
        " max(substring(number from '([0-9]+)$')::bigint) FROM invoicing_document"
        " WHERE tenant_id = %s AND status = 'FINALIZED' GROUP BY 1, 2 ORDER BY 1, 2",
        [ctx.tenant_id],
    )
    n = sum(r[1] for r in done)
    return {
        **clock.fields(),
        "documents": n,
        "drafts": len(ids),
        "batch": batch,
        "documents_per_second": round(n / clock.wall, 1) if clock.wall else None,
        "per_type": {t: c for t, c, _ in done},
        "duplicate_numbers": sum(c - d for _, c, d in done),
        "series": {f"{t} {p}": {"numbers": c, "highest": m} for t, p, c, m in gaps},
        "series_with_gaps": sum(1 for _, _, c, m in gaps if c != m),
        "drafts_left": len(_draft_ids(ctx)),
    }


def _sample(ctx: Context) -> tuple[list[int], str]:
    """--sample documents, finalized if there are any (else drafts), of every type."""
    for status in ("FINALIZED", "DRAFT"):
        ids = [
            r[0]
            for r in ctx.sql(
                "SELECT id FROM invoicing_document WHERE tenant_id = %s AND status = %s"
                " ORDER BY id",
                [ctx.tenant_id, status],
            )
        ]
        if ids:
            rng = random.Random(18)
            return sorted(rng.sample(ids, min(len(ids), ctx.args.sample))), status
    raise Skipped("no documents to render")


def _as_bytes(result: Any) -> bytes:
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result)
    if isinstance(result, str):
        return result.encode()
    for attr in ("content", "data", "body", "pdf", "xml"):
        value = getattr(result, attr, None)
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
    if isinstance(result, tuple):
        for value in result:
            if isinstance(value, bytes | bytearray | memoryview):
                return bytes(value)
    raise TypeError(f"cannot find the bytes in {type(result).__name__}")


def _render_args(fn: Callable[..., Any], document_id: int) -> dict[str, Any]:
    """What a render function gets: the Document (with its lines and VAT breakdown) for a
    parameter named document / doc, else the id."""
    from apps.invoicing.models import Document

    names = list(inspect.signature(fn).parameters)
    if any(n in names for n in ("document", "doc")):
        doc = Document.objects.prefetch_related("lines", "vat_breakdown").get(pk=document_id)
        return {"document": doc, "doc": doc, "document_id": document_id}
    return {"document_id": document_id, "id": document_id}


def _render_phase(ctx: Context, which: str, calls: list[str]) -> dict[str, Any]:
    name, fn = first_entry_point(calls)
    ids, status = _sample(ctx)
    # Warm-up (imports, fonts, schema caches) on the first document, not timed.
    call(fn, _render_args(fn, ids[0]) | ctx.known())
    outputs: list[bytes] = []
    clock = Clock().start()
    for document_id in ids:
        outputs.append(_as_bytes(call(fn, _render_args(fn, document_id) | ctx.known())))
    clock.stop()
    sizes = [len(out) for out in outputs]
    figures: dict[str, Any] = {
        **clock.fields(),
        "function": name,
        "documents": len(ids),
        "document_status": status,
        "documents_per_second": round(len(ids) / clock.wall, 1) if clock.wall else None,
        "documents_per_cpu_second": round(len(ids) / clock.cpu, 1) if clock.cpu else None,
        "bytes_avg": round(sum(sizes) / len(sizes)) if sizes else 0,
        "processes": 1,
        "input": "document id"
        if "document_id" in inspect.signature(fn).parameters
        else "Document with lines and VAT breakdown, loaded (ORM) inside the timed loop",
    }
    if which == "pdf":
        from pypdf import PdfReader

        pages = sum(len(PdfReader(io.BytesIO(out)).pages) for out in outputs)
        figures["pages"] = pages
        figures["pages_per_second"] = round(pages / clock.wall, 1) if clock.wall else None
        figures["pages_per_cpu_second"] = round(pages / clock.cpu, 1) if clock.cpu else None
    return figures


def phase_ubl(ctx: Context) -> dict[str, Any]:
    return _render_phase(ctx, "ubl", ctx.args.ubl_call or list(UBL_CALLS))


def phase_pdf(ctx: Context) -> dict[str, Any]:
    return _render_phase(ctx, "pdf", ctx.args.pdf_call or list(PDF_CALLS))


def phase_files(ctx: Context) -> dict[str, Any]:
    from apps.invoicing.services import files

    ids, status = _sample(ctx)
    clock = Clock().start()
    for document_id in ids:
        call(files.document_files_render, ctx.known(document_id=document_id))
    clock.stop()
    stored = ctx.sql(
        "SELECT kind, count(*), sum(size) FROM invoicing_documentfile WHERE document_id = ANY(%s)"
        " GROUP BY 1 ORDER BY 1",
        [ids],
    )
    return {
        **clock.fields(),
        "documents": len(ids),
        "document_status": status,
        "documents_per_second": round(len(ids) / clock.wall, 1) if clock.wall else None,
        "files": {k: {"count": c, "bytes": s} for k, c, s in stored},
    }


def phase_export(ctx: Context) -> dict[str, Any]:
    post = entry_point("apps.invoicing.api", "export_batch_post")
    clock = Clock().start()
    call(post, ctx.known())
    clock.stop()
    batches = ctx.sql(
        "SELECT number, line_count, cdr_count, energy_kwh FROM invoicing_exportbatch"
        " WHERE tenant_id = %s ORDER BY number",
        [ctx.tenant_id],
    )
    twice = ctx.sql(
        "SELECT count(*) FROM (SELECT cdr_id, rated_line_id FROM invoicing_exportedline"
        " WHERE tenant_id = %s GROUP BY 1, 2 HAVING count(*) > 1) x",
        [ctx.tenant_id],
    )[0][0]
    files = ctx.sql(
        "SELECT f.kind, f.size FROM invoicing_exportfile f JOIN invoicing_exportbatch b"
        " ON b.id = f.batch_id WHERE b.tenant_id = %s ORDER BY f.kind",
        [ctx.tenant_id],
    )
    records = ctx.sql(
        "SELECT count(*), count(DISTINCT cdr_id) FROM invoicing_cdrrecord WHERE tenant_id = %s",
        [ctx.tenant_id],
    )[0]
    return {
        **clock.fields(),
        "batches": [
            {"number": n, "lines": ln, "cdrs": c, "energy_kwh": str(e)} for n, ln, c, e in batches
        ],
        "file_bytes": dict(files),
        "records": records[0],
        "records_cdrs": records[1],
        "rated_lines_exported_twice": twice,
    }


RUNNERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "drafts": phase_drafts,
    "finalize": phase_finalize,
    "ubl": phase_ubl,
    "pdf": phase_pdf,
    "export": phase_export,
    "files": phase_files,
}


def run_phase(ctx: Context, phase: str) -> dict[str, Any]:
    out: dict[str, Any] = {"bench": "invoicing", "phase": phase}
    try:
        figures = RUNNERS[phase](ctx)
    except Missing as exc:
        out.update(status="missing", reason=str(exc))
    except Skipped as exc:
        out.update(status="skipped", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - report and go on with the next phase
        from django.db import connection

        out.update(status="error", error=f"{type(exc).__name__}: {exc}"[:2000])
        out["traceback"] = traceback.format_exc(limit=6)[-3000:]
        connection.close()  # a broken connection must not fail the next phase
    else:
        out.update(status="ok", **figures)
        if phase in TARGETS:
            out.update(_meets(phase, figures))
    emit(**out)
    return out


def prepare(args: argparse.Namespace, tpl: str) -> None:
    """The template (built, migrated forward or reused), cloned into --db."""
    meta, applied = template_state(args.pg, tpl)
    want = {"customers": args.customers, "cdrs": args.cdrs, "month": args.month,
            "version": DATA_VERSION}  # fmt: skip
    migrations = code_migrations()
    newer = sorted(set(migrations) - set(applied))
    if not args.rebuild and meta == want and newer and set(applied) < set(migrations):
        # Only new migrations since the build (another area merged): migrate the template
        # forward, as a deployment would, rather than generate the data again.
        if migrate_forward(args.pg, tpl):
            emit(bench="setup", template=tpl, reused=True, migrated_forward=newer, **want)
            meta, applied = template_state(args.pg, tpl)
    if args.rebuild or meta != want or applied != migrations:
        reason = (
            "--rebuild" if args.rebuild else "missing" if meta is None and not applied
            else "data changed" if meta != want else "migrations changed"
        )  # fmt: skip
        emit(bench="setup_start", template=tpl, reason=reason, **want)
        build_template(args.pg, tpl, args.customers, args.cdrs, args.month)
    elif not newer:
        emit(bench="setup", template=tpl, reused=True, **want)
    if args.setup_only:
        emit(bench="done")
        raise SystemExit(0)
    emit(bench="clone", template=tpl, db=args.db, seconds=round(clone(args.pg, tpl, args.db), 1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--cdrs", type=int, default=1_000_000)
    p.add_argument("--month", default=data.MONTH, help="YYYY-MM the CDRs end in (local)")
    p.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated, of {', '.join(ALL_PHASES)} (default: {','.join(PHASES)})",
    )
    p.add_argument("--sample", type=int, default=200, help="documents rendered (ubl, pdf)")
    p.add_argument("--finalize-batch", type=int, default=1000, help="ids per finalize call")
    p.add_argument("--ubl-call", action="append", help="module:function rendering UBL")
    p.add_argument("--pdf-call", action="append", help="module:function rendering the PDF")
    p.add_argument("--template", default="", help="default hbench_invoicing_tpl[_<sizes>]")
    p.add_argument("--db", default="hbench_inv_run")
    p.add_argument("--rebuild", action="store_true", help="generate the template again")
    p.add_argument("--setup-only", action="store_true", help="build the template and stop")
    p.add_argument("--keep", action="store_true", help="keep the run database")
    p.add_argument(
        "--continue-db",
        action="store_true",
        help="run the phases on --db as an earlier --keep run left it (no template, no clone)",
    )
    args = p.parse_args()
    phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    unknown = sorted(set(phases) - set(ALL_PHASES))
    if unknown:
        p.error(f"unknown phases: {', '.join(unknown)}")
    default = args.customers == 100_000 and args.cdrs == 1_000_000 and args.month == data.MONTH
    tpl = args.template or (
        "hbench_invoicing_tpl"
        if default
        else f"hbench_invoicing_tpl_{args.customers}_{args.cdrs}_{args.month.replace('-', '')}"
    )
    sys.path.insert(0, str(ROOT))
    os.environ.update(_django_env(args.pg, args.db))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    emit(bench="start", date=datetime.now().astimezone().isoformat(timespec="seconds"),
         cpus=os.cpu_count(), phases=phases, uptime=subprocess.run(["uptime"],
         capture_output=True, text=True).stdout.strip())  # fmt: skip
    if args.continue_db:
        emit(bench="continue", db=args.db)
    else:
        prepare(args, tpl)
    from apps.common.contracts import Actor

    start, end = data.period(args.month)
    ctx = Context(
        pg=args.pg,
        db=args.db,
        tenant_id=data.TENANT,
        period_start=start,
        period_end=end,
        now=data.bench_now(args.month),
        actor=Actor.system("bench-invoicing"),
        args=args,
    )
    emit(bench="period", period_start=start, period_end=end, now=ctx.now)
    results: dict[str, dict[str, Any]] = {}
    try:
        for phase in phases:
            out = run_phase(ctx, phase)
            key = TARGETS.get(phase, ("seconds",))[0]
            results[phase] = {
                k: out[k] for k in ("status", key, "target", "meets_target") if k in out
            }
        emit(bench="summary", phases=results)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with _admin(args.pg) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    emit(bench="done", uptime=subprocess.run(["uptime"], capture_output=True,
         text=True).stdout.strip())  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
