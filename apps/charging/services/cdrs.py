"""Pricing sessions with the pricing core: live cost while charging, the CDR at the end;
and the CDR's one correction, the credit CDR.

The tariff is the OCPI snapshot frozen on the session at its start; the time zone is the
location's, snapshotted likewise. One pricing function serves both (PRICING.md point 12).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.charging import jobs
from apps.charging.contracts import AUTH_METHOD_WHITELIST, CdrKind, ChargingState, FlagReason
from apps.charging.models import (
    CDR_AMOUNT_FIELDS,
    CDR_VOLUME_FIELDS,
    Cdr,
    ChargingSession,
    OcppEvent,
)
from apps.charging.services import live_cost_feed
from apps.charging.services.batch import Lookups, Writes
from apps.charging.services.timeline import TimelinePoint, build_timeline, first_stop_wins
from apps.charging.services.webhooks import WebhookOutbox
from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound
from apps.locations.contracts import StationContext
from apps.parties import api as parties_api
from billing import pricing

log = logging.getLogger(__name__)

_PRICING_STATE = {
    ChargingState.CHARGING: pricing.ChargingState.CHARGING,
    ChargingState.SUSPENDED_EVSE: pricing.ChargingState.SUSPENDED_EVSE,
    ChargingState.SUSPENDED_EV: pricing.ChargingState.SUSPENDED_EV,
    ChargingState.EV_CONNECTED: pricing.ChargingState.EV_CONNECTED,
}


def _price(
    session: ChargingSession,
    events: list[OcppEvent],
    end: datetime,
    *,
    final: bool,
    lookups: Lookups,
    timeline: list[TimelinePoint] | None = None,
) -> tuple[pricing.Tariff, tuple[pricing.ChargingPeriod, ...], pricing.PriceResult]:
    tariff = lookups.tariff(session)
    if timeline is None:
        timeline = build_timeline(session, events, end if final else None, lookups)
    samples = [
        pricing.MeterSample(
            timestamp=p.timestamp,
            energy_wh=p.energy_wh,
            state=_PRICING_STATE.get(p.state, pricing.ChargingState.CHARGING),
            current_a=p.current_a,
            power_kw=None if p.power_w is None else p.power_w / 1000,
        )
        for p in timeline
        if p.timestamp <= end
    ]
    if not final and samples and samples[-1].timestamp < end:
        end = samples[-1].timestamp
    periods = pricing.split_session(
        tariff=tariff,
        samples=samples,
        time_zone=session.time_zone,
        start=session.started_at,
        end=end,
        tariff_id=tariff.id,
    )
    result = pricing.price_session(
        tariff=tariff,
        session=pricing.SessionInput(
            start=session.started_at,
            end=end,
            time_zone=session.time_zone,
            charging_periods=periods,
        ),
    )
    return tariff, periods, result


def session_update_live_cost(
    session: ChargingSession,
    events: list[OcppEvent],
    timeline: list[TimelinePoint] | None = None,
    lookups: Lookups | None = None,
) -> None:
    """Running cost of an active session, up to its newest meter sample, set on `session`
    (the caller saves it). Never raises: a session that cannot be priced yet is priced (or
    flagged) when it ends."""
    if not session.tariff_snapshot or not session.time_zone or session.last_meter_at is None:
        return
    try:
        _, periods, result = _price(
            session,
            events,
            session.last_meter_at,
            final=False,
            lookups=lookups or Lookups(),
            timeline=timeline,
        )
    except pricing.PricingError as exc:
        log.info("live cost of session %s not priced: %s", session.pk, exc)
        return
    total = result.totals.total_cost
    session.live_cost_excl_vat = total.excl_vat
    session.live_cost_incl_vat = total.incl_vat
    session.live_charging_periods = pricing.periods_to_ocpi(periods)
    # Hook: after commit, the gateway node holding the station shows it the new running cost
    # (OCPP 2.0.1 CostUpdated); see apps/charging/live_cost_feed.py.
    live_cost_feed.publish_on_commit(session, lookups)


def _cdr_token(session: ChargingSession, lookups: Lookups) -> dict[str, Any]:
    # A uid no token matches (flagged UNKNOWN_TOKEN): what the station sent, the issuer
    # empty (as the Session object shows it; OCPI requires the fields).
    token: dict[str, Any] = {
        "country_code": "",
        "party_id": "",
        "uid": session.id_tag,
        "type": "RFID",
        "contract_id": "",
    }
    if session.token_id is not None:
        ref = next((t for t in lookups.tokens(session.id_tag) if t.id == session.token_id), None)
        if ref is not None:
            issuer = lookups.party(ref.party_id)
            token.update(
                {
                    "country_code": issuer.country_code,
                    "party_id": issuer.party_id,
                    "type": str(ref.type),
                    "contract_id": ref.contract_id,
                }
            )
    return token


def cdr_build(
    session: ChargingSession,
    events: list[OcppEvent],
    lookups: Lookups,
    writes: Writes,
) -> Cdr | None:
    """The CDR of a completed session (not saved: the caller inserts the batch's CDRs in one
    statement, under the sessions' locks). None when the session cannot be priced: it is
    flagged for review (`writes`); nothing is guessed."""
    if not session.tariff_snapshot or not session.time_zone or session.ended_at is None:
        return None  # flagged NO_TARIFF / MISSING_EVSE when the session was created
    ctx = lookups.station(session.charge_station_id)
    if ctx.cpo_party_id is None:
        return None
    try:
        _, periods, result = _price(session, events, session.ended_at, final=True, lookups=lookups)
    except pricing.PricingError as exc:
        writes.flag(
            tenant_id=session.tenant_id,
            station_id=session.charge_station_id,
            txid=session.ocpp_transaction_id,
            reason=FlagReason.PRICING_FAILED,
            session=session,
            details={"error": str(exc)[:2000]},
        )
        return None
    ocpi_id = f"CDR{session.pk:010d}"
    cdr = Cdr(
        tenant_id=session.tenant_id,
        party_id=ctx.cpo_party_id,
        ocpi_id=ocpi_id,
        kind=CdrKind.ORIGINAL.value,
        session=session,
        tariff_version_id=session.tariff_version_id,
        start_date_time=session.started_at,
        end_date_time=session.ended_at,
        currency=result.currency,
        total_energy_kwh=result.total_energy,
        total_time_hours=_hours(result.total_time_seconds),
        total_parking_time_hours=_hours(result.total_parking_seconds),
        # Billing columns (ADR 0027): the session's attribution; the contract and customer
        # in force at the start are set for the whole batch (batch.cdrs_attribute_contracts).
        token_id=session.token_id,
        token_source=session.token_source,
        emsp_party_id=session.emsp_party_id,
        emsp_tenant_id=session.emsp_tenant_id,
        hcc=ctx.hcc
        or (lookups.token_hcc(session.id_tag, session.token_id) if session.token_id else ""),
        data=_cdr_object(session, events, ctx, lookups, ocpi_id, result, periods),
        # Not OCPI: the platform's notes, beside the object (Cdr.annotations).
        annotations={
            "time_zone": session.time_zone,
            "meter_start_wh": str(session.meter_start_wh),
            "meter_stop_wh": str(session.meter_stop_wh),
            "ocpp_transaction_id": session.ocpp_transaction_id,
            "pricing": pricing.result_to_ocpi(result),
        },
    )
    totals = result.totals
    for name in (
        "cost",
        "fixed_cost",
        "energy_cost",
        "time_cost",
        "parking_cost",
        "reservation_cost",
    ):
        amount = getattr(totals, f"total_{name}")
        setattr(cdr, f"total_{name}_excl_vat", amount.excl_vat)
        setattr(cdr, f"total_{name}_incl_vat", amount.incl_vat)
    return cdr


def _cdr_object(
    session: ChargingSession,
    events: list[OcppEvent],
    ctx: StationContext,
    lookups: Lookups,
    ocpi_id: str,
    result: pricing.PriceResult,
    periods: tuple[pricing.ChargingPeriod, ...],
) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR object of a completed, priced session (`Cdr.data`)."""
    assert session.ended_at is not None
    signed = [
        (s["signed_data"], s.get("context", ""))
        for e in events
        for s in e.samples
        if s.get("signed_data")
    ]
    data: dict[str, Any] = {
        "country_code": ctx.country_code,
        "party_id": ctx.party_code,
        "id": ocpi_id,
        "start_date_time": _iso(session.started_at),
        "end_date_time": _iso(session.ended_at),
        "session_id": str(session.pk),
        "cdr_token": _cdr_token(session, lookups),
        "auth_method": session.auth_method or AUTH_METHOD_WHITELIST,
        "cdr_location": _cdr_location(session, events, ctx, lookups),
        "currency": result.currency,
        "tariffs": [session.tariff_snapshot],
        "charging_periods": pricing.periods_to_ocpi(periods),
        "signed_data": _signed_data(signed) if signed else None,
        "last_updated": _iso(session.ended_at),
    }
    if session.authorization_reference:
        data["authorization_reference"] = session.authorization_reference
    return data


def _cdr_location(
    session: ChargingSession, events: list[OcppEvent], ctx: StationContext, lookups: Lookups
) -> dict[str, Any]:
    """The station's OCPI CdrLocation with the EVSE and connector the session used."""
    location = dict(ctx.cdr_location or {})
    if session.connector_id is None:
        return location
    connector = lookups.connector(
        session.charge_station_id,
        next((e.evse_ocpp_id for e in events if e.evse_ocpp_id), None),
        next((e.connector_ocpp_id for e in events if e.connector_ocpp_id), None),
    )
    if connector is not None:
        location.update(
            {
                "evse_uid": connector.evse_uid,
                "evse_id": connector.evse_ocpi_evse_id,
                "connector_id": connector.connector_id,
                "connector_standard": str(connector.standard),
                "connector_format": str(connector.format),
                "connector_power_type": str(connector.power_type),
            }
        )
    return location


def session_finalise(
    session: ChargingSession, events: list[OcppEvent], lookups: Lookups | None = None
) -> int | None:
    """Write the CDR of one completed session that has none yet, now (the caller holds the
    session's row lock; used to re-price a flagged session). Returns the CDR id, or None
    when it still cannot be priced (flagged, as in the batch path). Its flags, CDR and
    `cdr.created` event are written as the batch path writes them."""
    lookups = lookups or Lookups()
    writes = Writes(lookups.webhooks)
    events, _ = first_stop_wins(events)  # as the batch path: a later stop is not applied
    cdr = cdr_build(session, events, lookups, writes)
    if cdr is not None:
        writes.cdrs.append(cdr)
    writes.write()
    lookups.webhooks.emit()
    if cdr is None:
        return None
    return (
        Cdr.objects.filter(session=session, kind=CdrKind.ORIGINAL.value)
        .values_list("pk", flat=True)
        .first()
    )


def _signed_data(values: list[tuple[str, str]]) -> dict[str, Any]:
    """OCPI 2.2.1 SignedData of the signed meter values the station sent (value, OCPP
    reading context), verbatim and in order. `nature` from the context (Transaction.Begin:
    Start, Transaction.End: End, else Intermediate); without one, by position (first Start,
    last End). OCMF (`OCMF|{payload}|{signature}`) is recognised: `encoding_method` "OCMF"
    and `plain_data` its payload; for any other format the method is "UNKNOWN" and
    `plain_data` empty (the verbatim value is in `signed_data`)."""
    ocmf = all(v.startswith("OCMF|") for v, _ in values)
    last = len(values) - 1

    def nature(i: int, context: str) -> str:
        if context:
            return _NATURE.get(context, "Intermediate")
        return "Start" if i == 0 and last > 0 else "End" if i == last else "Intermediate"

    return {
        "encoding_method": "OCMF" if ocmf else "UNKNOWN",
        "signed_values": [
            {
                "nature": nature(i, context),
                "plain_data": v.split("|")[1] if ocmf and v.count("|") >= 2 else "",
                "signed_data": v,
            }
            for i, (v, context) in enumerate(values)
        ],
    }


_NATURE = {"Transaction.Begin": "Start", "Transaction.End": "End"}


def _hours(seconds: int) -> Decimal:
    # Stored to the microhour (0.0036 s); the exact seconds are in annotations["pricing"].
    return (Decimal(seconds) / 3600).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@transaction.atomic
def cdr_credit(*, tenant_id: int, cdr_id: int, ocpi_id: str, actor: Actor) -> int:
    """Cancel a CDR by a CREDIT CDR with every amount and volume negated (OCPI credit CDR),
    audited with `actor`; its `cdr.created` event in the same transaction.

    The original stays as it was; a CDR can be credited once.
    """
    original = Cdr.objects.for_tenant(tenant_id).select_for_update().filter(pk=cdr_id).first()
    if original is None:
        raise NotFound(f"no CDR {cdr_id} in this tenant")
    if original.kind != CdrKind.ORIGINAL:
        raise Conflict(f"CDR {original.ocpi_id} is a credit CDR; only originals can be credited")
    if Cdr.objects.filter(credits=original).exists():
        raise Conflict(f"CDR {original.ocpi_id} has already been credited")
    credit = Cdr(
        tenant_id=original.tenant_id,
        party_id=original.party_id,
        ocpi_id=ocpi_id,
        kind=CdrKind.CREDIT.value,
        credits=original,
        session_id=original.session_id,
        tariff_version_id=original.tariff_version_id,
        start_date_time=original.start_date_time,
        end_date_time=original.end_date_time,
        currency=original.currency,
        **{field: getattr(original, field) for field in CDR_BILLING_FIELDS},
        data={
            **original.data,
            "id": ocpi_id,
            "credit": True,
            "credit_reference_id": original.ocpi_id,
        },
        annotations=original.annotations,
    )
    for field in CDR_AMOUNT_FIELDS + CDR_VOLUME_FIELDS:
        setattr(credit, field, _negate(getattr(original, field)))
    credit.save()
    parties_api.audit(
        tenant_id,
        actor,
        "cdr.credit",
        "cdr",
        credit.pk,
        after={"ocpi_id": ocpi_id, "credits": original.ocpi_id},
    )
    outbox = WebhookOutbox()
    outbox.cdr_created(tenant_id=credit.tenant_id, cdr_id=credit.pk, at=credit.created_at)
    outbox.emit()
    if settings.RATING_ENABLED:  # the billing engines reverse the original's lines
        credited = [credit.pk]

        def rating_enqueue() -> None:
            jobs.cdrs_rate_enqueue(credited)

        transaction.on_commit(rating_enqueue)
    return credit.pk


# The billing columns a credit CDR copies from its original (ADR 0027).
CDR_BILLING_FIELDS = (
    "token_id",
    "token_source",
    "emsp_party_id",
    "emsp_tenant_id",
    "contract_id",
    "customer_id",
    "hcc",
)


def _negate(value: Decimal | None) -> Decimal | None:
    return None if value is None else -value
