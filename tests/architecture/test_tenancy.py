"""Every tenant-owned table carries its tenant; cross-app foreign keys are few and listed."""

from __future__ import annotations

from django.apps import apps
from django.db import models

DOMAIN_APPS = {
    "parties",
    "locations",
    "tokens",
    "tariffs",
    "customers",
    "charging",
    "rating",
    "invoicing",
    "integrations",
    "devices",
    "roaming",
}

# Platform-wide tables: the tenant itself and the people who may belong to several tenants.
NOT_TENANT_OWNED = {
    "parties.Operator",
    "parties.User",
    "parties.SignInLock",  # failed sign-ins per user name, before any tenant is known
}

# Every foreign key from one domain app to another, besides `tenant`. Adding one is a design
# decision: add it here with a reason, in the same change.
ALLOWED_CROSS_APP_FKS = {
    "locations.Location.party -> parties.Party",  # the CPO that runs the location
    "tokens.Token.party -> parties.Party",  # the issuing eMSP
    # Access control (ADR 0015): a charge station in a charge-port group.
    "tokens.ChargePortGroupStation.charge_station -> locations.ChargeStation",
    "customers.Customer.party -> parties.Party",  # the eMSP serving the customer
    "customers.Contract.token -> tokens.Token",  # a contract covers a token
    "tariffs.Tariff.party -> parties.Party",  # the CPO that owns the tariff
    "tariffs.TariffVersion.created_by -> parties.User",  # who changed the price
    "tariffs.TariffCodeImport.created_by -> parties.User",  # who uploaded the CSV
    "tariffs.TariffAssignment.charge_station -> locations.ChargeStation",
    "tariffs.TariffAssignment.connector -> locations.Connector",
    "charging.ChargingSession.charge_station -> locations.ChargeStation",
    "charging.ChargingSession.evse -> locations.Evse",
    "charging.ChargingSession.connector -> locations.Connector",
    "charging.ChargingSession.token -> tokens.Token",
    "charging.ChargingSession.tariff_version -> tariffs.TariffVersion",  # frozen at start
    "charging.Cdr.party -> parties.Party",  # the CPO issuing the CDR
    "charging.Cdr.tariff_version -> tariffs.TariffVersion",
    # Who a CDR / session is billed to (ADR 0027): the token, the eMSP as the CPO tenant knows
    # it, the eMSP tenant (the marketplace), the contract and customer in force at the start.
    "charging.ChargingSession.emsp_party -> parties.Party",
    "charging.ChargingSession.emsp_tenant -> parties.Operator",
    "charging.Cdr.token -> tokens.Token",
    "charging.Cdr.emsp_party -> parties.Party",
    "charging.Cdr.emsp_tenant -> parties.Operator",
    "charging.Cdr.contract -> customers.Contract",
    "charging.Cdr.customer -> customers.Customer",
    # Rating (ADR 0027): contracts with CPO parties, payees on stations, rules' tariffs,
    # rated lines of a CDR between parties, payees, customers and tenants.
    "rating.CpoContract.party -> parties.Party",
    "rating.CpoContractVersion.created_by -> parties.User",
    "rating.PayeeAssignment.charge_station -> locations.ChargeStation",
    "rating.BillingRuleVersion.tariff -> tariffs.Tariff",
    "rating.BillingRuleVersion.created_by -> parties.User",
    "rating.RatedLine.cdr -> charging.Cdr",
    "rating.RatedLine.seller_party -> parties.Party",
    "rating.RatedLine.buyer_party -> parties.Party",
    "rating.RatedLine.buyer_customer -> customers.Customer",
    "rating.RatedLine.buyer_tenant -> parties.Operator",
    "rating.RatedLine.tariff_version -> tariffs.TariffVersion",
    "rating.RatingFlag.cdr -> charging.Cdr",
    # Invoicing (ADR 0035): documents bill rated lines of CDRs to customers, parties and
    # payees; the finance export remembers which rated lines it exported.
    "invoicing.BillingProfile.customer -> customers.Customer",
    "invoicing.BillingProfile.party -> parties.Party",
    "invoicing.BillingProfile.payee -> rating.Payee",
    "invoicing.BillingRun.started_by -> parties.User",
    "invoicing.Document.buyer_customer -> customers.Customer",
    "invoicing.Document.buyer_party -> parties.Party",
    "invoicing.Document.payee -> rating.Payee",
    "invoicing.Document.buyer_tenant -> parties.Operator",
    "invoicing.DocumentLine.rated_line -> rating.RatedLine",
    "invoicing.DocumentLine.cdr -> charging.Cdr",
    "invoicing.CdrRecord.cdr -> charging.Cdr",
    "invoicing.FinanceAdjustment.author -> parties.User",
    "invoicing.ExportedLine.rated_line -> rating.RatedLine",
    "invoicing.ExportedLine.cdr -> charging.Cdr",
    "charging.OcppEvent.charge_station -> locations.ChargeStation",  # who sent the message
    "charging.StatusEvent.charge_station -> locations.ChargeStation",
    "charging.TransactionIdAllocation.charge_station -> locations.ChargeStation",
    "charging.ReviewFlag.charge_station -> locations.ChargeStation",
    # What a station reported about itself (firmware, security, device model, CSRs).
    "devices.StationEvent.charge_station -> locations.ChargeStation",
    "devices.DeviceState.charge_station -> locations.ChargeStation",
    "devices.DeviceVariable.charge_station -> locations.ChargeStation",
    "devices.CertificateRequest.charge_station -> locations.ChargeStation",
    # OCPI (ADR 0040): a partner platform's role is the tenant's PARTNER party; a connection
    # that may not see every location lists the ones it may.
    "roaming.OcpiPartyRole.partner -> parties.Party",
    "roaming.OcpiPublishedLocation.location -> locations.Location",
}


def _domain_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m._meta.app_label in DOMAIN_APPS]


def test_every_domain_table_carries_its_tenant() -> None:
    operator = apps.get_model("parties", "Operator")
    missing = []
    for model in _domain_models():
        if model._meta.label in NOT_TENANT_OWNED:
            continue
        field = next((f for f in model._meta.fields if f.name == "tenant"), None)
        if field is None or field.related_model is not operator:
            missing.append(model._meta.label)
    assert missing == []


def test_cross_app_foreign_keys_are_exactly_the_listed_ones() -> None:
    found = set()
    for model in _domain_models():
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete) or field.name == "tenant":
                continue
            target = field.related_model
            if target is None or target._meta.app_label not in DOMAIN_APPS:
                continue
            if target._meta.app_label == model._meta.app_label:
                continue
            found.add(f"{model._meta.label}.{field.name} -> {target._meta.label}")
    assert found == ALLOWED_CROSS_APP_FKS
