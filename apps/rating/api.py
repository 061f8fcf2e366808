"""Public functions of rating (billing rules, CPO contracts, payees, rated lines). Other
apps and outer layers import only this module and `contracts`."""

from __future__ import annotations

from apps.rating.models import RatedLine
from apps.rating.selectors import contracts as contract_selectors
from apps.rating.selectors import flags as flag_selectors
from apps.rating.selectors import lines as line_selectors
from apps.rating.selectors import payees as payee_selectors
from apps.rating.selectors import rules as rule_selectors
from apps.rating.selectors import tester
from apps.rating.services import contracts as contract_services
from apps.rating.services import hcc, rating
from apps.rating.services import payees as payee_services
from apps.rating.services import rules as rule_services

# rules: billing rules, their versions, overlaps, the matcher's index and the tester.
billing_rule_create = rule_services.billing_rule_create
billing_rule_version_add = rule_services.billing_rule_version_add
billing_rule_retire = rule_services.billing_rule_retire
billing_rule_copy = rule_services.billing_rule_copy
billing_rule_list = rule_selectors.billing_rule_list
billing_rule_get = rule_selectors.billing_rule_get
billing_rule_overlaps = rule_selectors.billing_rule_overlaps
billing_rule_test = tester.billing_rule_test
rule_index = rule_selectors.rule_index
rule_index_cache_clear = rule_selectors.rule_index_cache_clear
rule_specs = rule_selectors.rule_specs

# -- area "rate": the engines (rated lines, flags, retries) --------------------------------
cdrs_rate = rating.cdrs_rate
cdr_rerate = rating.cdr_rerate
flags_retry = rating.flags_retry
cdrs_sweep_unrated = rating.cdrs_sweep_unrated

# -- area "cust": CPO contracts, payees, home-charger flags in bulk ------------------------
cpo_contract_create = contract_services.cpo_contract_create
cpo_contract_version_add = contract_services.cpo_contract_version_add
cpo_contract_get = contract_selectors.cpo_contract_get
cpo_contract_list = contract_selectors.cpo_contract_list
cpo_contract_terms = contract_selectors.cpo_contract_terms
cpo_contracts_terms = contract_selectors.cpo_contracts_terms
payee_create = payee_services.payee_create
payee_update = payee_services.payee_update
payee_assign = payee_services.payee_assign
payee_get = payee_selectors.payee_get
payee_list = payee_selectors.payee_list
payee_assignments = payee_selectors.payee_assignments
payee_stations = payee_selectors.payee_stations
payees_in_force = payee_selectors.payees_in_force
hcc_flags_set = hcc.hcc_flags_set
hcc_rows_problems = hcc.hcc_rows_problems
hcc_csv_rows = hcc.hcc_csv_rows
HCC_MAX_ROWS = hcc.HCC_MAX_ROWS

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

# The rated lines' table, for invoicing's set-based SQL over unbilled and unexported lines
# (ADR 0035): billing runs and the finance export read millions of rows in one statement.
RATED_LINE_TABLE: str = RatedLine._meta.db_table
