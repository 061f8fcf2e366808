"""Public functions of rating (billing rules, CPO contracts, payees, rated lines). Other
apps and outer layers import only this module and `contracts`."""

from __future__ import annotations

from apps.rating.selectors import rules as rule_selectors
from apps.rating.selectors import terms, tester
from apps.rating.services import rating
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
# Minimal versions area "rate" needs before area "cust" is merged (the lead keeps one of
# each): CPO contract terms and payees in force.
cpo_contract_terms = terms.cpo_contract_terms
payees_in_force = terms.payees_in_force
