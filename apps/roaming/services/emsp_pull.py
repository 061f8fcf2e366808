"""Pull as catch-up (eMSP role): GET a CPO partner's locations / tariffs / sessions / CDRs
from its SENDER endpoints, page by page (apps.roaming.client.pages follows the partner's
Link, or advances the offset while X-Total-Count says there is more), and store each item as
the receivers do (services.emsp_in).

Incremental: `date_from` = the start of the last successful pull of that module minus
SAFETY_MARGIN (objects changed while a pull ran, clocks that disagree). The nightly full
resync asks everything again (partners bump or rewrite `last_updated`). Storing is
idempotent (upsert by id; a CDR is stored once), so a total that changes while crawling
(an item seen twice, or shifted to a page already read) costs nothing; an item shifted
past the end is caught by the next pull, whose `date_from` starts before this one began.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from apps.roaming import client, transport
from apps.roaming.contracts import ConnectionStatus, InterfaceRole, OcpiRole, OcpiVersion
from apps.roaming.models import OcpiConnection, OcpiPartyRole, OcpiPullCursor
from apps.roaming.services import emsp_cdrs, emsp_in
from apps.roaming.services.emsp_tokens import own_emsp_parties

PULL_MODULES = ("locations", "tariffs", "sessions", "cdrs")
SAFETY_MARGIN = timedelta(minutes=15)
MAX_REFUSALS_KEPT = 20


@dataclass
class PullReport:
    connection_id: int
    module: str
    full: bool
    stored: int = 0
    refused: int = 0
    pages: int = 0
    error: str = ""
    refusals: list[str] = field(default_factory=list)


def _store(conn: OcpiConnection, module: str, version: str, item: Any, now: datetime) -> None:
    if not isinstance(item, dict):
        raise emsp_in.Rejected(transport.INVALID_PARAMETERS, "an item is not a JSON object")
    if module == "cdrs":
        emsp_cdrs.cdr_receive(
            connection_id=conn.pk, version=version, raw=transport.dumps(item), body=item, now=now
        )
        return
    cc, pid = item.get("country_code"), item.get("party_id")
    if not (isinstance(cc, str) and isinstance(pid, str)):  # 2.1.1: the connection's party
        parties = emsp_in.cpo_parties(conn)
        if not parties:
            raise emsp_in.Rejected(transport.INVALID_PARAMETERS, "the connection has no CPO")
        cc, pid = parties[0]
    oid = item.get("id")
    if not isinstance(oid, str):
        raise emsp_in.Rejected(transport.INVALID_PARAMETERS, "an item has no id")
    emsp_in.object_put(
        connection_id=conn.pk,
        module=module,
        version=version,
        country_code=cc,
        party_id=pid,
        object_id=oid,
        body=item,
        now=now,
    )


def _hub_party(conn: OcpiConnection) -> tuple[str, str] | None:
    row = (
        OcpiPartyRole.objects.filter(connection=conn, role=OcpiRole.HUB.value)
        .order_by("id")
        .values_list("country_code", "party_id")
        .first()
    )
    return (row[0], row[1]) if row else None


def _crawl(
    conn: OcpiConnection,
    module: str,
    version: str,
    url: str,
    params: dict[str, Any],
    to_party: tuple[str, str] | None,
    now: datetime,
    report: PullReport,
) -> bool:
    """GET every page and store each item; False (report.error set) when a call failed."""
    ours = next(iter(own_emsp_parties(conn.tenant_id).values()), None)
    try:
        for page in client.pages(
            connection=conn,
            url=url,
            module=module,
            params=params,
            from_party=ours,
            to_party=to_party,
        ):
            report.pages += 1
            for item in page:
                try:
                    _store(conn, module, version, item, now)
                    report.stored += 1
                except emsp_in.Rejected as exc:
                    report.refused += 1
                    if len(report.refusals) < MAX_REFUSALS_KEPT:
                        report.refusals.append(exc.message)
    except client.OcpiCallFailed as exc:
        report.error = str(exc)
        return False
    return True


def pull_module(
    *, connection_id: int, module: str, now: datetime, full: bool = False
) -> PullReport:
    """Pull one module from the partner and store what arrives. The cursor moves only when
    the whole crawl succeeded; a failure is recorded on it and reported."""
    if module not in PULL_MODULES:
        raise ValueError(f"cannot pull {module!r}")
    conn = OcpiConnection.objects.get(pk=connection_id)
    report = PullReport(connection_id=conn.pk, module=module, full=full)
    cursor, _ = OcpiPullCursor.objects.get_or_create(
        connection=conn, module=module, defaults={"tenant_id": conn.tenant_id}
    )
    url = client.endpoint_url(conn, module, InterfaceRole.SENDER.value)
    if conn.status != ConnectionStatus.REGISTERED.value or url is None:
        report.error = (
            f"the connection is {conn.status.lower()}"
            if url is not None
            else f"the partner lists no {module} sender endpoint"
        )
        return report
    version = conn.version or OcpiVersion.V2_2_1.value
    params: dict[str, Any] = {"limit": settings.OCPI_PAGE_LIMIT}
    if not full and cursor.last_success_at is not None:
        params["date_from"] = transport.iso(cursor.last_success_at - SAFETY_MARGIN)
    partners = emsp_in.cpo_parties(conn)
    # Through a hub: TO = the hub itself, which answers every party's objects merged.
    to_party = _hub_party(conn) if conn.is_hub else (partners[0] if partners else None)
    if not _crawl(conn, module, version, url, params, to_party, now, report):
        cursor.last_error = report.error[:2000]
        cursor.save(update_fields=["last_error", "updated_at"])
        return report
    cursor.last_success_at = now
    if full:
        cursor.last_full_at = now
    cursor.last_error = ""
    cursor.save(update_fields=["last_success_at", "last_full_at", "last_error", "updated_at"])
    return report


def pull_targets() -> list[tuple[int, str]]:
    """(connection id, module) of every registered connection that lists a sender of a
    module we pull: what the beat tasks queue."""
    out: list[tuple[int, str]] = []
    for conn in OcpiConnection.objects.filter(status=ConnectionStatus.REGISTERED.value).order_by(
        "id"
    ):
        for module in PULL_MODULES:
            if client.endpoint_url(conn, module, InterfaceRole.SENDER.value) is not None:
                if emsp_in.cpo_parties(conn):
                    out.append((conn.pk, module))
    return out


# -- re-sync of one party behind a hub (HubClientInfo: back to CONNECTED) ---------------------

RESYNC_MODULES = ("locations", "tariffs")


def resync_since(
    *, connection_id: int, module: str, offline_since: datetime | None
) -> datetime | None:
    """Where a party's re-sync starts: the earlier of the module's last successful pull
    and the moment the party went away (what changed meanwhile never reached us), minus
    SAFETY_MARGIN. None (everything) when either is unknown: never pulled, or a party that
    was never seen CONNECTED (PLANNED)."""
    cursor = OcpiPullCursor.objects.filter(connection_id=connection_id, module=module).first()
    last = cursor.last_success_at if cursor is not None else None
    if last is None or offline_since is None:
        return None
    return min(last, offline_since) - SAFETY_MARGIN


def pull_party(
    *,
    connection_id: int,
    module: str,
    country_code: str,
    party_id: str,
    since: datetime | None,
    now: datetime,
) -> PullReport:
    """GET one party's objects of a module through its hub (routing headers TO = that
    party), `date_from` = `since` (None: all of them), and store them like any pull. The
    connection's cursor does not move: it stands for every party behind the hub."""
    if module not in PULL_MODULES:
        raise ValueError(f"cannot pull {module!r}")
    conn = OcpiConnection.objects.get(pk=connection_id)
    report = PullReport(connection_id=conn.pk, module=module, full=since is None)
    url = client.endpoint_url(conn, module, InterfaceRole.SENDER.value)
    if conn.status != ConnectionStatus.REGISTERED.value or url is None:
        report.error = (
            f"the connection is {conn.status.lower()}"
            if url is not None
            else f"the partner lists no {module} sender endpoint"
        )
        return report
    params: dict[str, Any] = {"limit": settings.OCPI_PAGE_LIMIT}
    if since is not None:
        params["date_from"] = transport.iso(since)
    version = conn.version or OcpiVersion.V2_2_1.value
    _crawl(conn, module, version, url, params, (country_code, party_id), now, report)
    return report


def party_resync(
    *,
    connection_id: int,
    country_code: str,
    party_id: str,
    offline_since: datetime | None,
    now: datetime,
) -> list[PullReport]:
    """A CPO behind a hub is CONNECTED again: re-pull its locations and tariffs changed
    since it went away (or since our last pull of them, if earlier)."""
    return [
        pull_party(
            connection_id=connection_id,
            module=module,
            country_code=country_code,
            party_id=party_id,
            since=resync_since(
                connection_id=connection_id, module=module, offline_since=offline_since
            ),
            now=now,
        )
        for module in RESYNC_MODULES
    ]
