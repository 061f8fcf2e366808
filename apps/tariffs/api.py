"""Public functions of the tariffs app."""

from __future__ import annotations

from apps.tariffs import selectors, services

tariff_upsert = services.tariff_upsert
tariff_version_add = services.tariff_version_add
tariff_code_upsert = services.tariff_code_upsert
tariff_code_assign = services.tariff_code_assign
tariff_for_session = selectors.tariff_for_session
tariff_versions_count = selectors.tariff_versions_count
tariff_create = services.tariff_create
tariff_version_create = services.tariff_version_create
tariff_get = selectors.tariff_get
tariff_list = selectors.tariff_list
tariff_code_create = services.tariff_code_create
tariff_code_get = selectors.tariff_code_get
tariff_code_list = selectors.tariff_code_list
tariff_assignment_create = services.tariff_assignment_create
tariff_assignment_get = selectors.tariff_assignment_get
tariff_assignment_list = selectors.tariff_assignment_list
tariff_validate = services.tariff_validate
tariff_preview = services.tariff_preview
tariff_copy = services.tariff_copy
tariff_code_rows = selectors.tariff_code_rows
assignments_of_station = selectors.assignments_of_station
tariff_code_import_preview = services.tariff_code_import_preview
tariff_code_import_start = services.tariff_code_import_start
tariff_code_import_get = selectors.tariff_code_import_get
# The billing engines' read of rule tariffs (issue 17, area "rate").
tariff_versions_of = selectors.tariff_versions_of
