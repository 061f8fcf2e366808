"""Public functions of rating (billing rules, CPO contracts, payees, rated lines). Other
apps and outer layers import only this module and `contracts`."""

from __future__ import annotations

from apps.rating.selectors import flags as flag_selectors
from apps.rating.selectors import lines as line_selectors
from apps.rating.selectors import rule_index as rule_index_selectors
from apps.rating.selectors import terms
from apps.rating.services import rating

# -- area "rate": the engines (rated lines, flags, retries) --------------------------------
cdrs_rate = rating.cdrs_rate
cdr_rerate = rating.cdr_rerate
flags_retry = rating.flags_retry
cdrs_sweep_unrated = rating.cdrs_sweep_unrated
# Minimal versions area "rate" needs before areas "cust" and "rules" are merged (the lead
# keeps one of each): CPO contract terms and payees in force, the cached rule index.
cpo_contract_terms = terms.cpo_contract_terms
payees_in_force = terms.payees_in_force
rule_index = rule_index_selectors.rule_index

# -- area "views": the read side (rated views of a CDR, lines per period, settlement report,
# the billing flags of the queue) -------------------------------------------------------------
cdr_rated_views = line_selectors.cdr_rated_views
rated_line_rows = line_selectors.rated_line_rows
settlement_report = line_selectors.settlement_report
settlement_parties = line_selectors.settlement_parties
settlement_csv_rows = line_selectors.settlement_csv_rows
SETTLEMENT_CSV_COLUMNS = line_selectors.SETTLEMENT_CSV_COLUMNS
rating_flag_rows = flag_selectors.rating_flag_rows
RATING_FLAG_REASON_WORDS = flag_selectors.REASON_WORDS
