from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class BillingEngine(enum.StrEnum):
    """The three money flows of a session (BILLING.md section 1), and the engine a tariff
    serves: WHOLESALE is the CPO's price (the station price its CDRs show, and what it
    charges an eMSP), RETAIL an eMSP's price to its drivers, REIMBURSEMENT a charger
    owner's energy rate."""

    WHOLESALE = "WHOLESALE"
    RETAIL = "RETAIL"
    REIMBURSEMENT = "REIMBURSEMENT"


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


@dataclass(frozen=True, slots=True)
class TariffVersionInfo:
    version: int
    effective_from: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TariffRecord:
    """A tariff as the REST API shows it: the OCPI 2.2.1 Tariff of the version in force now
    (or the first scheduled one), with the list of versions."""

    platform_id: int
    country_code: str
    party_id: str
    id: str
    currency: str
    type: str
    name: str
    current_version: int | None
    ocpi: dict[str, Any] | None
    versions: tuple[TariffVersionInfo, ...]
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class TariffCodeRecord:
    id: int
    code: str
    description: str
    tariff_id: int


@dataclass(frozen=True, slots=True)
class TariffAssignmentRecord:
    id: int
    charge_station_id: int
    connector_pk: int | None
    tariff_code: str
    tariff_id: int
    effective_from: datetime


@dataclass(frozen=True, slots=True)
class PreviewLine:
    dimension: str  # FLAT, ENERGY, TIME, PARKING_TIME, ...
    volume: str  # words, e.g. "20.000 kWh"
    excl_vat: Any  # Decimal
    incl_vat: Any


@dataclass(frozen=True, slots=True)
class TariffPreview:
    """A sample session priced with a tariff being edited (nothing is stored)."""

    currency: str
    total_excl_vat: Any  # Decimal, rounded to the currency's minor unit
    total_incl_vat: Any
    lines: tuple[PreviewLine, ...]
    warnings: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    identity: str
    new_code: str
    current_code: str | None
    change: str  # "change" | "same" | "error"
    problem: str = ""


@dataclass(frozen=True, slots=True)
class ImportPreview:
    rows: tuple[ImportRow, ...]
    changes: int
    unchanged: int
    errors: int


@dataclass(frozen=True, slots=True)
class ImportStatus:
    id: int
    status: str  # PENDING | RUNNING | DONE | FAILED
    total: int
    done: int
    report: dict[str, Any]
    effective_from: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TariffVersionTerms:
    """One version of a tariff as the billing engines price with it (issue 17)."""

    id: int
    tenant_id: int
    tariff_id: int
    engine: str
    currency: str
    version: int
    effective_from: datetime
    ocpi: dict[str, Any]
