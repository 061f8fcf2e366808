"""OpenAPI 3 by drf-spectacular, with what every operation shares: the Bearer scheme, the
problem+json error responses, `Idempotency-Key` on POST and `If-Match` on PATCH/PUT."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from restapi.problems import PROBLEM_CONTENT_TYPE


class ProblemError(serializers.Serializer):  # type: ignore[type-arg]
    path = serializers.CharField(help_text="JSON path into the request, e.g. $.evses[0].uid")
    message = serializers.CharField()


class Problem(serializers.Serializer):  # type: ignore[type-arg]
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="urn:evcharge:problem:<code>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(required=False)
    errors = ProblemError(many=True, required=False)


_ERRORS = {
    "400": "Malformed request: JSON syntax or query parameters",
    "401": "Missing, unknown or revoked API key",
    "403": "The API key lacks the scope for this operation",
    "404": "No such object in your tenant",
    "409": "Conflict with existing data, or Idempotency-Key reused with another request",
    "412": "If-Match does not match the current version (ETag)",
    "415": "Unsupported media type: send application/json",
    "422": "Validation failed; `errors` lists every field path and reason",
    "429": "Rate limit exceeded; retry after `Retry-After` seconds",
}


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self.method == "POST":
            params.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        "Any unique string (e.g. a UUID), at most 255 characters. Same key and "
                        "same request within 24 h: the stored response is returned again "
                        "(header Idempotent-Replayed: true); same key, other request: 409."
                    ),
                )
            )
        if self.method in ("PATCH", "PUT"):
            params.append(
                OpenApiParameter(
                    "If-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=False,
                    description="The ETag you read; the update fails with 412 if it changed.",
                )
            )
        return params

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        codes = dict(_ERRORS)
        extra = getattr(self.view, "extra_problem_responses", {})
        codes.update(extra)
        for code, description in codes.items():
            if code in responses:
                continue
            component = self.resolve_serializer(Problem, "response")
            responses[code] = {
                "description": description,
                "content": {PROBLEM_CONTENT_TYPE: {"schema": component.ref}},
            }
        return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "restapi.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ek_<key id>_<secret>",
            "description": "An API key of your tenant, created in the portal or with "
            "`manage.py create_api_key`. Scopes: <resource>:read / <resource>:write.",
        }
