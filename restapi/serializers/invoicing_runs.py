"""Billing runs, invoicing settings and billing profiles on the REST API (scope `invoices`)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.invoicing.contracts import (
    BillingRunRef,
    CounterpartyKind,
    Frequency,
    RunDocumentRow,
    RunStatus,
)
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, money

FREQUENCIES = [f.value for f in Frequency]
LANGUAGES = ["en", "nl", "de", "fr"]


class BillingRunListQuery(PageQuery):
    status = serializers.ChoiceField(choices=[s.value for s in RunStatus], required=False)


class BillingRunIn(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=FREQUENCIES, default=Frequency.MONTHLY.value)
    period_start = serializers.DateField(
        help_text="a day of the period (the tenant's timezone); the run covers the whole "
        "MONTHLY month, WEEKLY ISO week or DAILY day containing it, which must have ended"
    )


class RunDocumentOut(serializers.Serializer):
    id = serializers.IntegerField()
    doc_type = serializers.CharField()
    status = serializers.CharField()
    number = serializers.CharField(help_text="empty while a draft")
    counterparty_kind = serializers.CharField()
    buyer_name = serializers.CharField()
    seller_name = serializers.CharField()
    currency = serializers.CharField()
    net_total = money()
    vat_total = money()
    total = money()
    line_count = serializers.IntegerField()
    has_late_section = serializers.BooleanField()


class BillingRunOut(serializers.Serializer):
    """A billing run and its progress: `groups_done` of `groups_total` documents made."""

    id = serializers.IntegerField()
    frequency = serializers.CharField()
    period_start = serializers.DateTimeField(help_text="UTC instant of the local midnight")
    period_end = serializers.DateTimeField(help_text="exclusive")
    trigger = serializers.CharField(help_text="SCHEDULE or MANUAL")
    status = serializers.CharField(help_text="QUEUED, RUNNING, DONE or FAILED")
    groups_total = serializers.IntegerField()
    groups_done = serializers.IntegerField()
    percent = serializers.IntegerField()
    documents_created = serializers.IntegerField()
    lines_billed = serializers.IntegerField()
    started_by = serializers.CharField(source="actor_name")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()


class BillingRunDetailOut(BillingRunOut):
    documents = RunDocumentOut(many=True, help_text="the documents it made (first 500)")


def run_out(run: BillingRunRef, documents: list[RunDocumentRow] | None = None) -> dict[str, Any]:
    if documents is None:
        return dict(BillingRunOut(run).data)
    body = dict(BillingRunOut(run).data)
    body["documents"] = RunDocumentOut(documents, many=True).data
    return body


class InvoicingSettingsIn(serializers.Serializer):
    """Fields left out keep their value."""

    legal_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    address = serializers.CharField(max_length=200, allow_blank=True, required=False)
    postal_code = serializers.CharField(max_length=16, allow_blank=True, required=False)
    city = serializers.CharField(max_length=100, allow_blank=True, required=False)
    country = serializers.CharField(max_length=2, allow_blank=True, required=False)
    vat_number = serializers.CharField(max_length=32, allow_blank=True, required=False)
    company_id = serializers.CharField(max_length=64, allow_blank=True, required=False)
    email = serializers.EmailField(allow_blank=True, required=False)
    iban = serializers.CharField(max_length=34, allow_blank=True, required=False)
    bic = serializers.CharField(max_length=11, allow_blank=True, required=False)
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA name")
    default_language = serializers.ChoiceField(choices=LANGUAGES, required=False)
    grace_days = serializers.IntegerField(min_value=0, max_value=60, required=False)
    payment_terms_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    year_in_prefix = serializers.BooleanField(required=False)
    prefix_customer_invoice = serializers.CharField(max_length=16, required=False)
    prefix_emsp_invoice = serializers.CharField(max_length=16, required=False)
    prefix_self_billing = serializers.CharField(max_length=16, required=False)
    prefix_credit_note = serializers.CharField(max_length=16, required=False)


class InvoicingSettingsOut(serializers.Serializer):
    saved = serializers.BooleanField(help_text="false: the defaults (nothing saved yet)")
    legal_name = serializers.CharField()
    address = serializers.CharField()
    postal_code = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()
    vat_number = serializers.CharField()
    company_id = serializers.CharField()
    email = serializers.CharField()
    iban = serializers.CharField()
    bic = serializers.CharField()
    timezone = serializers.CharField()
    default_language = serializers.CharField()
    grace_days = serializers.IntegerField()
    payment_terms_days = serializers.IntegerField()
    year_in_prefix = serializers.BooleanField()
    prefix_customer_invoice = serializers.CharField()
    prefix_emsp_invoice = serializers.CharField()
    prefix_self_billing = serializers.CharField()
    prefix_credit_note = serializers.CharField()


KINDS = [k.value for k in CounterpartyKind]


class BillingProfileListQuery(PageQuery):
    kind = serializers.ChoiceField(choices=KINDS, required=False)


class BillingProfileIn(serializers.Serializer):
    """Creates or replaces the profile of one counterparty of the tenant."""

    kind = serializers.ChoiceField(choices=KINDS, help_text="CUSTOMER, PARTY (eMSP) or PAYEE")
    counterparty_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    frequency = serializers.ChoiceField(choices=FREQUENCIES, default=Frequency.MONTHLY.value)
    language = serializers.ChoiceField(choices=["", *LANGUAGES], default="")
    email = serializers.EmailField(allow_blank=True, default="")
    legal_name = serializers.CharField(max_length=200, allow_blank=True, default="")
    vat_number = serializers.CharField(max_length=32, allow_blank=True, default="")
    address = serializers.CharField(max_length=200, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=16, allow_blank=True, default="")
    city = serializers.CharField(max_length=100, allow_blank=True, default="")
    country = serializers.CharField(max_length=2, allow_blank=True, default="")


class BillingProfileOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    counterparty_id = serializers.IntegerField()
    counterparty_name = serializers.CharField()
    frequency = serializers.CharField()
    language = serializers.CharField()
    email = serializers.CharField()
    legal_name = serializers.CharField()
    vat_number = serializers.CharField()
    address = serializers.CharField()
    postal_code = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()
    updated_at = serializers.DateTimeField()
