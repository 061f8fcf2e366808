from __future__ import annotations

import enum


class CustomerKind(enum.StrEnum):
    PERSON = "person"
    COMPANY = "company"
