"""Portal URLs. Every page of a tenant is under /portal/<tenant slug>/ and goes through
`portal.access.portal_view`; `tests/portal/test_permissions.py` walks this list."""

from django.urls import path

from portal.views import (
    api_keys,
    auth,
    billing,
    billing_setup,
    charging,
    dashboard,
    emsp,
    invoicing_documents,
    invoicing_files,
    invoicing_runs,
    locations,
    partners,
    rating,
    roaming,
    roaming_emsp,
    sign_in_locks,
    stations,
    tariffs,
    tokens,
)
from portal.views import finance as finance_views

app_name = "portal"

T = "<slug:tenant>/"

urlpatterns = [
    path("", auth.home, name="home"),
    path("sign-in/", auth.sign_in, name="sign_in"),
    path("sign-in/code/", auth.mfa, name="mfa"),
    path("sign-in/enrol/", auth.mfa_enrol, name="mfa_enrol"),
    path("sign-out/", auth.sign_out, name="sign_out"),
    path("account/", auth.account, name="account"),
    path(T, dashboard.dashboard, name="dashboard"),
    path(T + "stations/", stations.station_list, name="stations"),
    path(T + "stations/<int:station_id>/", stations.station_detail, name="station"),
    path(
        T + "stations/<int:station_id>/command/", stations.station_command, name="station_command"
    ),
    path(
        T + "stations/<int:station_id>/tariff/",
        stations.station_assign_tariff,
        name="station_assign",
    ),
    path(T + "locations/", locations.location_list, name="locations"),
    path(T + "locations/new/", locations.location_new, name="location_new"),
    path(T + "locations/<int:location_id>/", locations.location_detail, name="location"),
    path(T + "locations/<int:location_id>/edit/", locations.location_edit, name="location_edit"),
    path(T + "locations/<int:location_id>/evses/", locations.evse_save, name="evse_save"),
    path(T + "sessions/", charging.session_list, name="sessions"),
    path(T + "sessions/<int:session_id>/", charging.session_detail, name="session"),
    path(T + "cdrs/", charging.cdr_list, name="cdrs"),
    path(T + "cdrs/export.csv", charging.cdr_export, name="cdr_export"),
    path(T + "cdrs/<int:cdr_id>/", charging.cdr_detail, name="cdr"),
    path(T + "emsp/", emsp.emsp_list, name="emsp"),
    path(T + "emsp/cdrs/<int:cdr_id>/", emsp.emsp_cdr, name="emsp_cdr"),
    path(T + "flags/", charging.flag_list, name="flags"),
    path(T + "flags/<int:flag_id>/<str:action>/", charging.flag_action, name="flag_action"),
    # views (issue 17): rated views, billing flags, re-rate, settlement report
    path(T + "flags/billing/", rating.rating_flag_list, name="rating_flags"),
    path(T + "cdrs/<int:cdr_id>/rerate/", rating.cdr_rerate, name="cdr_rerate"),
    path(T + "settlement/", rating.settlement, name="settlement"),
    path(T + "settlement/export.csv", rating.settlement_export, name="settlement_export"),
    path(T + "tariffs/", tariffs.tariff_list, name="tariffs"),
    path(T + "tariffs/new/", tariffs.tariff_new, name="tariff_new"),
    path(T + "tariffs/preview/", tariffs.tariff_preview, name="tariff_preview"),
    path(T + "tariffs/codes/", tariffs.tariff_code_new, name="tariff_code_new"),
    path(T + "tariffs/import/", tariffs.tariff_import, name="tariff_import"),
    path(
        T + "tariffs/import/<int:import_id>/",
        tariffs.tariff_import_status,
        name="tariff_import_status",
    ),
    path(T + "tariffs/<int:tariff_id>/", tariffs.tariff_detail, name="tariff"),
    path(
        T + "tariffs/<int:tariff_id>/versions/new/",
        tariffs.tariff_version_new,
        name="tariff_version_new",
    ),
    path(T + "tariffs/<int:tariff_id>/copy/", tariffs.tariff_copy, name="tariff_copy"),
    path(T + "billing-rules/", billing.rule_list, name="billing_rules"),
    path(T + "billing-rules/new/", billing.rule_new, name="billing_rule_new"),
    path(T + "billing-rules/tester/", billing.rule_tester, name="billing_rule_tester"),
    path(T + "billing-rules/<int:rule_id>/", billing.rule_detail, name="billing_rule"),
    path(
        T + "billing-rules/<int:rule_id>/versions/new/",
        billing.rule_version_new,
        name="billing_rule_version_new",
    ),
    path(T + "billing-rules/<int:rule_id>/copy/", billing.rule_copy, name="billing_rule_copy"),
    path(
        T + "billing-rules/<int:rule_id>/retire/", billing.rule_retire, name="billing_rule_retire"
    ),
    path(T + "tokens/", tokens.token_list, name="tokens"),
    path(T + "tokens/<int:token_id>/", tokens.token_detail, name="token"),
    path(T + "tokens/<int:token_id>/block/", tokens.token_block, name="token_block"),
    path(T + "customers/", tokens.customer_list, name="customers"),
    path(T + "customers/<int:customer_id>/", tokens.customer_detail, name="customer"),
    path(T + "roaming/emsp/", roaming_emsp.emsp_roaming, name="roaming_emsp"),
    path(
        T + "roaming/emsp/commands/",
        roaming_emsp.emsp_command_send,
        name="roaming_emsp_command",
    ),
    path(T + "partners/", partners.partner_list, name="partners"),
    path(T + "partners/new/", partners.partner_new, name="partner_new"),
    path(T + "partners/<int:partner_id>/", partners.partner_edit, name="partner_edit"),
    path(T + "partners/marketplace/", partners.marketplace_set, name="marketplace_set"),
    path(T + "audit/", tokens.audit_list, name="audit"),
    # Billing set-up (issue 17, area "cust")
    path(T + "billing/", billing_setup.billing_home, name="billing"),
    path(T + "billing/packages/", billing_setup.retail_package_new, name="retail_package_new"),
    path(T + "billing/groups/", billing_setup.user_group_new, name="user_group_new"),
    path(T + "billing/cpo-contracts/", billing_setup.cpo_contract_list, name="cpo_contracts"),
    path(
        T + "billing/cpo-contracts/new/",
        billing_setup.cpo_contract_new,
        name="cpo_contract_new",
    ),
    path(
        T + "billing/cpo-contracts/<int:cpo_contract_id>/",
        billing_setup.cpo_contract_detail,
        name="cpo_contract",
    ),
    path(
        T + "billing/cpo-contracts/<int:cpo_contract_id>/versions/",
        billing_setup.cpo_contract_version_new,
        name="cpo_contract_version_new",
    ),
    path(T + "billing/payees/", billing_setup.payee_list, name="payees"),
    path(T + "billing/payees/new/", billing_setup.payee_new, name="payee_new"),
    path(T + "billing/payees/assign/", billing_setup.payee_assign, name="payee_assign"),
    path(T + "billing/hcc-flags/", billing_setup.hcc_import, name="hcc_import"),
    # billing runs, invoicing settings, billing profiles (issue 18, area "runs")
    path(T + "billing-runs/", invoicing_runs.run_list, name="billing_runs"),
    path(T + "billing-runs/start/", invoicing_runs.run_start, name="billing_run_start"),
    path(T + "billing-runs/<int:run_id>/", invoicing_runs.run_detail, name="billing_run"),
    path(T + "invoicing-settings/", invoicing_runs.settings_view, name="invoicing_settings"),
    path(
        T + "invoicing-settings/save/",
        invoicing_runs.settings_save,
        name="invoicing_settings_save",
    ),
    path(
        T + "invoicing-settings/profiles/",
        invoicing_runs.profile_save,
        name="billing_profile_save",
    ),
    path(T + "api-keys/", api_keys.api_key_list, name="api_keys"),
    path(T + "api-keys/<int:api_key_id>/revoke/", api_keys.api_key_revoke, name="api_key_revoke"),
    path(T + "sign-in-locks/", sign_in_locks.sign_in_lock_list, name="sign_in_locks"),
    path(T + "sign-in-locks/unlock/", sign_in_locks.sign_in_unlock, name="sign_in_unlock"),
    # invoices, self-billing statements, credit notes (issue 18, area "docs")
    path(T + "invoices/", invoicing_documents.document_list, name="documents"),
    path(T + "invoices/<int:document_id>/", invoicing_documents.document_detail, name="document"),
    path(
        T + "invoices/<int:document_id>/finalize/",
        invoicing_documents.document_finalize,
        name="document_finalize",
    ),
    path(
        T + "invoices/<int:document_id>/discard/",
        invoicing_documents.document_discard,
        name="document_discard",
    ),
    path(
        T + "invoices/<int:document_id>/credit/",
        invoicing_documents.document_credit,
        name="document_credit",
    ),
    # invoicing, area "files" (issue 18): a document's files, downloads, send again
    path(
        T + "invoicing/documents/<int:document_id>/files/",
        invoicing_files.document_files,
        name="invoicing_document_files",
    ),
    path(
        T + "invoicing/documents/<int:document_id>/files/<str:kind>/",
        invoicing_files.document_file_download,
        name="invoicing_document_file",
    ),
    path(
        T + "invoicing/documents/<int:document_id>/resend/",
        invoicing_files.document_resend,
        name="invoicing_document_resend",
    ),
    # finance (issue 18, area "finance"): preview, exclusions, adjustments, post, batches
    path(T + "finance/", finance_views.finance, name="finance"),
    path(T + "finance/post/", finance_views.finance_post, name="finance_post"),
    path(
        T + "finance/exclusions/",
        finance_views.finance_exclusion_add,
        name="finance_exclusion_add",
    ),
    path(
        T + "finance/exclusions/<int:exclusion_id>/retire/",
        finance_views.finance_exclusion_retire,
        name="finance_exclusion_retire",
    ),
    path(
        T + "finance/adjustments/",
        finance_views.finance_adjustment_add,
        name="finance_adjustment_add",
    ),
    path(
        T + "finance/batches/<int:batch_id>/<str:kind>",
        finance_views.finance_batch_file,
        name="finance_batch_file",
    ),
    path(T + "finance/gl-mapping/", finance_views.finance_gl_mapping, name="finance_gl_mapping"),
    path(
        T + "finance/gl-mapping/set/",
        finance_views.finance_gl_mapping_set,
        name="finance_gl_mapping_set",
    ),
    # OCPI roaming connections (issue 19, area "connections")
    path(T + "roaming/", roaming.connection_list, name="roaming"),
    path(T + "roaming/connect/", roaming.connection_connect, name="roaming_connect"),
    path(T + "roaming/invite/", roaming.connection_invite, name="roaming_invite"),
    path(T + "roaming/<int:connection_id>/", roaming.connection_detail, name="roaming_connection"),
    path(
        T + "roaming/<int:connection_id>/<str:action>/",
        roaming.connection_action,
        name="roaming_action",
    ),
]
