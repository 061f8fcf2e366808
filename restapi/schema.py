"""OpenAPI 3 by drf-spectacular, with what every operation shares: the Bearer scheme, the
problem+json error responses, `Idempotency-Key` on POST and `If-Match` on every write of an
object with an ETag. The schema says what the server enforces: request bodies are required,
and refuse unknown keys (`additionalProperties: false`) except the OCPI Token objects of the
upsert and bulk upsert, whose fields the API does not keep (e.g. `last_updated`) are ignored;
arrays of objects carry their `minItems` / `maxItems`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request

from restapi.problems import PROBLEM_CONTENT_TYPE


class ProblemError(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path into the request, e.g. $.evses[0].uid")
    message = serializers.CharField()


class Problem(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="urn:evcharge:problem:<code>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(required=False)
    # A field named like the Serializer property: DRF's metaclass takes declared fields off
    # the class, so the property stays (the stubs cannot know).
    errors = ProblemError(many=True, required=False)  # type: ignore[assignment]


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
                    {"type": "string", "minLength": 1, "maxLength": 255},
                    OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        "Any unique string (e.g. a UUID), at most 255 characters. Same key and "
                        "same request within 24 h: the stored response is returned again "
                        "(header Idempotent-Replayed: true); same key, other request: 409."
                    ),
                )
            )
        if self.method in ("PATCH", "PUT", "DELETE") or getattr(
            self.view, "accepts_if_match", False
        ):
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

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        """An array of objects (`many=True`) with its `min_length` / `max_length`, which
        drf-spectacular leaves out (it does write them for a ListField)."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # Set by DRF's ListSerializer (3.14+); its stubs do not declare them.
            if (min_length := getattr(field, "min_length", None)) is not None:
                schema["minItems"] = min_length
            if (max_length := getattr(field, "max_length", None)) is not None:
                schema["maxItems"] = max_length
        return schema

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


# Request objects whose unknown keys are ignored, not refused: OCPI Token objects sent as they
# are (the tokens service validates each field it keeps; see restapi.views.tokens).
LENIENT_REQUEST_COMPONENTS = frozenset({"TokenPutInRequest", "TokenBulkItemRequest"})


def strict_request_bodies(
    result: dict[str, Any], generator: Any, request: Request | None, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every request body is required (the server
    answers 422 without one), and the request objects validated by `ApiView.body` refuse
    unknown keys (restapi.strict)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and name not in LENIENT_REQUEST_COMPONENTS:
            if component.get("type") == "object" and "properties" in component:
                component["additionalProperties"] = False
    return result
