"""What the transactions of one worker task share: their lookups, made once per task
(`Lookups`), and their writes, collected while they are computed and made at the end in a
handful of statements (`Writes`), under the sessions' row locks (`sessions_lock`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.charging import jobs
from apps.charging.contracts import CdrKind, FlagReason
from apps.charging.models import (
    Cdr,
    ChargingSession,
    MeterValue,
    OcppEvent,
    ReviewFlag,
    StatusEvent,
)
from apps.charging.services.webhooks import WebhookOutbox
from apps.common.bulk import insert_rows, update_rows
from apps.customers import api as customers_api
from apps.locations import api as locations_api
from apps.locations.contracts import ConnectorRef, StationContext
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRef, PartyRole
from apps.tokens import api as tokens_api
from apps.tokens.contracts import (
    TokenCandidate,
    TokenRef,
    TokenResolution,
    TokenTier,
    token_resolve_among,
)
from billing import pricing


class Lookups:
    """What the transactions of one task share, looked up once per task: station contexts
    (prefetched for the whole task in one query), connectors, tokens, parties, and parsed
    tariffs (by tariff version: a version is append-only, so its snapshot never changes).
    Lives for one task only, so nothing here outlives a change by more than that task."""

    def __init__(self) -> None:
        self._stations: dict[int, StationContext] = {}
        self._connectors: dict[tuple[int, int | None, int | None], ConnectorRef | None] = {}
        self._tokens: dict[str, list[TokenCandidate]] = {}
        self._marketplace: dict[int, bool] = {}
        # (tenant, party pk of another tenant's identity) -> the tenant's row for it.
        self._partner_rows: dict[tuple[int, int], int] = {}
        self._parties: dict[int, PartyRef] = {}
        self._tariffs: dict[int, pricing.Tariff] = {}
        # (station, evse OCPP id) -> [(station time, status, charging state)] for the stations
        # in `_status_stations`, from `_status_since` on, in the order of the table's index.
        self._statuses: dict[tuple[int, int], list[tuple[datetime, str, str]]] = {}
        self._status_stations: set[int] = set()
        self._status_since: datetime | None = None
        # Webhook events of the task, written once at its end (apps/charging/webhooks.py).
        self.webhooks = WebhookOutbox()

    def prefetch_statuses(self, events: dict[tuple[int, str], list[OcppEvent]]) -> None:
        """The status events the transactions' timelines may need, in one query: their
        stations', from five minutes before the earliest event of any of them on."""
        stamps = [e.station_timestamp for evs in events.values() for e in evs]
        if not stamps:
            return
        since = min(stamps) - timedelta(minutes=5)
        stations = {station for station, _ in events}
        if self._status_since is not None:
            if since >= self._status_since and stations <= self._status_stations:
                return  # already covered
            self._statuses = {}  # fetched again, wider
            stations |= self._status_stations
            since = min(since, self._status_since)
        for station, evse, ts, status, state in (
            StatusEvent.objects.filter(charge_station_id__in=stations, station_timestamp__gte=since)
            .order_by("charge_station_id", "evse_ocpp_id", "station_timestamp", "id")
            .values_list(
                "charge_station_id", "evse_ocpp_id", "station_timestamp", "status", "charging_state"
            )
        ):
            self._statuses.setdefault((station, evse), []).append((ts, status, state))
        self._status_stations = stations
        self._status_since = since

    def statuses(
        self, station_id: int, evse_ocpp_id: int, start: datetime, end: datetime
    ) -> list[tuple[datetime, str, str]]:
        if station_id in self._status_stations and self._status_since is not None:
            if start >= self._status_since:
                return [
                    row
                    for row in self._statuses.get((station_id, evse_ocpp_id), [])
                    if start <= row[0] <= end
                ]
        return list(
            StatusEvent.objects.filter(
                charge_station_id=station_id,
                evse_ocpp_id=evse_ocpp_id,
                station_timestamp__gte=start,
                station_timestamp__lte=end,
            ).values_list("station_timestamp", "status", "charging_state")
        )

    def prefetch_stations(self, station_ids: set[int]) -> None:
        missing = station_ids - self._stations.keys()
        if missing:
            self._stations.update(locations_api.station_contexts(station_ids=missing))

    def station(self, station_id: int) -> StationContext:
        if station_id not in self._stations:
            self._stations[station_id] = locations_api.station_context(station_id=station_id)
        return self._stations[station_id]

    def prefetch_connectors(self, events: dict[tuple[int, str], list[OcppEvent]]) -> None:
        """The connectors the transactions' events name, in one query for all."""
        keys = {
            (
                station_id,
                next((e.evse_ocpp_id for e in evs if e.evse_ocpp_id), None),
                next((e.connector_ocpp_id for e in evs if e.connector_ocpp_id), None),
            )
            for (station_id, _), evs in events.items()
        }
        keys -= self._connectors.keys()
        if keys:
            self._connectors.update(locations_api.connectors_resolve(keys=keys))

    def connector(
        self, station_id: int, evse_ocpp_id: int | None, connector_ocpp_id: int | None
    ) -> ConnectorRef | None:
        key = (station_id, evse_ocpp_id, connector_ocpp_id)
        if key not in self._connectors:
            self._connectors[key] = locations_api.connector_resolve(
                station_id=station_id,
                evse_ocpp_id=evse_ocpp_id,
                connector_ocpp_id=connector_ocpp_id,
            )
        return self._connectors[key]

    def prefetch_tokens(self, events: dict[tuple[int, str], list[OcppEvent]]) -> None:
        """The tokens of every uid the transactions' events name, in one query for all."""
        uids = {e.id_tag for evs in events.values() for e in evs if e.id_tag}
        uids -= self._tokens.keys()
        if uids:
            self._tokens.update(tokens_api.token_candidates(uids=uids))

    def tokens(self, uid: str) -> list[TokenRef]:
        """Every token with this uid, of every tenant (to describe the resolved one)."""
        return [c.ref for c in self._candidates(uid)]

    def _candidates(self, uid: str) -> list[TokenCandidate]:
        if uid not in self._tokens:
            self._tokens.update(tokens_api.token_candidates(uids=[uid]))
        return self._tokens.get(uid, [])

    def marketplace(self, tenant_id: int) -> bool:
        if tenant_id not in self._marketplace:
            self._marketplace[tenant_id] = parties_api.operator_marketplace(tenant_id=tenant_id)
        return self._marketplace[tenant_id]

    def resolve_token(self, station_id: int, uid: str) -> TokenResolution:
        """The token `uid` resolves to at this station (ADR 0027: own, partners', then
        marketplace tenants'; `apps.tokens.contracts.token_resolve_among`)."""
        ctx = self.station(station_id)
        candidates = self._candidates(uid)
        others = any(c.ref.tenant_id != ctx.tenant_id for c in candidates)
        return token_resolve_among(
            candidates,
            tenant_id=ctx.tenant_id,
            # Only asked when another tenant holds the uid: no query for the usual case.
            tenant_marketplace=others and self.marketplace(ctx.tenant_id),
            roaming=ctx.roaming,
        )

    def emsp_of(self, station_id: int, resolution: TokenResolution) -> tuple[int, int | None]:
        """(the eMSP party as the station's tenant knows it, the eMSP tenant or None) of a
        resolved token. A marketplace token's eMSP becomes a partner row of the station's
        tenant, and the station's CPO one of the eMSP tenant, created once by the platform
        (`parties.api.marketplace_partner_ensure`)."""
        token = resolution.token
        assert token is not None and resolution.tier is not None
        ctx = self.station(station_id)
        if resolution.tier is TokenTier.OWN:
            return token.party_id, ctx.tenant_id
        if resolution.tier is TokenTier.PARTNER:
            return token.party_id, None
        emsp = self._partner_row(ctx.tenant_id, token.party_id, PartyRole.EMSP)
        if ctx.cpo_party_id is not None:
            self._partner_row(token.tenant_id, ctx.cpo_party_id, PartyRole.CPO)
        return emsp, token.tenant_id

    def _partner_row(self, tenant_id: int, party_pk: int, role: PartyRole) -> int:
        key = (tenant_id, party_pk)
        if key not in self._partner_rows:
            party = self.party(party_pk)
            self._partner_rows[key] = parties_api.marketplace_partner_ensure(
                tenant_id=tenant_id,
                role=role,
                country_code=party.country_code,
                party_id=party.party_id,
                name=party.name,
            )
        return self._partner_rows[key]

    def token_hcc(self, uid: str, token_id: int) -> str:
        return next((t.hcc for t in self.tokens(uid) if t.id == token_id), "")

    def party(self, pk: int) -> PartyRef:
        if pk not in self._parties:
            self._parties[pk] = parties_api.party_by_pk(pk=pk)
        return self._parties[pk]

    def tariff(self, session: ChargingSession) -> pricing.Tariff:
        assert session.tariff_snapshot is not None
        version = session.tariff_version_id
        if version is None:
            return pricing.parse_tariff(session.tariff_snapshot)
        if version not in self._tariffs:
            self._tariffs[version] = pricing.parse_tariff(session.tariff_snapshot)
        return self._tariffs[version]


class Writes:
    """What processing a batch of transactions writes, collected while it is computed and
    written set-based at the end (`write`): a handful of statements per batch instead of
    several per transaction. Flags are inserted once per (station, transaction, reason):
    the unique index keeps the first, as `get_or_create` would."""

    def __init__(self, webhooks: WebhookOutbox) -> None:
        self.webhooks = webhooks
        self.flags: list[ReviewFlag] = []
        self.meter_values: list[MeterValue] = []
        self.sessions: dict[int, ChargingSession] = {}  # changed sessions, by pk
        self.cdrs: list[Cdr] = []

    def marks(self) -> tuple[int, int, int]:
        return len(self.flags), len(self.meter_values), len(self.cdrs)

    def rewind(self, marks: tuple[int, int, int], session_pk: int) -> None:
        """Forget what one transaction added since `marks` (its processing failed)."""
        del self.flags[marks[0] :], self.meter_values[marks[1] :], self.cdrs[marks[2] :]
        self.sessions.pop(session_pk, None)

    def flag(
        self,
        *,
        tenant_id: int,
        station_id: int,
        txid: str,
        reason: FlagReason,
        details: dict[str, object],
        session: ChargingSession | None = None,
        event: OcppEvent | None = None,
    ) -> None:
        """Flag the transaction for review (written with the batch, once per reason)."""
        self.flags.append(
            ReviewFlag(
                tenant_id=tenant_id,
                charge_station_id=station_id,
                ocpp_transaction_id=txid,
                reason=reason.value,
                session=session,
                event_id=event.id if event is not None else None,
                details=details,
            )
        )

    def write(self) -> None:
        """Everything collected, one statement each (`apps.common.bulk`)."""
        insert_rows(MeterValue, self.meter_values, ignore_conflicts=True)
        if self.sessions:
            now = timezone.now()
            for session in self.sessions.values():
                session.updated_at = now
            update_rows(ChargingSession, list(self.sessions.values()), SESSION_DERIVED_FIELDS)
        cdrs_attribute_contracts(self.cdrs)
        # One original per session: the partial unique index fails the whole batch should
        # another worker have written one (the caller then retries each alone).
        insert_rows(Cdr, self.cdrs)
        insert_rows(ReviewFlag, self.flags, ignore_conflicts=True)
        if self.cdrs and settings.RATING_ENABLED:  # the billing engines, once committed
            rated = list(
                Cdr.objects.filter(
                    session_id__in=[c.session_id for c in self.cdrs], kind=CdrKind.ORIGINAL.value
                ).values_list("id", flat=True)
            )

            def rating_enqueue() -> None:
                jobs.cdrs_rate_enqueue(rated)

            transaction.on_commit(rating_enqueue)
        # `cdr.created` names the CDR: its id is read back only when someone subscribed.
        wanted = [c.session_id for c in self.cdrs if self.webhooks.wants_cdr(c.tenant_id)]
        if wanted:
            for tenant_id, cdr_id, created_at in Cdr.objects.filter(
                session_id__in=wanted, kind=CdrKind.ORIGINAL.value
            ).values_list("tenant_id", "id", "created_at"):
                self.webhooks.cdr_created(tenant_id=tenant_id, cdr_id=cdr_id, at=created_at)


def cdrs_attribute_contracts(cdrs: list[Cdr]) -> None:
    """Set each CDR's contract and customer: the contract version in force for its token at
    the session start (`customers.api.contracts_in_force`, one query for the batch)."""
    keys = {(c.token_id, c.start_date_time) for c in cdrs if c.token_id is not None}
    if not keys:
        return
    terms = customers_api.contracts_in_force(keys=keys)
    for cdr in cdrs:
        if cdr.token_id is None:
            continue
        found = terms.get((cdr.token_id, cdr.start_date_time))
        if found is not None:
            cdr.contract_id = found.contract_id
            cdr.customer_id = found.customer_id


# What processing changes on an existing session row (`Writes.write` updates these only).
SESSION_DERIVED_FIELDS = [
    "id_tag",
    "token",
    "token_source",
    "emsp_party",
    "emsp_tenant",
    "auth_method",
    "authorization_reference",
    "ended_at",
    "meter_stop_wh",
    "stop_reason",
    "status",
    "energy_wh",
    "last_meter_at",
    "last_event_id",
    "live_cost_excl_vat",
    "live_cost_incl_vat",
    "live_cost_at",
    "live_cost_event_id",
    "live_charging_periods",
    "matched_stop_event",
    "updated_at",
]


def sessions_lock(keys: list[tuple[int, str]]) -> dict[tuple[int, str], ChargingSession]:
    """The sessions of these transactions, locked (`SELECT … FOR UPDATE`, in id order so two
    workers never wait on each other in a cycle), in one query."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = (
        ChargingSession.objects.select_for_update()
        .filter(
            charge_station_id__in={station for station, _ in wanted},
            ocpp_transaction_id__in={txid for _, txid in wanted},
        )
        .order_by("pk")
    )
    return {
        (r.charge_station_id, r.ocpp_transaction_id): r
        for r in rows
        if (r.charge_station_id, r.ocpp_transaction_id) in wanted
    }
