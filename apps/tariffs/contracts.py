from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class TariffType(enum.StrEnum):
    """OCPI 2.2.1 TariffType."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


@dataclass(frozen=True, slots=True)
class TariffSnapshot:
    """The tariff a session is priced with, frozen at session start."""

    tariff_id: int
    tariff_version_id: int
    version: int
    ocpi_id: str
    currency: str
    effective_from: datetime
    ocpi: dict[str, Any]  # the validated OCPI 2.2.1 Tariff object
