"""What charge stations report about themselves: an append-only event log of the
non-transaction messages (firmware, diagnostics, logs, security, 2.0.1 notifications), the
latest status per station, the 2.0.1 device model and certificate signing requests.

Transaction messages are not here: they are `charging.OcppEvent` (ADR 0006), from which
sessions and CDRs are derived. These rows are facts an operator reads."""

from __future__ import annotations

from django.db import models

from apps.common.models import AppendOnlyModel, TenantOwnedModel, choices, in_enum
from apps.devices.contracts import CertificateRequestStatus, StationEventKind


class StationEvent(AppendOnlyModel):
    """One message of a station (one item for NotifyEvent), in arrival order (`id`):
    inbound calls of a station are handled one at a time, in the order they arrived."""

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=choices(StationEventKind))
    action = models.CharField(max_length=40)
    protocol = models.CharField(max_length=8)
    status = models.CharField(max_length=64, blank=True)
    request_id = models.IntegerField(null=True, blank=True)
    evse_ocpp_id = models.PositiveIntegerField(null=True, blank=True)
    station_timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    details = models.JSONField(default=dict)
    frame = models.TextField(blank=True)  # the OCPP-J frame as received, verbatim

    class Meta:
        ordering = ["charge_station_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=in_enum("kind", StationEventKind), name="station_event_kind"
            ),
        ]
        indexes = [
            models.Index(fields=["charge_station", "kind", "id"], name="station_event_kind_idx"),
            models.Index(fields=["tenant", "-received_at"], name="station_event_tenant_recv"),
        ]


class DeviceState(TenantOwnedModel):
    """The latest firmware / diagnostics / log / security report of a station (its history
    is the `StationEvent` log)."""

    charge_station = models.OneToOneField(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    firmware_status = models.CharField(max_length=40, blank=True)
    firmware_request_id = models.IntegerField(null=True, blank=True)
    firmware_status_at = models.DateTimeField(null=True, blank=True)
    diagnostics_status = models.CharField(max_length=40, blank=True)
    diagnostics_status_at = models.DateTimeField(null=True, blank=True)
    log_status = models.CharField(max_length=40, blank=True)
    log_request_id = models.IntegerField(null=True, blank=True)
    log_status_at = models.DateTimeField(null=True, blank=True)
    security_event = models.CharField(max_length=64, blank=True)
    security_event_at = models.DateTimeField(null=True, blank=True)


class DeviceVariable(TenantOwnedModel):
    """One attribute (Actual, Target, MinSet, MaxSet) of a variable of a component of a
    station's OCPP 2.0.1 device model, as last reported (NotifyReport, NotifyEvent).
    `evse_id` / `connector_id` 0: the component is not on an EVSE / connector."""

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    component = models.CharField(max_length=50)
    component_instance = models.CharField(max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(default=0)
    connector_id = models.PositiveIntegerField(default=0)
    variable = models.CharField(max_length=50)
    variable_instance = models.CharField(max_length=50, blank=True)
    attribute_type = models.CharField(max_length=8, default="Actual")
    value = models.TextField(null=True, blank=True)  # up to 2500 characters in 2.0.1
    mutability = models.CharField(max_length=10, blank=True)
    persistent = models.BooleanField(null=True, blank=True)
    constant = models.BooleanField(null=True, blank=True)
    characteristics = models.JSONField(null=True, blank=True)
    report_request_id = models.IntegerField(null=True, blank=True)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = [
            "charge_station_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
        ]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "charge_station",
                    "component",
                    "component_instance",
                    "evse_id",
                    "connector_id",
                    "variable",
                    "variable_instance",
                    "attribute_type",
                ],
                name="device_variable_unique",
            ),
        ]


class CertificateRequest(TenantOwnedModel):
    """A certificate signing request a station sent (SignCertificate), kept for a CA to
    sign. A resent request (same CSR) is stored once."""

    charge_station = models.ForeignKey(
        "locations.ChargeStation", on_delete=models.PROTECT, related_name="+"
    )
    protocol = models.CharField(max_length=8)
    certificate_type = models.CharField(max_length=40)
    csr = models.TextField()
    csr_sha256 = models.CharField(max_length=64)
    status = models.CharField(
        max_length=8,
        choices=choices(CertificateRequestStatus),
        default=CertificateRequestStatus.PENDING.value,
    )
    received_at = models.DateTimeField()
    # SIGNED: the chain issued (PEM); REJECTED: why. `decided_at`: when either happened.
    certificate = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The CertificateSigned command that carried the chain (locations.RemoteCommand id) and
    # its outcome (a CommandStatus); empty until sent.
    command_id = models.BigIntegerField(null=True, blank=True)
    delivery_status = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_station", "csr_sha256"], name="certificate_request_once"
            ),
            models.CheckConstraint(
                condition=in_enum("status", CertificateRequestStatus),
                name="certificate_request_status",
            ),
        ]
