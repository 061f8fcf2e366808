"""Writes of the tariffs app, by role: tariffs and their versions, codes and their
assignments, the CSV import of default codes; and the price preview of a tariff being edited.
Each write takes the actor where a person or an API key makes it and audits it in its own
transaction."""

from apps.tariffs.services.codes import (
    tariff_assignment_create,
    tariff_code_assign,
    tariff_code_create,
    tariff_code_upsert,
)
from apps.tariffs.services.imports import (
    tariff_code_import_preview,
    tariff_code_import_run,
    tariff_code_import_start,
)
from apps.tariffs.services.preview import tariff_preview
from apps.tariffs.services.tariffs import (
    tariff_copy,
    tariff_create,
    tariff_upsert,
    tariff_validate,
    tariff_version_add,
    tariff_version_create,
)

__all__ = [
    "tariff_assignment_create",
    "tariff_code_assign",
    "tariff_code_create",
    "tariff_code_import_preview",
    "tariff_code_import_run",
    "tariff_code_import_start",
    "tariff_code_upsert",
    "tariff_copy",
    "tariff_create",
    "tariff_preview",
    "tariff_upsert",
    "tariff_validate",
    "tariff_version_add",
    "tariff_version_create",
]
