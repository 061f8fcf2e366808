"""Two gateway nodes store the same message at the same moment (a station that reconnected
to another node and resent it): one row, one transaction id, both callers answered."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from apps.charging import api as charging_api
from apps.charging.contracts import EventKind, TransactionEventIn
from apps.charging.models import OcppEvent, TransactionIdAllocation


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_start_stored_by_two_nodes_at_once(station: dict[str, Any]) -> None:
    st = station["station"]
    start = TransactionEventIn(
        tenant_id=st.tenant_id,
        station_id=st.pk,
        kind=EventKind.STARTED,
        idempotency_key="same-start",
        protocol="1.6",
        action="StartTransaction",
        station_timestamp=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        received_at=datetime(2026, 11, 20, 9, 0, 1, tzinfo=UTC),
        evse_ocpp_id=1,
        meter_wh=Decimal(0),
    )
    barrier = threading.Barrier(4)
    results: list[Any] = []
    published: list[Any] = []
    errors: list[BaseException] = []

    def node() -> None:
        try:
            barrier.wait(10)
            # Publish nothing: a worker process from another test would otherwise process the
            # events while the test database is being truncated (a teardown deadlock).
            results.extend(
                charging_api.transaction_events_record(events=[start], enqueue=published.extend)
            )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=node) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len({r.ocpp_transaction_id for r in results}) == 1
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert OcppEvent.objects.filter(charge_station=st).count() == 1
    assert TransactionIdAllocation.objects.filter(charge_station=st).count() == 1
    assert len(published) == 1  # only the node that stored it asks for processing
