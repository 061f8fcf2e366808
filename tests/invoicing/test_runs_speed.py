"""How fast a run drafts (opt-in: RUNS_SPEED_LINES=20000 pytest this file -s): CDRs and
retail rated lines written in bulk, one monthly run, lines per second printed. Skipped by
default (the benchmark proper is bench/bench_invoicing.py)."""

from __future__ import annotations

import cProfile
import os
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.charging.models import Cdr
from apps.customers.models import Customer
from apps.invoicing import api
from apps.invoicing.models import DocumentLine
from apps.rating.models import RatedLine
from tests.invoicing import runs_world as w

LINES = int(os.environ.get("RUNS_SPEED_LINES", "0"))
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not LINES, reason="opt-in: RUNS_SPEED_LINES=<n>"),
]


def test_draft_speed() -> None:
    m = w.market()
    per_customer = 10
    customers = Customer.objects.bulk_create(
        [
            Customer(tenant=m.emsp_tenant, party=m.emsp_party, kind="person", name=f"D{i}")
            for i in range(max(1, LINES // per_customer))
        ]
    )
    data = {"cdr_location": {"name": "Dam", "address": "Dam 1", "city": "A", "evse_id": "E1"}}
    cdrs = Cdr.objects.bulk_create(
        [
            Cdr(
                tenant=m.cpo_tenant,
                party=m.cpo,
                ocpi_id=f"S{i:09d}",
                start_date_time=w.IN_MARCH - timedelta(hours=1),
                end_date_time=w.IN_MARCH + timedelta(seconds=i),
                currency="EUR",
                total_cost_excl_vat=Decimal("2.50"),
                total_energy_kwh=Decimal("10"),
                total_time_hours=Decimal("1"),
                data=data,
                emsp_tenant=m.emsp_tenant,
            )
            for i in range(LINES)
        ],
        batch_size=2000,
    )
    RatedLine.objects.bulk_create(
        [
            RatedLine(
                tenant=m.emsp_tenant,
                cdr=c,
                engine="RETAIL",
                seq=1,
                buyer_customer=customers[i % len(customers)],
                currency="EUR",
                rounding_mode="ROUND_HALF_UP",
                energy_kwh=Decimal("10"),
                energy=Decimal("3.33"),
                total_excl_vat=Decimal("3.33"),
                vat_rate=Decimal("21"),
                vat_source="TARIFF",
                vat=Decimal("0.70"),
                total_incl_vat=Decimal("4.03"),
                created_at=w.IN_MARCH,
            )
            for i, c in enumerate(cdrs)
        ],
        batch_size=2000,
    )
    run_id = api.billing_run_start(
        tenant_id=m.emsp_tenant.pk,
        actor=w.ACTOR,
        frequency="MONTHLY",
        period_start=w.IN_MARCH.date(),
        now=w.AFTER_MARCH,
    )
    started = time.perf_counter()
    if os.environ.get("RUNS_SPEED_PROFILE"):
        cProfile.runctx(
            "api.billing_run_execute(run_id=run_id, now=w.AFTER_MARCH)",
            globals(),
            {"run_id": run_id},
            os.environ["RUNS_SPEED_PROFILE"],
        )
    else:
        api.billing_run_execute(run_id=run_id, now=w.AFTER_MARCH)
    took = time.perf_counter() - started
    run = api.billing_run_get(tenant_id=m.emsp_tenant.pk, run_id=run_id)
    assert run.status == "DONE", run.error
    assert DocumentLine.objects.count() == LINES
    print(
        f"\n{LINES} lines, {run.documents_created} documents in {took:.2f} s: "
        f"{LINES / took:,.0f} lines/s"
    )
