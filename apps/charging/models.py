from __future__ import annotations

from typing import TypedDict

from django.db import models

from apps.charging.contracts import (
    CdrKind,
    ChargingState,
    EventKind,
    FlagReason,
    FlagStatus,
    SessionStatus,
    TokenSource,
)
from apps.common.models import AppendOnlyModel, TenantOwnedModel, choices, in_enum


class _Digits(TypedDict):
    """A DecimalField's size, typed so that `DecimalField(**MONEY)` type-checks."""

    max_digits: int
    decimal_places: int


MONEY: _Digits = {"max_digits": 18, "decimal_places": 4}  # OCPI prices keep 4 decimals
ENERGY_KWH: _Digits = {"max_digits": 14, "decimal_places": 4}
HOURS: _Digits = {"max_digits": 12, "decimal_places": 6}

# The amount columns of a CDR (excl. and incl. VAT of each OCPI total) and its volumes: what a
# credit CDR negates, what the REST API reads.
CDR_AMOUNT_FIELDS = tuple(
    f"total_{part}_{vat}"
    for part in (
        "cost",
        "fixed_cost",
        "energy_cost",
        "time_cost",
        "parking_cost",
        "reservation_cost",
    )
    for vat in ("excl_vat", "incl_vat")
)
CDR_VOLUME_FIELDS = ("total_energy_kwh", "total_time_hours", "total_parking_time_hours")


class ChargingSession(TenantOwnedModel):
    """One charging transaction at a station, from OCPP start to stop.

    `time_zone` and the tariff are snapshotted at start (ARCHITECTURE, data rules): a later
    change of the location or the tariff never changes how this session is priced.
    """

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    evse = models.ForeignKey(
        "locations.Evse", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    connector = models.ForeignKey(
        "locations.Connector", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    token = models.ForeignKey(
        "tokens.Token", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # What the station sent (idTag / idToken), kept even when no token matches.
    id_tag = models.CharField(max_length=36, blank=True)
    # How the token was resolved (TokenSource; "" when none was) and whose driver it is
    # (ADR 0027): the eMSP party as the station's tenant knows it (its own identity, or a
    # partner row), and the eMSP tenant when that eMSP runs on this platform (the station's
    # tenant for its own tokens, another tenant in the marketplace).
    token_source = models.CharField(
        max_length=12, choices=choices(TokenSource), blank=True, default="", db_default=""
    )
    emsp_party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    emsp_tenant = models.ForeignKey(
        "parties.Operator", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # OCPP 1.x: the integer transactionId we issued; OCPP 2.0.1: the station's string id.
    ocpp_transaction_id = models.CharField(max_length=36)
    status = models.CharField(
        max_length=12, choices=choices(SessionStatus), default=SessionStatus.ACTIVE.value
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    meter_start_wh = models.DecimalField(max_digits=18, decimal_places=3)
    meter_stop_wh = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    stop_reason = models.CharField(max_length=32, blank=True)
    # OCPI AuthMethod and authorization_reference, from the start event; "" on sessions
    # started before they were recorded (shown as WHITELIST, as they always were).
    auth_method = models.CharField(max_length=12, blank=True, default="", db_default="")
    authorization_reference = models.CharField(max_length=36, blank=True, default="", db_default="")
    time_zone = models.CharField(max_length=64)
    tariff_version = models.ForeignKey(
        "tariffs.TariffVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tariff_snapshot = models.JSONField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # Live figures, updated as meter values arrive.
    energy_wh = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    live_cost_excl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    live_cost_incl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    last_meter_at = models.DateTimeField(null=True, blank=True)
    # The newest OcppEvent this row was derived from: the sweeper re-processes transactions
    # whose events are newer (a worker or gateway died between commit and enqueue).
    last_event_id = models.BigIntegerField(default=0)
    # When the live cost was last priced and the newest event it reflects: it is priced at
    # most every CHARGING_LIVE_COST_SECONDS per session (apps.charging.services.processing;
    # the live-cost sweep prices what a window held back).
    live_cost_at = models.DateTimeField(null=True, blank=True)
    live_cost_event_id = models.BigIntegerField(default=0)
    # The OCPI charging periods of the last live pricing (the pricing core's split of the
    # meter timeline, as priced for the live cost); the CDR's once the session has one.
    live_charging_periods = models.JSONField(null=True, blank=True)
    # An OCPP 1.x stop sent under a transaction id we never issued (-1, 0, a lost Start
    # answer) that unambiguously ended this session (docs/gateway.md "Unknown stops"); the
    # event stays in the log under the id it was sent with. One stop ends one session.
    matched_stop_event = models.OneToOneField(
        "OcppEvent", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_station", "ocpp_transaction_id"], name="session_transaction_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True)
                | models.Q(ended_at__gte=models.F("started_at")),
                name="session_end_after_start",
            ),
            models.CheckConstraint(
                condition=in_enum("status", SessionStatus), name="session_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-started_at"], name="session_tenant_started"),
            # The eMSP tenant's view of its drivers' sessions (the marketplace).
            models.Index(
                fields=["emsp_tenant", "-started_at"],
                condition=models.Q(emsp_tenant__isnull=False),
                name="session_emsp_tenant_started",
            ),
            # The live-cost sweep: active sessions only, whatever the table's size.
            models.Index(
                fields=["live_cost_at"],
                condition=models.Q(status=SessionStatus.ACTIVE.value),
                name="session_active_live_cost",
            ),
            # OCPI sender pages of one eMSP partner (issue 19): last_updated order, keyset.
            models.Index(
                fields=["tenant", "emsp_party", "updated_at", "id"],
                condition=models.Q(emsp_party__isnull=False),
                name="session_ocpi_sender",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.charge_station_id}:{self.ocpp_transaction_id}"


class MeterValue(TenantOwnedModel):
    """One normalised meter sample of a session (Wh, W, A), with the signed reading verbatim."""

    session = models.ForeignKey(
        ChargingSession, on_delete=models.PROTECT, related_name="meter_values"
    )
    timestamp = models.DateTimeField()
    energy_wh = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    power_w = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    current_a = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    soc_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    state = models.CharField(max_length=16, choices=choices(ChargingState), blank=True)
    context = models.CharField(max_length=32, blank=True)
    signed_data = models.TextField(blank=True)  # OCMF or other signed meter value, verbatim
    # The event the sample came from and its position there: derived rows are idempotent.
    source_event = models.ForeignKey(
        "OcppEvent", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source_index = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["session_id", "timestamp", "id"]
        indexes = [models.Index(fields=["session", "timestamp"], name="meter_value_session_ts")]
        constraints = [
            models.UniqueConstraint(
                fields=["source_event", "source_index"], name="meter_value_from_event_once"
            ),
        ]


class Cdr(AppendOnlyModel):
    """A charge detail record: immutable once written (model and PostgreSQL trigger).

    `data` is the whole OCPI 2.2.1 CDR object (charging periods, token, location, tariffs,
    signed data), nothing else (the platform's notes are in `annotations`): the single
    source of truth that finance exports. The typed columns repeat what lists, filters and
    reports query. A correction is a new CREDIT CDR that points at the original (`credits`),
    then a new ORIGINAL when re-billed.
    """

    party = models.ForeignKey("parties.Party", on_delete=models.PROTECT, related_name="+")
    ocpi_id = models.CharField(max_length=39)
    kind = models.CharField(max_length=8, choices=choices(CdrKind), default=CdrKind.ORIGINAL.value)
    credits = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credited_by"
    )
    # Empty for CDRs received from roaming partners (no local session).
    session = models.ForeignKey(
        ChargingSession, on_delete=models.PROTECT, null=True, blank=True, related_name="cdrs"
    )
    tariff_version = models.ForeignKey(
        "tariffs.TariffVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField()
    currency = models.CharField(max_length=3)
    total_cost_excl_vat = models.DecimalField(**MONEY)
    total_cost_incl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_fixed_cost_excl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_fixed_cost_incl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_energy_cost_excl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_energy_cost_incl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_time_cost_excl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_time_cost_incl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_parking_cost_excl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_parking_cost_incl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_reservation_cost_excl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_reservation_cost_incl_vat = models.DecimalField(**MONEY, null=True, blank=True)
    total_energy_kwh = models.DecimalField(**ENERGY_KWH)
    total_time_hours = models.DecimalField(**HOURS)
    total_parking_time_hours = models.DecimalField(**HOURS, default=0)
    # Who the CDR is billed to, resolved when it is written (ADR 0027): the token and how
    # it was found, the eMSP party as the CPO tenant knows it, the eMSP tenant when it runs
    # on this platform (it then sees the CDR too), and that tenant's contract and customer
    # in force at the session start. Empty when unknown (no token, a partner's token).
    token = models.ForeignKey(
        "tokens.Token", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    token_source = models.CharField(
        max_length=12, choices=choices(TokenSource), blank=True, default="", db_default=""
    )
    emsp_party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    emsp_tenant = models.ForeignKey(
        "parties.Operator", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    contract = models.ForeignKey(
        "customers.Contract", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The home-charger flag that applied (the station's, else the token's; HccFlag or "").
    hcc = models.CharField(max_length=8, blank=True, default="", db_default="")
    data = models.JSONField()
    # The platform's own notes on the CDR, kept out of the OCPI object in `data` (which holds
    # OCPI 2.2.1 fields only): `time_zone` (the session's, to re-price it), `meter_start_wh`,
    # `meter_stop_wh`, `ocpp_transaction_id`, `pricing` (the pricing core's full result).
    # NULL on CDRs written before it existed: those carry the same keys inside `data`.
    annotations = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-end_date_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["party", "ocpi_id"], name="cdr_ocpi_id_unique"),
            # Nothing doubled: a session has at most one original CDR.
            models.UniqueConstraint(
                fields=["session"],
                condition=models.Q(kind=CdrKind.ORIGINAL.value, session__isnull=False),
                name="cdr_one_original_per_session",
            ),
            models.CheckConstraint(
                condition=(models.Q(kind=CdrKind.CREDIT.value) & models.Q(credits__isnull=False))
                | (models.Q(kind=CdrKind.ORIGINAL.value) & models.Q(credits__isnull=True)),
                name="cdr_credit_points_at_original",
            ),
            models.CheckConstraint(
                condition=models.Q(end_date_time__gte=models.F("start_date_time")),
                name="cdr_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-end_date_time", "-id"], name="cdr_tenant_end"),
            # Keyset pagination of the REST API: WHERE tenant_id = ? AND id > ? ORDER BY id.
            models.Index(fields=["tenant", "id"], name="cdr_tenant_id"),
            # The eMSP tenant's view of its drivers' CDRs (the marketplace).
            models.Index(
                fields=["emsp_tenant", "-end_date_time", "-id"],
                condition=models.Q(emsp_tenant__isnull=False),
                name="cdr_emsp_tenant_end",
            ),
            # OCPI sender pages of one eMSP partner (issue 19): last_updated order, keyset.
            models.Index(
                fields=["tenant", "emsp_party", "created_at", "id"],
                condition=models.Q(emsp_party__isnull=False),
                name="cdr_ocpi_sender",
            ),
        ]

    def __str__(self) -> str:
        return self.ocpi_id


class OcppEvent(AppendOnlyModel):
    """The durable, append-only log of transaction messages, written before the station gets
    its answer. Sessions, meter values and CDRs are derived from it by workers, so a worker
    crash loses nothing and a replay derives the same result."""

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=choices(EventKind))
    idempotency_key = models.CharField(max_length=64)
    protocol = models.CharField(max_length=8)
    action = models.CharField(max_length=32)
    ocpp_transaction_id = models.CharField(max_length=36)
    evse_ocpp_id = models.PositiveIntegerField(null=True, blank=True)
    connector_ocpp_id = models.PositiveIntegerField(null=True, blank=True)
    id_tag = models.CharField(max_length=36, blank=True)
    station_timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    seq_no = models.PositiveIntegerField(null=True, blank=True)
    offline = models.BooleanField(default=False)
    meter_wh = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    reason = models.CharField(max_length=32, blank=True)
    charging_state = models.CharField(max_length=16, choices=choices(ChargingState), blank=True)
    samples = models.JSONField(default=list)
    frame = models.TextField(blank=True)  # the OCPP-J frame as received, verbatim
    # A start's OCPI AuthMethod and its reference, as the gateway saw them ("" on other
    # events and on starts stored before the gateway reported them).
    auth_method = models.CharField(max_length=12, blank=True, default="", db_default="")
    authorization_reference = models.CharField(max_length=36, blank=True, default="", db_default="")

    class Meta:
        ordering = ["charge_station_id", "station_timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_station", "idempotency_key"], name="ocpp_event_idempotent"
            ),
            models.CheckConstraint(condition=in_enum("kind", EventKind), name="ocpp_event_kind"),
        ]
        indexes = [
            models.Index(
                fields=["charge_station", "ocpp_transaction_id"], name="ocpp_event_transaction"
            ),
        ]


class StatusEvent(TenantOwnedModel):
    """Connector status over time, kept to tell charging from parking time."""

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    evse_ocpp_id = models.PositiveIntegerField()
    connector_ocpp_id = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=24)
    charging_state = models.CharField(max_length=16, choices=choices(ChargingState), blank=True)
    station_timestamp = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["charge_station_id", "evse_ocpp_id", "station_timestamp", "id"]
        indexes = [
            models.Index(
                fields=["charge_station", "evse_ocpp_id", "station_timestamp"],
                name="status_event_lookup",
            ),
        ]


class TransactionIdAllocation(TenantOwnedModel):
    """The sequence OCPP 1.x transaction ids come from: the primary key is a 32-bit identity
    column (PostgreSQL `integer`), so every id is unique across stations and below 2^31."""

    id = models.AutoField(primary_key=True)
    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["charge_station", "idempotency_key"], name="transaction_id_idempotent"
            ),
        ]


class ReviewFlag(TenantOwnedModel):
    """Something about a session or a message that a person must look at. Never blocks the
    station: Start and Stop report facts and are always answered."""

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    session = models.ForeignKey(
        ChargingSession, on_delete=models.PROTECT, null=True, blank=True, related_name="flags"
    )
    event = models.ForeignKey(
        OcppEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ocpp_transaction_id = models.CharField(max_length=36, blank=True)
    reason = models.CharField(max_length=24, choices=choices(FlagReason))
    status = models.CharField(max_length=10, choices=choices(FlagStatus), default="OPEN")
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_station", "ocpp_transaction_id", "reason"],
                name="review_flag_once_per_transaction",
            ),
            models.CheckConstraint(condition=in_enum("reason", FlagReason), name="flag_reason"),
            models.CheckConstraint(condition=in_enum("status", FlagStatus), name="flag_status"),
        ]
