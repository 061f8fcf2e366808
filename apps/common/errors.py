"""Errors that services raise and interfaces translate (HTTP, OCPP, OCPI, portal forms)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a JSON path or field name) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DomainError(Exception):
    """A business rule refused the operation. `code` is stable and machine-readable."""

    code = "domain_error"

    def __init__(self, message: str, *, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + "; " + "; ".join(str(p) for p in self.problems)


class ValidationFailed(DomainError):
    code = "validation_failed"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PreconditionFailed(DomainError):
    """The caller's expected version (an HTTP ETag) is not the current one: someone else
    changed the record first (optimistic concurrency)."""

    code = "precondition_failed"


class ServiceUnavailable(DomainError):
    """A component the operation needs does not exist or is not reachable (yet)."""

    code = "service_unavailable"


class ImmutableRecordError(DomainError):
    """An append-only record (CDR, issued invoice, ledger entry) was asked to change."""

    code = "immutable_record"


def problems_from_django(exc: object) -> tuple[Problem, ...]:
    """Django's ValidationError (message_dict or messages) as Problems with field paths."""
    message_dict = getattr(exc, "message_dict", None)
    if message_dict:
        return tuple(
            Problem(path=field if field != "__all__" else "$", message=msg)
            for field, messages in message_dict.items()
            for msg in messages
        )
    return tuple(Problem(path="$", message=msg) for msg in getattr(exc, "messages", [str(exc)]))
