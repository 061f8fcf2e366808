"""Routes of the REST API v1, mounted at /api/v1/ by config.urls."""

from __future__ import annotations

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from restapi.views import (
    billing,
    charging,
    commercial,
    customers,
    invoicing_documents,
    invoicing_files,
    invoicing_runs,
    locations,
    partners,
    rating,
    roaming_emsp,
    tariffs,
    tokens,
    webhooks,
)
from restapi.views import finance as finance_views

app_name = "restapi"


class PlatformIdConverter:
    """A platform id in a URL: 1 to 18 digits, so it always fits a bigint."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(PlatformIdConverter, "id")

urlpatterns = [
    # Public: the schema and its rendered docs describe the API and hold no tenant data.
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="restapi:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="restapi:schema"), name="redoc"),
    # tokens
    path("tokens", tokens.TokenCollection.as_view(), name="tokens"),
    path("tokens/bulk", tokens.TokenBulkView.as_view(), name="tokens-bulk"),
    path("tokens/<id:token_id>", tokens.TokenItem.as_view(), name="token"),
    path("tokens/<id:token_id>/block", tokens.TokenBlockView.as_view(), name="token-block"),
    path("tokens/<id:token_id>/unblock", tokens.TokenUnblockView.as_view(), name="token-unblock"),
    path(
        "tokens/<str:country_code>/<str:party_id>/<str:uid>",
        tokens.TokenPutView.as_view(),
        name="token-upsert",
    ),
    # OCPI eMSP role (issue 19): commands sent to a CPO partner, reconciliation of its CDRs
    path(
        "roaming/connections/<id:connection_id>/commands",
        roaming_emsp.CommandSendView.as_view(),
        name="roaming-command-send",
    ),
    path(
        "roaming/commands/<str:uid>", roaming_emsp.CommandGetView.as_view(), name="roaming-command"
    ),
    path(
        "roaming/connections/<id:connection_id>/reconciliation",
        roaming_emsp.ReconciliationView.as_view(),
        name="roaming-reconciliation",
    ),
    # partners (ADR 0027)
    path("partners", partners.PartnerCollection.as_view(), name="partners"),
    path("partners/<id:partner_id>", partners.PartnerItem.as_view(), name="partner"),
    # customers and contracts
    path("customers", customers.CustomerCollection.as_view(), name="customers"),
    path("customers/<id:customer_id>", customers.CustomerItem.as_view(), name="customer"),
    path("contracts", customers.ContractCollection.as_view(), name="contracts"),
    path("contracts/<id:contract_id>", customers.ContractItem.as_view(), name="contract"),
    # locations and charge stations
    path("locations", locations.LocationCollection.as_view(), name="locations"),
    path("locations/<id:location_id>", locations.LocationItem.as_view(), name="location"),
    path(
        "locations/<id:location_id>/evses/<str:evse_uid>",
        locations.EvsePutView.as_view(),
        name="location-evse",
    ),
    path("charge-stations", locations.ChargeStationCollection.as_view(), name="charge-stations"),
    path(
        "charge-stations/<id:station_id>",
        locations.ChargeStationItem.as_view(),
        name="charge-station",
    ),
    path(
        "charge-stations/<id:station_id>/password",
        locations.ChargeStationPasswordView.as_view(),
        name="charge-station-password",
    ),
    path(
        "charge-stations/<id:station_id>/commands",
        locations.ChargeStationCommandView.as_view(),
        name="charge-station-commands",
    ),
    path(
        "charge-stations/<id:station_id>/connectivity",
        locations.ChargeStationConnectivityView.as_view(),
        name="charge-station-connectivity",
    ),
    # billing rules
    path("billing-rules", billing.BillingRuleCollection.as_view(), name="billing-rules"),
    path(
        "billing-rules/overlaps",
        billing.BillingRuleOverlapsView.as_view(),
        name="billing-rules-overlaps",
    ),
    path("billing-rules/test", billing.BillingRuleTestView.as_view(), name="billing-rules-test"),
    path("billing-rules/<id:rule_id>", billing.BillingRuleItem.as_view(), name="billing-rule"),
    path(
        "billing-rules/<id:rule_id>/versions",
        billing.BillingRuleVersionView.as_view(),
        name="billing-rule-versions",
    ),
    path(
        "billing-rules/<id:rule_id>/retire",
        billing.BillingRuleRetireView.as_view(),
        name="billing-rule-retire",
    ),
    path(
        "billing-rules/<id:rule_id>/copy",
        billing.BillingRuleCopyView.as_view(),
        name="billing-rule-copy",
    ),
    # tariffs
    path("tariffs", tariffs.TariffCollection.as_view(), name="tariffs"),
    path("tariffs/<id:tariff_id>", tariffs.TariffGetView.as_view(), name="tariff"),
    path(
        "tariffs/<id:tariff_id>/versions",
        tariffs.TariffVersionCreateView.as_view(),
        name="tariff-versions",
    ),
    path("tariff-codes", tariffs.TariffCodeCollection.as_view(), name="tariff-codes"),
    path(
        "tariff-assignments",
        tariffs.TariffAssignmentCollection.as_view(),
        name="tariff-assignments",
    ),
    # sessions and CDRs (read only)
    path("sessions", charging.SessionListView.as_view(), name="sessions"),
    path("sessions/<id:session_id>", charging.SessionGetView.as_view(), name="session"),
    path("cdrs", charging.CdrListView.as_view(), name="cdrs"),
    path("cdrs/<id:cdr_id>", charging.CdrGetView.as_view(), name="cdr"),
    # retail packages, user groups, CPO contracts, payees, home-charger flags (issue 17, cust)
    path("retail-packages", commercial.RetailPackageCollection.as_view(), name="retail-packages"),
    path(
        "retail-packages/<id:package_id>",
        commercial.RetailPackageItem.as_view(),
        name="retail-package",
    ),
    path("user-groups", commercial.UserGroupCollection.as_view(), name="user-groups"),
    path("user-groups/<id:group_id>", commercial.UserGroupItem.as_view(), name="user-group"),
    path("cpo-contracts", commercial.CpoContractCollection.as_view(), name="cpo-contracts"),
    path(
        "cpo-contracts/<id:cpo_contract_id>",
        commercial.CpoContractItem.as_view(),
        name="cpo-contract",
    ),
    path(
        "cpo-contracts/<id:cpo_contract_id>/versions",
        commercial.CpoContractVersionCreate.as_view(),
        name="cpo-contract-versions",
    ),
    path("payees", commercial.PayeeCollection.as_view(), name="payees"),
    path("payees/<id:payee_id>", commercial.PayeeItem.as_view(), name="payee"),
    path(
        "charge-stations/<id:station_id>/payee",
        commercial.StationPayeeView.as_view(),
        name="charge-station-payee",
    ),
    path("hcc-flags", commercial.HccFlagsView.as_view(), name="hcc-flags"),
    # rated lines and the settlement report (read only)
    path(
        "cdrs/<id:cdr_id>/rated-lines", rating.CdrRatedLinesView.as_view(), name="cdr-rated-lines"
    ),
    path("rated-lines", rating.RatedLineListView.as_view(), name="rated-lines"),
    path("settlement-report", rating.SettlementReportView.as_view(), name="settlement-report"),
    # billing runs, invoicing settings, billing profiles (issue 18, area "runs")
    path("billing-runs", invoicing_runs.BillingRunCollection.as_view(), name="billing-runs"),
    path("billing-runs/<id:run_id>", invoicing_runs.BillingRunItem.as_view(), name="billing-run"),
    path(
        "invoicing-settings",
        invoicing_runs.InvoicingSettingsView.as_view(),
        name="invoicing-settings",
    ),
    path(
        "billing-profiles",
        invoicing_runs.BillingProfileCollection.as_view(),
        name="billing-profiles",
    ),
    # the eMSP view: the tenant's drivers at other marketplace tenants' stations (ADR 0027)
    path("emsp/sessions", charging.EmspSessionListView.as_view(), name="emsp-sessions"),
    path(
        "emsp/sessions/<id:session_id>",
        charging.EmspSessionGetView.as_view(),
        name="emsp-session",
    ),
    path("emsp/cdrs", charging.EmspCdrListView.as_view(), name="emsp-cdrs"),
    path("emsp/cdrs/<id:cdr_id>", charging.EmspCdrGetView.as_view(), name="emsp-cdr"),
    # webhooks
    path("webhooks", webhooks.WebhookCollection.as_view(), name="webhooks"),
    path("webhooks/<id:webhook_id>", webhooks.WebhookItem.as_view(), name="webhook"),
    path("webhooks/<id:webhook_id>/test", webhooks.WebhookTestView.as_view(), name="webhook-test"),
    path(
        "webhooks/<id:webhook_id>/deliveries",
        webhooks.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    # invoices, self-billing statements and credit notes (issue 18, area "docs")
    path("documents", invoicing_documents.DocumentCollection.as_view(), name="documents"),
    path("documents/<id:document_id>", invoicing_documents.DocumentItem.as_view(), name="document"),
    path(
        "documents/<id:document_id>/finalize",
        invoicing_documents.DocumentFinalizeView.as_view(),
        name="document-finalize",
    ),
    path(
        "documents/<id:document_id>/discard",
        invoicing_documents.DocumentDiscardView.as_view(),
        name="document-discard",
    ),
    path(
        "documents/<id:document_id>/credit-notes",
        invoicing_documents.CreditNoteCreateView.as_view(),
        name="document-credit-notes",
    ),
    # invoicing, area "files" (issue 18): a document's files and deliveries
    path(
        "documents/<id:document_id>/pdf",
        invoicing_files.DocumentPdfView.as_view(),
        name="document-pdf",
    ),
    path(
        "documents/<id:document_id>/ubl",
        invoicing_files.DocumentUblView.as_view(),
        name="document-ubl",
    ),
    path(
        "documents/<id:document_id>/cii",
        invoicing_files.DocumentCiiView.as_view(),
        name="document-cii",
    ),
    path(
        "documents/<id:document_id>/deliveries",
        invoicing_files.DocumentDeliveryCollection.as_view(),
        name="document-deliveries",
    ),
    # the finance export (issue 18, area "finance"; ADR 0039)
    path("finance/gl-mappings", finance_views.GlMappingCollection.as_view(), name="gl-mappings"),
    path("finance/exclusions", finance_views.ExclusionCollection.as_view(), name="exclusions"),
    path(
        "finance/exclusions/<id:exclusion_id>/retire",
        finance_views.ExclusionRetireView.as_view(),
        name="exclusion-retire",
    ),
    path("finance/adjustments", finance_views.AdjustmentCollection.as_view(), name="adjustments"),
    path("finance/preview", finance_views.PreviewView.as_view(), name="finance-preview"),
    path("export-batches", finance_views.ExportBatchCollection.as_view(), name="export-batches"),
    path(
        "export-batches/<id:batch_id>", finance_views.ExportBatchItem.as_view(), name="export-batch"
    ),
    path(
        "export-batches/<id:batch_id>/files/<str:kind>",
        finance_views.ExportFileView.as_view(),
        name="export-batch-file",
    ),
]
