"""Errors as RFC 9457 problem details (`application/problem+json`).

Validation problems list every field with a JSON path (`$.evses[0].connectors[1].standard`)
and a reason, in `errors`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.common.errors import (
    Conflict,
    DomainError,
    ImmutableRecordError,
    NotFound,
    PreconditionFailed,
    Problem,
    ServiceUnavailable,
    ValidationFailed,
)
from restapi.json import dumps

PROBLEM_CONTENT_TYPE = "application/problem+json"

_DOMAIN_STATUS: list[tuple[type[DomainError], int, str]] = [
    (ValidationFailed, 422, "Validation failed"),
    (NotFound, 404, "Not found"),
    (PreconditionFailed, 412, "Precondition failed"),
    (ImmutableRecordError, 409, "Immutable record"),
    (Conflict, 409, "Conflict"),
    (ServiceUnavailable, 503, "Service unavailable"),
]


class QueryInvalid(exceptions.ValidationError):
    """A query parameter is invalid: 400, with the parameter as path."""

    status_code = 400


class BodyInvalid(exceptions.ValidationError):
    """The request body is invalid: 422. `errors`, when given, is the flat list of
    {path, message} to answer with (else DRF's detail, flattened)."""

    status_code = 422

    def __init__(self, detail: Any = None, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors


def _path(prefix: str, key: Any) -> str:
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return f"{prefix}[{key}]"
    if key in ("non_field_errors", "__all__"):
        return prefix
    return f"{prefix}.{key}"


def flatten(detail: Any, prefix: str = "$") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of {path, message}."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            out += flatten(value, _path(prefix, key))
        return out
    if isinstance(detail, list):
        if all(isinstance(d, str) for d in detail):
            return [{"path": prefix, "message": str(d)} for d in detail]
        out = []
        for i, value in enumerate(detail):
            if value in ({}, [], None):
                continue
            out += flatten(value, f"{prefix}[{i}]")
        return out
    return [{"path": prefix, "message": str(detail)}]


def _domain_path(path: str) -> str:
    if path.startswith("$") or not path:
        return path or "$"
    if path[0].isupper():  # a header name, e.g. Idempotency-Key
        return path
    return f"$.{path}"


def problem(
    status_code: int,
    title: str,
    detail: str,
    *,
    code: str,
    instance: str = "",
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:evcharge:problem:{code}",
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problems_as_errors(problems: tuple[Problem, ...]) -> list[dict[str, str]]:
    return [{"path": _domain_path(p.path), "message": p.message} for p in problems]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    instance = request.path if request is not None else ""
    if isinstance(exc, DomainError):
        for cls, code, title in _DOMAIN_STATUS:
            if isinstance(exc, cls):
                errors = problems_as_errors(exc.problems) if code == 422 else None
                if code == 422 and not errors:
                    errors = [{"path": "$", "message": exc.message}]
                return problem(
                    code, title, exc.message, code=exc.code, instance=instance, errors=errors
                )
        return problem(409, "Refused", exc.message, code=exc.code, instance=instance)
    if isinstance(exc, IntegrityError):
        return problem(
            409,
            "Conflict",
            "the request conflicts with existing data",
            code="conflict",
            instance=instance,
        )
    if isinstance(exc, DataError):
        return problem(
            422,
            "Validation failed",
            "a value does not fit its field",
            code="validation_failed",
            instance=instance,
            errors=[{"path": "$", "message": "a value does not fit its field"}],
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return None
    headers = {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate")}
    if isinstance(exc, exceptions.ValidationError):
        code = exc.status_code if isinstance(exc, QueryInvalid | BodyInvalid) else 422
        what = "query parameters" if code == 400 else "request body"
        return problem(
            code,
            "Invalid " + what,
            f"the {what} did not validate; see errors",
            code="invalid_query" if code == 400 else "validation_failed",
            instance=instance,
            errors=getattr(exc, "errors", None) or flatten(exc.detail),
            headers=headers,
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    titles = {
        status.HTTP_401_UNAUTHORIZED: "Unauthenticated",
        status.HTTP_403_FORBIDDEN: "Forbidden",
        status.HTTP_429_TOO_MANY_REQUESTS: "Too many requests",
    }
    return problem(
        exc.status_code,
        titles.get(exc.status_code, str(exc.default_detail)),
        str(detail),
        code=str(exc.default_code),
        instance=instance,
        headers=headers,
    )


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: problem+json under /api/, Django's default page elsewhere."""
    if not request.path.startswith("/api/"):
        return page_not_found(request, exception)
    body = {
        "type": "urn:evcharge:problem:not_found",
        "title": "Not found",
        "status": 404,
        "detail": "no such resource in API v1",
        "instance": request.path,
    }
    return HttpResponse(dumps(body), status=404, content_type=PROBLEM_CONTENT_TYPE)
