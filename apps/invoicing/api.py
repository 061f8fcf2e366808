"""Public functions of invoicing: billing runs, documents and their files, deliveries, the
universal record and the finance export (BILLING.md sections 4 and 5, ADR 0035). Other apps
and outer layers import only this module and `contracts`. Each area adds its names in its
own section below."""

from __future__ import annotations

from apps.invoicing import arithmetic, periods
from apps.invoicing.selectors import runs as run_selectors
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

# -- area "files": PDF / Factur-X, UBL, CII; e-mail delivery and resend ---------------------

# -- area "finance": universal records, GL mapping, exclusions, adjustments, preview, post ----
