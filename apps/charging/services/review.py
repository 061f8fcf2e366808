"""Review of flagged transactions: dismiss a flag, or process the transaction again and
price it once what was missing (a tariff, a start) has been put right. Each change is
audited with the actor in its transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.charging.contracts import CdrKind, FlagRow, FlagStatus, SessionStatus
from apps.charging.models import Cdr, ChargingSession, ReviewFlag
from apps.charging.selectors.events import events_by_transaction
from apps.charging.selectors.flags import flag_rows
from apps.charging.services.cdrs import session_finalise
from apps.charging.services.processing import transaction_process
from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound
from apps.parties import api as parties_api
from apps.tariffs import api as tariffs_api


def _flag_for_update(tenant_id: int, flag_id: int) -> ReviewFlag:
    flag = ReviewFlag.objects.select_for_update().filter(tenant_id=tenant_id, pk=flag_id).first()
    if flag is None:
        raise NotFound(f"no flag {flag_id} in this tenant")
    if flag.status != FlagStatus.OPEN.value:
        raise Conflict(f"this flag is already {flag.status.lower()}")
    return flag


@transaction.atomic
def flag_dismiss(*, tenant_id: int, flag_id: int, actor: Actor, note: str = "") -> FlagRow:
    flag = _flag_for_update(tenant_id, flag_id)
    flag.status = FlagStatus.DISMISSED.value
    flag.details = {**(flag.details or {}), "dismissed_note": note[:500]}
    flag.save(update_fields=["status", "details", "updated_at"])
    _audit_flag(tenant_id, actor, "flag.dismiss", flag.pk, flag.status, "dismissed")
    return flag_rows(tenant_id=tenant_id, limit=1, before_id=flag.pk + 1, status=None)[0]


def _audit_flag(
    tenant_id: int, actor: Actor, action: str, flag_id: int, status: str, message: str
) -> None:
    parties_api.audit(
        tenant_id,
        actor,
        action,
        "review_flag",
        flag_id,
        before={"status": FlagStatus.OPEN.value},
        after={"status": status, "message": message},
    )


@transaction.atomic
def flag_reprice(
    *, tenant_id: int, flag_id: int, now: datetime, actor: Actor
) -> tuple[FlagRow, str]:
    """Process the flagged transaction again and write its CDR if it can now be priced.

    A session without a tariff takes the tariff in force at its start if one has been
    assigned with that effective date, else the one in force now (said in the answer). A
    session that already has its CDR is not priced twice: the flag is resolved."""
    flag = _flag_for_update(tenant_id, flag_id)
    session_id = flag.session_id
    if session_id is None:
        session_id = transaction_process(
            station_id=flag.charge_station_id, ocpp_transaction_id=flag.ocpp_transaction_id
        )
        if session_id is None:
            raise Conflict(
                "still no start for this transaction: nothing to price. Dismiss the flag if "
                "the station will not send it."
            )
    session = ChargingSession.objects.select_for_update().get(pk=session_id)
    existing = Cdr.objects.filter(session=session, kind=CdrKind.ORIGINAL.value).first()
    if existing is None:
        message = _price(session, now)
    else:
        message = f"the session already has its CDR {existing.ocpi_id}: nothing priced twice"
    ReviewFlag.objects.filter(pk=flag.pk).update(status=FlagStatus.RESOLVED.value, updated_at=now)
    _audit_flag(tenant_id, actor, "flag.reprice", flag.pk, FlagStatus.RESOLVED.value, message)
    row = flag_rows(tenant_id=tenant_id, limit=1, before_id=flag.pk + 1, status=None)[0]
    return row, message


def _price(session: ChargingSession, now: datetime) -> str:
    """Write the CDR of a (locked) session that has none, with a tariff taken now if it had
    none; what was done, in words. Raises Conflict when it still cannot be priced."""
    message = ""
    if not session.tariff_snapshot:
        message = _assign_tariff(session, now)
    if session.status != SessionStatus.COMPLETED.value:
        return "the session is still active: its CDR is written when it ends"
    key = (session.charge_station_id, session.ocpp_transaction_id)
    if session_finalise(session, events_by_transaction([key])[key]) is None:
        raise Conflict("the session still cannot be priced; see the flag's details")
    return f"CDR written, {message}"


def _assign_tariff(session: ChargingSession, now: datetime) -> str:
    snapshot = tariffs_api.tariff_for_session(
        charge_station_id=session.charge_station_id,
        connector_id=session.connector_id,
        at=session.started_at,
    )
    message = "priced with the tariff in force at session start"
    if snapshot is None:
        snapshot = tariffs_api.tariff_for_session(
            charge_station_id=session.charge_station_id,
            connector_id=session.connector_id,
            at=now,
        )
        message = "no tariff was in force at session start: priced with today's tariff"
    if snapshot is None:
        raise Conflict(
            "no tariff is assigned to this station: assign a tariff code to the station "
            "(Tariffs ▸ assignment), then re-price"
        )
    session.tariff_version_id = snapshot.tariff_version_id
    session.tariff_snapshot = snapshot.ocpi
    session.currency = snapshot.currency
    session.save(update_fields=["tariff_version_id", "tariff_snapshot", "currency"])
    return message
