"""Public functions of rating (billing rules, CPO contracts, payees, rated lines). Other
apps and outer layers import only this module and `contracts`."""

from __future__ import annotations

from apps.rating.selectors import rules as rule_selectors
from apps.rating.selectors import tester
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
