"""Public functions of invoicing: billing runs, documents and their files, deliveries, the
universal record and the finance export (BILLING.md sections 4 and 5, ADR 0035). Other apps
and outer layers import only this module and `contracts`. Each area adds its names in its
own section below."""

from __future__ import annotations

from apps.invoicing import arithmetic
from apps.invoicing.selectors import documents as document_selectors
from apps.invoicing.services import documents as document_services
from apps.invoicing.services import numbering
from apps.invoicing.selectors import files as files_selectors
from apps.invoicing.services import delivery, files

vat_number_problem = arithmetic.vat_number_problem

# -- area "runs": invoicing settings, billing profiles, billing runs (drafts) ------------------

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
