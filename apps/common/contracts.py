"""Frozen value types shared by all apps."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from apps.common.errors import Problem

__all__ = ["Actor", "HccFlag", "Problem"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, as the audit log names it. Every service that changes data takes
    one and writes the audit entry itself, so a change through the portal, the REST API or
    a task is recorded the same way: a portal user (`user_id`, named by e-mail), an API key
    (`api_key_id` and its name) or the platform itself (a task or a command, by name)."""

    user_id: int | None = None
    api_key_id: int | None = None
    name: str = ""

    @classmethod
    def user(cls, user_id: int) -> Actor:
        return cls(user_id=user_id)

    @classmethod
    def api_key(cls, *, key_pk: int, key_id: str, name: str) -> Actor:
        return cls(api_key_id=key_pk, name=f"API key {key_id} ({name})"[:254])

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(name=name[:254])


class HccFlag(enum.StrEnum):
    """Home-charger flags (BILLING.md section 3): a charger at a driver's home whose
    reimbursement excludes VAT (`HCC_E`: 0 % with an exemption reason) or includes it
    (`HCC_V`). Set per charge station and per token; a CDR carries the one that applied."""

    HCC_E = "HCC_E"
    HCC_V = "HCC_V"
