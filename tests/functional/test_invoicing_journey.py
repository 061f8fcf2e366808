"""End to end through a real worker process: a billing run started as the portal and the API
start it (queued on commit) is drafted by the worker; finalizing queues the files, which the
worker renders and stores, then e-mails the documents that have an address. Nothing here calls
a task in-process."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest

from apps.common.contracts import Actor
from apps.invoicing import api as invoicing_api
from apps.invoicing.models import BillingRun, Delivery, Document, DocumentFile
from tests.conftest import wait_for
from tests.invoicing import runs_world as rw

pytestmark = pytest.mark.usefixtures("worker_process")

FINANCE = Actor.system("finance clerk")


def test_a_month_is_drafted_finalized_rendered_and_mailed_by_the_worker(
    transactional_db: None,
) -> None:
    m = rw.market()
    cdr = rw.session(m, ended=rw.IN_MARCH)
    rw.retail(m, cdr, "10.00")  # the eMSP tenant B bills its driver
    rw.reimbursement(m, cdr, "4.00")  # the CPO tenant A pays its charger owner

    runs = {
        tenant.pk: invoicing_api.billing_run_start(
            tenant_id=tenant.pk, actor=FINANCE, frequency="MONTHLY", period_start=date(2026, 3, 1)
        )
        for tenant in (m.emsp_tenant, m.cpo_tenant)
    }
    wait_for(
        lambda: (
            set(BillingRun.objects.filter(pk__in=runs.values()).values_list("status", flat=True))
            == {"DONE"}
        ),
        what="both runs drafted by the worker",
    )
    drafts = {d.doc_type: d for d in Document.objects.filter(billing_run_id__in=runs.values())}
    assert set(drafts) == {"CUSTOMER_INVOICE", "SELF_BILLING"}
    invoice = drafts["CUSTOMER_INVOICE"]
    assert (invoice.tenant_id, invoice.net_total, invoice.vat_total, invoice.total) == (
        m.emsp_tenant.pk,
        Decimal("10.00"),
        Decimal("2.10"),
        Decimal("12.10"),
    )

    for tenant_id, run_id in runs.items():
        invoicing_api.documents_finalize(tenant_id=tenant_id, run_id=run_id, actor=FINANCE)

    ids = [d.pk for d in drafts.values()]
    wait_for(
        lambda: DocumentFile.objects.filter(document_id__in=ids).count() == 6,
        what="PDF, UBL and CII of both documents rendered by the worker",
    )
    for f in DocumentFile.objects.filter(document_id__in=ids):
        assert hashlib.sha256(bytes(f.content)).hexdigest() == f.sha256
    invoice.refresh_from_db()
    assert invoice.status == "FINALIZED" and invoice.number == "INV-2026-000001"
    assert DocumentFile.objects.get(document=invoice, kind="PDF").filename == (
        "INV-2026-000001.pdf"
    )
    # The owner has an e-mail address: the worker sent the statement once.
    statement = drafts["SELF_BILLING"]
    wait_for(
        lambda: Delivery.objects.filter(document=statement, status="SENT").exists(),
        what="the self-billing statement e-mailed by the worker",
    )
    assert list(Delivery.objects.filter(document=statement).values_list("to_email", "status")) == [
        ("olga@example.com", "SENT")
    ]
