"""The base of every API view: the caller's tenant, ETag helpers, query validation."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.contracts import Actor
from apps.integrations.contracts import ApiPrincipal
from restapi.auth import key_actor
from restapi.problems import BodyInvalid, QueryInvalid, flatten
from restapi.strict import body_problems


class ApiView(APIView):
    scope_resource: str | None = None

    @property
    def principal(self) -> ApiPrincipal:
        auth = self.request.auth
        if not isinstance(auth, ApiPrincipal):  # HasScope refuses such a request first
            raise NotAuthenticated()
        return auth

    @property
    def tenant_id(self) -> int:
        return self.principal.tenant_id

    @property
    def actor(self) -> Actor:
        """The API key, as the audit log names who made a change."""
        return key_actor(self.principal)

    def query(self, serializer_cls: type[serializers.Serializer]) -> dict[str, Any]:
        return query_of(self.request, serializer_cls)

    def body(self, serializer_cls: type[serializers.Serializer], **kwargs: Any) -> dict[str, Any]:
        """The JSON body validated by `serializer_cls`, strictly: a value of the wrong JSON
        type or an unknown key is refused (restapi.strict), never converted or dropped. On
        any problem, BodyInvalid listing every path."""
        data = self.request.data
        if self.request.stream is None or isinstance(data, QueryDict):  # no JSON body
            raise BodyInvalid({"non_field_errors": ["a JSON object is required"]})
        s = serializer_cls(data=data, **kwargs)
        strict = body_problems(s, data)
        valid = s.is_valid()
        if strict or not valid:
            paths = {e["path"] for e in strict}
            others = [] if valid else [e for e in flatten(s.errors) if e["path"] not in paths]
            raise BodyInvalid(s.errors if not strict else {}, errors=[*strict, *others])
        return dict(s.validated_data)

    def if_match(self) -> str | None:
        """The version in `If-Match` (quotes and W/ stripped); None when absent or `*`."""
        raw = self.request.headers.get("If-Match")
        if raw is None or raw.strip() == "*":
            return None
        value = raw.strip()
        if value.startswith("W/"):
            value = value[2:]
        return value.strip('"')


def query_of(request: Request, serializer_cls: type[serializers.Serializer]) -> dict[str, Any]:
    """The request's query parameters validated by `serializer_cls` (QueryInvalid if not)."""
    s = serializer_cls(data=request.query_params)
    if not s.is_valid():
        raise QueryInvalid(s.errors)
    return dict(s.validated_data)


def with_etag(response: Response, etag: str | None) -> Response:
    if etag:
        response["ETag"] = f'"{etag}"'
    return response
