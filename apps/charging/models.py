from __future__ import annotations

from django.db import models

from apps.charging.contracts import CdrKind, ChargingState, SessionStatus
from apps.common.models import AppendOnlyModel, TenantOwnedModel, choices, in_enum

MONEY = {"max_digits": 18, "decimal_places": 4}  # OCPI prices keep 4 decimals
ENERGY_KWH = {"max_digits": 14, "decimal_places": 4}
HOURS = {"max_digits": 12, "decimal_places": 6}


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
        indexes = [models.Index(fields=["tenant", "-started_at"], name="session_tenant_started")]

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

    class Meta:
        ordering = ["session_id", "timestamp", "id"]
        indexes = [models.Index(fields=["session", "timestamp"], name="meter_value_session_ts")]


class Cdr(AppendOnlyModel):
    """A charge detail record: immutable once written (model and PostgreSQL trigger).

    `data` is the whole OCPI 2.2.1 CDR object (charging periods, token, location, tariffs,
    signed data): the single source of truth that finance exports. The typed columns repeat
    what lists, filters and reports query. A correction is a new CREDIT CDR that points at
    the original (`credits`), then a new ORIGINAL when re-billed.
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
    data = models.JSONField()

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
        ]

    def __str__(self) -> str:
        return self.ocpi_id
