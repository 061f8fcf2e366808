"""Public functions of rating (billing rules, CPO contracts, payees, rated lines). Other
apps and outer layers import only this module and `contracts`."""

from __future__ import annotations

from datetime import datetime

from apps.common.contracts import Actor
from apps.rating.contracts import RatingOutcome

# --- views: rated lines, settlement report, rating flags (read side) ---------------------
from apps.rating.selectors.flags import REASON_WORDS as RATING_FLAG_REASON_WORDS
from apps.rating.selectors.flags import rating_flag_rows
from apps.rating.selectors.lines import (
    SETTLEMENT_CSV_COLUMNS,
    cdr_rated_views,
    rated_line_rows,
    settlement_csv_rows,
    settlement_parties,
    settlement_report,
)

__all__ = [
    "RATING_FLAG_REASON_WORDS",
    "SETTLEMENT_CSV_COLUMNS",
    "cdr_rated_views",
    "cdr_rerate",
    "rated_line_rows",
    "rating_flag_rows",
    "settlement_csv_rows",
    "settlement_parties",
    "settlement_report",
]


# --- PLACEHOLDER (views): rate's cdr_rerate replaces this when h-rate merges -------------
def cdr_rerate(
    *, tenant_id: int, cdr_id: int, actor: Actor, reason: str, now: datetime | None = None
) -> RatingOutcome:
    """Re-rates a CDR now (design.md: rate's service). Not in this branch."""
    raise NotImplementedError("cdr_rerate is rate's (h-rate); not merged in this branch")
