"""Public functions of the tariffs app."""

from __future__ import annotations

from apps.tariffs import selectors, services

tariff_upsert = services.tariff_upsert
tariff_version_add = services.tariff_version_add
tariff_code_upsert = services.tariff_code_upsert
tariff_code_assign = services.tariff_code_assign
tariff_for_session = selectors.tariff_for_session
tariff_versions_count = selectors.tariff_versions_count
