"""A session flagged NO_TARIFF by the real pipeline becomes a CDR after the operator assigns a
tariff and re-prices it from the queue; nothing is priced twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from apps.charging import api as charging_api
from apps.charging.contracts import EventKind, TransactionEventIn
from apps.charging.models import Cdr, ChargingSession, ReviewFlag
from apps.charging.services import processing
from apps.parties.models import AuditEntry
from tests.factories import (
    ConnectorFactory,
    MembershipFactory,
    PartyFactory,
    TariffCodeFactory,
    TariffVersionFactory,
    UserFactory,
)
from tests.journey_fixtures import TARIFF
from tests.portal.world import signed_in_client

pytestmark = pytest.mark.django_db
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _event(st: Any, kind: EventKind, key: str, minutes: int, **kw: Any) -> TransactionEventIn:
    return TransactionEventIn(
        tenant_id=st.tenant_id,
        station_id=st.pk,
        kind=kind,
        idempotency_key=key,
        protocol="1.6",
        action=kind.value,
        station_timestamp=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(minutes=minutes),
        **kw,
    )


def test_reprice_a_no_tariff_session(django_capture_on_commit_callbacks: Any) -> None:
    connector = ConnectorFactory()
    st = connector.evse.charge_station
    with django_capture_on_commit_callbacks(execute=False):
        (started,) = charging_api.transaction_events_record(
            events=[_event(st, EventKind.STARTED, "s", 0, evse_ocpp_id=1, meter_wh=Decimal(0))]
        )
        txid = started.ocpp_transaction_id
        charging_api.transaction_events_record(
            events=[
                _event(
                    st, EventKind.ENDED, "e", 60, ocpp_transaction_id=txid, meter_wh=Decimal(10000)
                )
            ]
        )
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id=txid)
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    flag = ReviewFlag.objects.get(session=session, reason="NO_TARIFF")
    assert not Cdr.objects.filter(session=session).exists()

    user = UserFactory()
    MembershipFactory(user=user, tenant=st.tenant, role="finance")
    client = signed_in_client(user)
    slug = st.tenant.slug
    url = reverse("portal:flag_action", args=[slug, flag.pk, "reprice"])
    # Still no tariff: refused, and it says what to do.
    page = client.get(client.post(url)["Location"]).content.decode()
    assert "assign a tariff code to the station" in page
    # The CPO assigns a tariff now (future sessions only), finance re-prices.
    version = TariffVersionFactory(
        tariff__party=PartyFactory(tenant=st.tenant),
        tenant=st.tenant,
        ocpi=TARIFF,
        effective_from=datetime(2020, 1, 1, tzinfo=UTC),
    )
    code = TariffCodeFactory(tariff=version.tariff, tenant=st.tenant)
    admin = UserFactory()
    MembershipFactory(user=admin, tenant=st.tenant, role="cpo_admin")
    signed_in_client(admin).post(
        reverse("portal:station_assign", args=[slug, st.pk]), {"tariff_code": code.code}
    )
    page = client.get(client.post(url)["Location"]).content.decode()
    assert "CDR written, no tariff was in force at session start: priced with today" in page
    cdr = Cdr.objects.get(session=session)
    assert cdr.total_energy_kwh == Decimal("10.0000")
    assert cdr.total_cost_excl_vat == Decimal("3.50")  # 10 kWh x 0.30 + 0.50 start
    flag.refresh_from_db()
    assert flag.status == "RESOLVED"
    assert AuditEntry.objects.filter(action="flag.reprice", actor=user).count() == 1
    # Once resolved, the flag cannot be re-priced again: still one CDR.
    client.post(url)
    assert Cdr.objects.filter(session=session).count() == 1
