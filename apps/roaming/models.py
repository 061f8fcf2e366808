"""OCPI connections, what they told us, what we owe them and the exchange log (ADR 0040).

Tokens: the token we *accept* from a partner is only compared, so it is stored as a SHA-256
digest (`our_token_digest`, an index for the lookup; the token is 32 random bytes, so an
unsalted digest is enough). The token we *send* must be read back: encrypted at rest
(`their_token_encrypted`, apps.common.crypto). Token A we issued for a partner to register
with us: digest only, cleared when the handshake completes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.db import models

from apps.common.json import DecimalJSONEncoder
from apps.common.models import TenantOwnedModel, choices, in_enum
from apps.roaming.contracts import (
    CommandDirection,
    ConnectionStatus,
    Direction,
    HubPartyStatus,
    Initiator,
    OcpiRole,
    PushStatus,
)


class DecimalJSONDecoder(json.JSONDecoder):
    """Reads JSON numbers with a fraction back as Decimal (money and kWh stay exact)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)


def _json(**kwargs: Any) -> models.JSONField:
    return models.JSONField(encoder=DecimalJSONEncoder, decoder=DecimalJSONDecoder, **kwargs)


class OcpiConnection(TenantOwnedModel):
    """One OCPI platform the tenant is connected to (a peer CPO / eMSP, or a hub)."""

    name = models.CharField(max_length=200)
    versions_url = models.URLField(max_length=500)  # the partner's versions endpoint
    version = models.CharField(max_length=8, blank=True)  # agreed version; "" until agreed
    status = models.CharField(
        max_length=12, choices=choices(ConnectionStatus), default=ConnectionStatus.PENDING.value
    )
    initiator = models.CharField(max_length=4, choices=choices(Initiator))
    # Token A we issued for the partner's registration (digest; cleared once registered).
    token_a_digest = models.CharField(max_length=64, blank=True)
    # The token the partner sends us (B when we registered, C when they did): digest only.
    our_token_digest = models.CharField(max_length=64, blank=True)
    # The token we send the partner (their A while registering, then C or B): encrypted.
    their_token_encrypted = models.TextField(blank=True)
    # Send the Authorization token Base64-encoded (2.2.1 rule); inbound accepts both.
    auth_base64 = models.BooleanField(default=True)
    is_hub = models.BooleanField(default=False)
    # Business details / publishing: which of the tenant's locations this partner may see.
    publish_all_locations = models.BooleanField(default=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["our_token_digest"],
                condition=~models.Q(our_token_digest=""),
                name="ocpi_connection_token_unique",
            ),
            models.UniqueConstraint(
                fields=["token_a_digest"],
                condition=~models.Q(token_a_digest=""),
                name="ocpi_connection_token_a_unique",
            ),
            models.CheckConstraint(
                condition=in_enum("status", ConnectionStatus), name="ocpi_connection_status_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("initiator", Initiator), name="ocpi_connection_initiator_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class OcpiPartyRole(TenantOwnedModel):
    """A role the partner platform plays (credentials `roles`): country_code + party_id +
    role; a hub lists many. `partner` links the tenant's PARTNER Party row (parties app)."""

    connection = models.ForeignKey(OcpiConnection, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=6, choices=choices(OcpiRole))
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    name = models.CharField(max_length=200, blank=True)
    website = models.URLField(max_length=500, blank=True)
    partner = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # HubClientInfo: OFFLINE parties get no pushes (held), re-synced when CONNECTED again.
    hub_status = models.CharField(
        max_length=10, choices=choices(HubPartyStatus), default=HubPartyStatus.CONNECTED.value
    )
    hub_status_updated = models.DateTimeField(null=True, blank=True)
    # When it left CONNECTED (None: connected, or never seen connected, e.g. PLANNED): where
    # the GET re-sync starts when it comes back (services.hub_client_info).
    hub_away_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["country_code", "party_id", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "country_code", "party_id", "role"],
                name="ocpi_party_role_unique",
            ),
        ]


class OcpiEndpoint(TenantOwnedModel):
    """An endpoint the partner listed in its version details (module + interface role)."""

    connection = models.ForeignKey(
        OcpiConnection, on_delete=models.CASCADE, related_name="endpoints"
    )
    module = models.CharField(max_length=32)
    role = models.CharField(max_length=8, blank=True)  # SENDER / RECEIVER; "" in 2.1.1
    url = models.URLField(max_length=500)

    class Meta:
        ordering = ["module", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "module", "role"], name="ocpi_endpoint_unique"
            ),
        ]


class OcpiPublishedLocation(TenantOwnedModel):
    """When `publish_all_locations` is off: the locations this connection may see."""

    connection = models.ForeignKey(
        OcpiConnection, on_delete=models.CASCADE, related_name="published"
    )
    location = models.ForeignKey("locations.Location", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "location"], name="ocpi_published_location_unique"
            ),
        ]


class OcpiExchange(TenantOwnedModel):
    """One HTTP exchange with a partner, either direction: what the portal's log shows.
    Bodies are kept for OCPI_EXCHANGE_BODY_DAYS, then blanked (`bodies_purged`)."""

    connection = models.ForeignKey(
        OcpiConnection, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    direction = models.CharField(max_length=3, choices=choices(Direction))
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=1000)
    module = models.CharField(max_length=32, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    request_headers = models.JSONField(default=dict, blank=True)  # never Authorization
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    bodies_purged = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "connection", "created_at"], name="ocpi_exchange_at"),
            models.Index(fields=["created_at"], name="ocpi_exchange_purge"),
        ]


class OcpiPush(TenantOwnedModel):
    """Outbox of pushes to a partner's receiver interface: one row per object version to
    send (idempotent by `key`), retried with back-off, held while the party is OFFLINE."""

    connection = models.ForeignKey(OcpiConnection, on_delete=models.CASCADE, related_name="+")
    module = models.CharField(max_length=32)
    method = models.CharField(max_length=8)  # PUT / PATCH / POST
    path = models.CharField(max_length=500)  # appended to the partner's endpoint URL
    key = models.CharField(max_length=200)  # e.g. "cdr:123", "evse:LOC1:EVSE1:2026-...:AVAILABLE"
    body = models.TextField()
    to_country_code = models.CharField(max_length=2, blank=True)
    to_party_id = models.CharField(max_length=3, blank=True)
    status = models.CharField(
        max_length=8, choices=choices(PushStatus), default=PushStatus.PENDING.value
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    response_location = models.CharField(max_length=500, blank=True)  # CDR POST `Location`

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "key"], name="ocpi_push_key_unique"),
            models.CheckConstraint(
                condition=in_enum("status", PushStatus), name="ocpi_push_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="ocpi_push_due"),
        ]


class OcpiCommand(TenantOwnedModel):
    """A command received (CPO role) or sent (eMSP role), and its asynchronous result."""

    connection = models.ForeignKey(OcpiConnection, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=8, choices=choices(CommandDirection))
    command = models.CharField(max_length=24)  # START_SESSION, STOP_SESSION, ...
    uid = models.CharField(max_length=36, unique=True)  # our unique id (in our response_url)
    request = _json()
    response_url = models.CharField(max_length=500, blank=True)  # RECEIVED: where to POST
    relay_id = models.CharField(max_length=32, blank=True)  # the gateway remote command
    response = models.CharField(max_length=16, blank=True)  # CommandResponse result
    result = models.CharField(max_length=24, blank=True)  # CommandResult result
    result_at = models.DateTimeField(null=True, blank=True)
    result_delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class ForeignObject(TenantOwnedModel):
    """A location, tariff, session or token a partner sent us (PUT / PATCH, or pulled), as
    the last version we know: the document as received (`data`, original casing), the keys
    upper-cased for case-insensitive lookup, and the rules it breaks (`flags`)."""

    connection = models.ForeignKey(OcpiConnection, on_delete=models.PROTECT, related_name="+")
    module = models.CharField(max_length=16)  # locations / tariffs / sessions / tokens
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    object_id = models.CharField(max_length=64)  # upper-cased id / uid
    data = _json()
    last_updated = models.DateTimeField()  # as the partner sent it
    flags = models.JSONField(default=list, blank=True)  # [{"rule": ..., "detail": ...}]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "module", "country_code", "party_id", "object_id"],
                name="ocpi_foreign_object_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "module", "last_updated"], name="ocpi_foreign_updated"),
        ]


class ForeignCdr(TenantOwnedModel):
    """A CDR a CPO partner sent us (eMSP role): immutable, stored even when it breaks rules
    (`flags`), re-priced with the pricing core and the CPO's published tariff."""

    connection = models.ForeignKey(OcpiConnection, on_delete=models.PROTECT, related_name="+")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    cdr_id = models.CharField(max_length=64)  # upper-cased
    raw = models.TextField()  # the body as received, byte for byte (UTF-8)
    data = _json()  # parsed
    credit = models.BooleanField(default=False)
    credit_reference_id = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    total_cost_excl_vat = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True
    )
    repriced_excl_vat = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    difference_excl_vat = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True
    )
    flags = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "country_code", "party_id", "cdr_id"],
                name="ocpi_foreign_cdr_unique",
            ),
        ]


# -- area "emsp" -------------------------------------------------------------------------------


class OcpiPullCursor(TenantOwnedModel):
    """Where the last successful pull of one module from a CPO partner's sender interface
    started: the next incremental pull asks `date_from` = this minus a safety margin."""

    connection = models.ForeignKey(OcpiConnection, on_delete=models.CASCADE, related_name="+")
    module = models.CharField(max_length=16)  # locations / tariffs / sessions / cdrs
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "module"], name="ocpi_pull_cursor_unique"
            ),
        ]
