"""The platform's CDRs as OCPI 2.2.1 objects (issue 15, item 9): how the session was
authorised, signed meter values as OCPI SignedData, the platform's notes beside the object;
CDRs written before stay as written and the API leaves their notes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging import api as charging_api
from apps.charging.contracts import EventKind, MeterSampleIn, TransactionEventIn
from apps.charging.models import Cdr, ChargingSession
from apps.charging.services import processing
from tests.integration.test_transaction_processing import record
from tests.journey_fixtures import assert_valid_ocpi_cdr

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TXID = "tx-shape"


def ev(st: Any, kind: EventKind, seq: int, minutes: int, **kw: Any) -> TransactionEventIn:
    return TransactionEventIn(
        tenant_id=st.tenant_id,
        station_id=st.pk,
        kind=kind,
        idempotency_key=f"k{seq}",
        protocol="2.0.1",
        action="TransactionEvent",
        station_timestamp=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(minutes=minutes, seconds=1),
        ocpp_transaction_id=TXID,
        evse_ocpp_id=1,
        seq_no=seq,
        **kw,
    )


def signed(minutes: int, wh: int, value: str, context: str) -> MeterSampleIn:
    return MeterSampleIn(
        timestamp=T0 + timedelta(minutes=minutes),
        energy_wh=Decimal(wh),
        signed_data=value,
        context=context,
    )


@pytest.mark.parametrize("runs", ["one run", "a run per event"])
def test_the_method_comes_from_the_first_event_that_says_it_and_signed_values_are_ocpi(
    runs: str, station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """2.0.1: the transaction starts on the cable (no token, no method); the token follows,
    after an Authorize we accepted (AUTH_REQUEST); a later event's other method is not taken.
    Whichever way the worker's runs split the events, the same session and CDR."""
    st = station["station"]
    events = [
        ev(
            st,
            EventKind.STARTED,
            0,
            0,
            meter_wh=Decimal(0),
            samples=(signed(0, 0, "EDL40|begin", "Transaction.Begin"),),
        ),
        ev(
            st,
            EventKind.UPDATED,
            1,
            10,
            id_tag="04AA11BB22CC33",
            auth_method="AUTH_REQUEST",
            samples=(signed(10, 4000, "EDL40|mid", "Sample.Periodic"),),
        ),
        ev(st, EventKind.UPDATED, 2, 20, id_tag="04AA11BB22CC33", auth_method="WHITELIST"),
        ev(
            st,
            EventKind.ENDED,
            3,
            30,
            meter_wh=Decimal(9000),
            samples=(signed(30, 9000, "EDL40|end", "Transaction.End"),),
        ),
    ]
    if runs == "one run":
        record(events, django_capture_on_commit_callbacks)
        processing.transaction_process(station_id=st.pk, ocpp_transaction_id=TXID)
    else:
        for e in events:
            record([e], django_capture_on_commit_callbacks)
            processing.transaction_process(station_id=st.pk, ocpp_transaction_id=TXID)
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=TXID)
    assert (session.auth_method, session.authorization_reference) == ("AUTH_REQUEST", "")
    assert charging_api.session_get(tenant_id=st.tenant_id, session_id=session.pk).auth_method == (
        "AUTH_REQUEST"
    )
    cdr = Cdr.objects.get(session=session)
    assert cdr.data["auth_method"] == "AUTH_REQUEST"
    assert "authorization_reference" not in cdr.data
    # Not OCMF: the values verbatim, their nature from the OCPP reading context.
    assert cdr.data["signed_data"] == {
        "encoding_method": "UNKNOWN",
        "signed_values": [
            {"nature": "Start", "plain_data": "", "signed_data": "EDL40|begin"},
            {"nature": "Intermediate", "plain_data": "", "signed_data": "EDL40|mid"},
            {"nature": "End", "plain_data": "", "signed_data": "EDL40|end"},
        ],
    }
    assert cdr.annotations == {
        "time_zone": session.time_zone,
        "meter_start_wh": "0.000",
        "meter_stop_wh": "9000.000",
        "ocpp_transaction_id": TXID,
        "pricing": cdr.annotations["pricing"],
    }
    assert_valid_ocpi_cdr(cdr)


def test_a_remote_start_names_its_command(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    st = station["station"]
    record(
        [
            ev(
                st,
                EventKind.STARTED,
                0,
                0,
                id_tag="04AA11BB22CC33",
                meter_wh=Decimal(0),
                auth_method="COMMAND",
                authorization_reference="4711",
            ),
            ev(st, EventKind.ENDED, 1, 30, meter_wh=Decimal(9000)),
        ],
        django_capture_on_commit_callbacks,
    )
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id=TXID)
    cdr = Cdr.objects.get()
    assert (cdr.data["auth_method"], cdr.data["authorization_reference"]) == ("COMMAND", "4711")
    assert "signed_data" not in cdr.data or cdr.data["signed_data"] is None
    assert_valid_ocpi_cdr(cdr)


def _one_session_cdr(st: Any, capture: Any) -> Cdr:
    """One 1.x session (9 kWh, 30 minutes) processed to its CDR."""
    record(
        [
            ev(st, EventKind.STARTED, 0, 0, id_tag="04AA11BB22CC33", meter_wh=Decimal(0)),
            ev(st, EventKind.ENDED, 1, 30, meter_wh=Decimal(9000)),
        ],
        capture,
    )
    processing.transaction_process(station_id=st.pk, ocpp_transaction_id=TXID)
    return Cdr.objects.get()


def _old_row(new: Cdr, data: dict[str, Any]) -> Cdr:
    """A CDR row as the code before annotations wrote it, next to `new` (a credit-and-rebill
    would not be allowed to change it; the OCPI id differs and a credit CDR may share the
    session)."""
    return Cdr.objects.create(
        tenant_id=new.tenant_id,
        party_id=new.party_id,
        ocpi_id="CDR-OLD",
        kind="CREDIT",
        credits=new,
        session=new.session,
        start_date_time=new.start_date_time,
        end_date_time=new.end_date_time,
        currency="EUR",
        total_cost_excl_vat=Decimal("0"),
        total_energy_kwh=Decimal("0"),
        total_time_hours=Decimal("0"),
        data=data,
    )


def test_cdrs_written_before_stay_as_written_and_the_api_leaves_their_notes_out(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """A CDR of the old shape (notes inside the OCPI object, no annotations) as a row."""
    st = station["station"]
    new = _one_session_cdr(st, django_capture_on_commit_callbacks)
    assert new.data["auth_method"] == "WHITELIST"  # the start said nothing (old events)
    notes = {**new.annotations, "meter_start_wh": "0.000"}
    old_data = {**new.data, **notes}
    old_data["cdr_location"] = {
        k: v
        for k, v in old_data["cdr_location"].items()
        if k not in ("evse_id", "connector_format")
    }
    old = _old_row(new, old_data)
    shown = charging_api.cdr_object(charging_api.cdr_get(tenant_id=st.tenant_id, cdr_id=old.pk))
    assert not set(shown) & {"time_zone", "meter_start_wh", "meter_stop_wh", "pricing"}
    assert "ocpp_transaction_id" not in shown
    assert shown["cdr_location"] == old_data["cdr_location"]  # nothing invented
    old.refresh_from_db()
    assert old.data == simplejson_roundtrip(old_data) and old.annotations is None
    # The portal still finds the pricing result of an old row inside its object.
    detail = charging_api.session_detail(tenant_id=st.tenant_id, session_id=new.session_id)
    assert detail.charging_periods == tuple(new.annotations["pricing"]["charging_periods"])


def simplejson_roundtrip(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


def test_the_portal_shows_the_priced_periods_of_new_and_old_cdrs(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from django.urls import reverse

    from tests.factories import MembershipFactory, UserFactory
    from tests.portal.world import signed_in_client

    st = station["station"]
    new = _one_session_cdr(st, django_capture_on_commit_callbacks)
    # The old shape: the pricing result inside the OCPI object.
    old = _old_row(new, {**new.data, "pricing": new.annotations["pricing"]})
    user = UserFactory(username="finance@shape.test", email="finance@shape.test")
    MembershipFactory(user=user, tenant=st.tenant, role="finance")
    client = signed_in_client(user)
    # 9 kWh at 0.30 = 2.70 excl (the ENERGY row of the one period, 09:00-09:30).
    row = '<td>ENERGY</td><td class="num">9</td>'
    for cdr in (new, old):
        page = client.get(reverse("portal:cdr", args=[st.tenant.slug, cdr.pk])).content.decode()
        assert "09:00:00–09:30:00" in page and row in page, cdr.ocpi_id
