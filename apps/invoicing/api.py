"""Public functions of invoicing: billing runs, documents and their files, deliveries, the
universal record and the finance export (BILLING.md sections 4 and 5, ADR 0035). Other apps
and outer layers import only this module and `contracts`. Each area adds its names in its
own section below."""

from __future__ import annotations

from apps.invoicing import arithmetic, periods
from apps.invoicing.selectors import documents as document_selectors
from apps.invoicing.selectors import files as files_selectors
from apps.invoicing.selectors import finance as finance_selectors
from apps.invoicing.selectors import runs as run_selectors
from apps.invoicing.services import delivery, files, numbering
from apps.invoicing.services import documents as document_services
from apps.invoicing.services import finance as finance_services
from apps.invoicing.services import records as record_services
from apps.invoicing.services import runs as run_services
from apps.invoicing.services import settings as settings_services

vat_number_problem = arithmetic.vat_number_problem

# -- area "runs": invoicing settings, billing profiles, billing runs (drafts) ------------------
invoicing_settings_get = settings_services.invoicing_settings_get
invoicing_settings_update = settings_services.invoicing_settings_update
billing_profile_set = settings_services.billing_profile_set
billing_profile_list = run_selectors.billing_profile_list
billing_run_start = run_services.billing_run_start
billing_run_execute = run_services.billing_run_execute
billing_runs_schedule = run_services.billing_runs_schedule
billing_run_get = run_selectors.billing_run_get
billing_run_list = run_selectors.billing_run_list
billing_run_documents = run_selectors.billing_run_documents
period_of_day = periods.period_of_day
period_containing = periods.period_containing
previous_period = periods.previous_period
timezone_problem = periods.timezone_problem

# -- area "docs": finalize (gapless numbers), discard, credit notes, document reads ----------
document_finalize = document_services.document_finalize
documents_finalize = document_services.documents_finalize
document_discard = document_services.document_discard
credit_note_create = document_services.credit_note_create
document_list = document_selectors.document_list
document_row = document_selectors.document_row
document_get = document_selectors.document_get
document_series_name = numbering.series_name
document_timezone = document_services.tenant_timezone

# -- area "files": PDF / Factur-X, UBL, CII; e-mail delivery and resend ---------------------
FileContent = files.FileContent
FileRow = files_selectors.FileRow
FilesPanel = files_selectors.FilesPanel
DeliveryRow = files_selectors.DeliveryRow
DocumentNotFinalized = files.DocumentNotFinalized
document_files_render = files.document_files_render
document_file_get = files.document_file_get
document_files_list = files_selectors.document_files_list
document_deliveries_list = files_selectors.document_deliveries_list
document_files_panel = files_selectors.document_files_panel
document_deliver = delivery.document_deliver
document_resend = delivery.document_resend

# -- area "finance": universal records, GL mapping, exclusions, adjustments, preview, post ----
cdr_record_build = record_services.cdr_record_build
cdr_records_store = record_services.cdr_records_store
gl_mapping_set = finance_services.gl_mapping_set
gl_mapping_list = finance_selectors.gl_mapping_list
finance_exclusion_add = finance_services.finance_exclusion_add
finance_exclusion_retire = finance_services.finance_exclusion_retire
finance_exclusion_list = finance_selectors.finance_exclusion_list
finance_adjustment_add = finance_services.finance_adjustment_add
finance_adjustment_list = finance_selectors.finance_adjustment_list
finance_preview = finance_selectors.finance_preview
finance_journal_json = finance_services.journal_json
export_batch_post = finance_services.export_batch_post
export_batch_list = finance_selectors.export_batch_list
export_batch_get = finance_selectors.export_batch_get
export_file_open = finance_selectors.export_file_open
ExportFileStream = finance_selectors.ExportFileStream
FinancePreview = finance_selectors.FinancePreview
ExportResult = finance_services.ExportResult
GL_UNMAPPED = finance_selectors.UNMAPPED
