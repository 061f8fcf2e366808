"""Public functions of rating (billing rules, CPO contracts, payees, rated lines). Other
apps and outer layers import only this module and `contracts`."""

from apps.rating.selectors import contracts as _cpo_contracts_read
from apps.rating.selectors import payees as _payees_read
from apps.rating.services import contracts as _cpo_contracts
from apps.rating.services import hcc as _hcc
from apps.rating.services import payees as _payees

# -- area "cust": CPO contracts, payees, home-charger flags in bulk ------------------------
cpo_contract_create = _cpo_contracts.cpo_contract_create
cpo_contract_version_add = _cpo_contracts.cpo_contract_version_add
cpo_contract_get = _cpo_contracts_read.cpo_contract_get
cpo_contract_list = _cpo_contracts_read.cpo_contract_list
cpo_contract_terms = _cpo_contracts_read.cpo_contract_terms
cpo_contracts_terms = _cpo_contracts_read.cpo_contracts_terms
payee_create = _payees.payee_create
payee_update = _payees.payee_update
payee_assign = _payees.payee_assign
payee_get = _payees_read.payee_get
payee_list = _payees_read.payee_list
payee_assignments = _payees_read.payee_assignments
payee_stations = _payees_read.payee_stations
payees_in_force = _payees_read.payees_in_force
hcc_flags_set = _hcc.hcc_flags_set
hcc_rows_problems = _hcc.hcc_rows_problems
hcc_csv_rows = _hcc.hcc_csv_rows
HCC_MAX_ROWS = _hcc.HCC_MAX_ROWS
