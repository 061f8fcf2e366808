"""The webhook events in the OpenAPI document: one entry per event type with its payload
schema. OpenAPI 3.0 has no `webhooks` section (3.1 does); the schema stays 3.0.3 (what the
tools and tests here read), so the section is published as `x-webhooks`, which Redoc renders
(`/api/v1/redoc/`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiWebhook, extend_schema
from rest_framework import serializers

from restapi.serializers.charging import CDR_OUT_SCHEMA, SessionOut


def _envelope(name: str, data: Any) -> type[serializers.Serializer]:
    return type(
        name,
        (serializers.Serializer,),
        {
            "id": serializers.UUIDField(help_text="event id (also Webhook-Id): deduplicate on it"),
            "type": serializers.CharField(),
            "created_at": serializers.DateTimeField(help_text="when the fact happened"),
            "data": data,
            "__module__": __name__,
        },
    )


class StationStatusData(serializers.Serializer):
    charge_station_id = serializers.IntegerField()
    identity = serializers.CharField(help_text="OCPP identity of the station")
    location_id = serializers.CharField(allow_null=True)
    evse_uid = serializers.CharField(allow_null=True, help_text="null: the whole station")
    ocpp_evse_id = serializers.IntegerField()
    ocpp_connector_id = serializers.IntegerField(allow_null=True)
    ocpp_status = serializers.CharField(help_text="as the station sent it")
    status = serializers.CharField(help_text="OCPI EVSE status")
    previous_status = serializers.CharField(allow_null=True)
    timestamp = serializers.DateTimeField(help_text="station time of the notification")


class AuthorizedToken(serializers.Serializer):
    platform_id = serializers.IntegerField()
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    uid = serializers.CharField()
    type = serializers.CharField()
    contract_id = serializers.CharField()
    valid = serializers.BooleanField()


class TokenAuthorizedData(serializers.Serializer):
    uid = serializers.CharField()
    status = serializers.CharField(help_text="the answer: Accepted, Blocked, Invalid, ...")
    charge_station_id = serializers.IntegerField()
    identity = serializers.CharField()
    token = AuthorizedToken(allow_null=True, help_text="null: not a token of your tenant")
    timestamp = serializers.DateTimeField()


def _hook(name: str, summary: str, data: Any) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=name,
        decorator=extend_schema(
            summary=summary,
            request=_envelope(name.replace(".", "_").title().replace("_", "") + "Event", data),
            responses={200: None},
        ),
    )


SESSION_STARTED = _hook("session.started", "A session started", SessionOut())
SESSION_ENDED = _hook("session.ended", "A session ended", SessionOut())
CDR_CREATED = _hook(
    "cdr.created",
    "A CDR was created (data: the CDR as GET /cdrs/{id} returns it)",
    serializers.JSONField(help_text=CDR_OUT_SCHEMA["description"]),
)
STATION_STATUS_CHANGED = _hook(
    "station.status_changed", "An EVSE's (or the station's) status changed", StationStatusData()
)
TOKEN_AUTHORIZED = _hook(
    "token.authorized", "A station asked whether a token may charge", TokenAuthorizedData()
)


def webhooks_as_extension(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: `webhooks` -> `x-webhooks` (valid in OpenAPI 3.0)."""
    if "webhooks" in result:
        result["x-webhooks"] = result.pop("webhooks")
    return result
