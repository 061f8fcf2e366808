"""Two tenants with everything the portal shows, and users in every role."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.charging.models import Cdr, ChargingSession, MeterValue, ReviewFlag
from apps.common.json import DecimalJSONEncoder
from apps.rating.models import BillingRule, BillingRuleVersion
from billing import pricing
from tests.factories import (
    ChargeStationFactory,
    ConnectorFactory,
    ContractFactory,
    CustomerFactory,
    EmspFactory,
    EvseFactory,
    LocationFactory,
    MembershipFactory,
    OperatorFactory,
    PartyFactory,
    TariffAssignmentFactory,
    TariffCodeFactory,
    TariffFactory,
    TariffVersionFactory,
    TokenFactory,
    UserFactory,
)

PASSWORD = "correct horse battery staple"
ROLES = ["platform_admin", "cpo_admin", "emsp_admin", "finance", "support"]

TARIFF = {
    "country_code": "NL",
    "party_id": "AAA",
    "id": "T-A",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": Decimal("0.50"), "vat": Decimal("21"), "step_size": 1},
                {"type": "ENERGY", "price": Decimal("0.25"), "vat": Decimal("21"), "step_size": 1},
            ]
        }
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


@dataclass
class Tenant:
    operator: Any
    party: Any
    emsp: Any
    location: Any
    station: Any
    evse: Any
    connector: Any
    tariff: Any
    code: Any
    token: Any
    customer: Any
    session: Any
    cdr: Any
    flag: Any
    users: dict[str, Any] = field(default_factory=dict)
    rule: Any = None  # a wholesale billing rule (apps.rating.models.BillingRule)
    partner: Any = None


def price_cdr(session: ChargingSession, party: Any, tariff_ocpi: dict[str, Any]) -> Cdr:
    """A CDR priced by the pricing core, as the worker writes it."""
    tariff = pricing.parse_tariff(tariff_ocpi)
    start, end = session.started_at, session.ended_at
    wh = session.energy_wh
    samples = [
        pricing.MeterSample(
            timestamp=start, energy_wh=Decimal(0), state=pricing.ChargingState.CHARGING
        ),
        pricing.MeterSample(timestamp=end, energy_wh=wh, state=pricing.ChargingState.CHARGING),
    ]
    periods = pricing.split_session(
        tariff=tariff, samples=samples, time_zone="Europe/Amsterdam", start=start, end=end
    )
    result = pricing.price_session(
        tariff=tariff,
        session=pricing.SessionInput(
            start=start, end=end, time_zone="Europe/Amsterdam", charging_periods=periods
        ),
    )
    cdr = Cdr(
        tenant_id=session.tenant_id,
        party=party,
        ocpi_id=f"CDR{session.pk:010d}",
        session=session,
        start_date_time=start,
        end_date_time=end,
        currency="EUR",
        total_energy_kwh=result.total_energy,
        total_time_hours=Decimal(result.total_time_seconds) / 3600,
        data={
            "id": f"CDR{session.pk:010d}",
            "cdr_location": {"name": "Car park", "evse_uid": "E1", "connector_id": "1"},
            "cdr_token": {"uid": "TOKEN"},
        },
        annotations={"time_zone": "Europe/Amsterdam", "pricing": pricing.result_to_ocpi(result)},
    )
    t = result.totals
    for name in (
        "cost",
        "fixed_cost",
        "energy_cost",
        "time_cost",
        "parking_cost",
        "reservation_cost",
    ):
        amount = getattr(t, f"total_{name}")
        setattr(cdr, f"total_{name}_excl_vat", amount.excl_vat)
        setattr(cdr, f"total_{name}_incl_vat", amount.incl_vat)
    cdr.save()
    return cdr


def make_tenant(slug: str, party_code: str, *, now: datetime) -> Tenant:
    op = OperatorFactory(slug=slug, name=f"Tenant {slug.upper()}")
    party = PartyFactory(tenant=op, party_id=party_code, name=f"CPO {party_code}")
    emsp = EmspFactory(tenant=op, party_id=party_code[::-1])
    location = LocationFactory(party=party, tenant=op, name=f"Car park {slug}")
    station = ChargeStationFactory(
        location=location,
        tenant=op,
        identity=f"{slug.upper()}-STATION-1",
        connectivity="online",
        last_seen_at=now,
    )
    evse = EvseFactory(
        charge_station=station, location=location, tenant=op, uid=f"{slug}-E1", status="AVAILABLE"
    )
    connector = ConnectorFactory(evse=evse, tenant=op)
    ocpi = {**TARIFF, "party_id": party_code, "id": f"T-{slug.upper()}"}
    tariff = TariffFactory(party=party, tenant=op, ocpi_id=ocpi["id"], name=f"Tariff {slug}")
    TariffVersionFactory(
        tariff=tariff, tenant=op, version=1, ocpi=ocpi, effective_from=now - timedelta(days=60)
    )
    code = TariffCodeFactory(tariff=tariff, tenant=op, code=f"STD-{slug.upper()}")
    TariffAssignmentFactory(
        charge_station=station, tenant=op, tariff_code=code, effective_from=now - timedelta(days=60)
    )
    token = TokenFactory(party=emsp, tenant=op, uid=f"{slug.upper()}TOKEN01")
    customer = CustomerFactory(party=emsp, tenant=op, name=f"Driver of {slug}")
    ContractFactory(customer=customer, tenant=op, token=token)
    started = now - timedelta(hours=3)
    session = ChargingSession.objects.create(
        tenant=op,
        charge_station=station,
        evse=evse,
        connector=connector,
        token=token,
        id_tag=token.uid,
        ocpp_transaction_id="1001",
        status="COMPLETED",
        started_at=started,
        ended_at=started + timedelta(hours=1),
        meter_start_wh=Decimal(1000),
        meter_stop_wh=Decimal(11000),
        energy_wh=Decimal(10000),
        time_zone="Europe/Amsterdam",
        currency="EUR",
        tariff_snapshot=json.loads(json.dumps(ocpi, cls=DecimalJSONEncoder)),
    )
    for i in range(5):
        MeterValue.objects.create(
            tenant=op,
            session=session,
            timestamp=started + timedelta(minutes=15 * i),
            energy_wh=Decimal(1000 + 2500 * i),
            power_w=Decimal(10000),
            source_index=i,
        )
    cdr = price_cdr(session, party, ocpi)
    flag = ReviewFlag.objects.create(
        tenant=op,
        charge_station=station,
        ocpp_transaction_id="9999",
        reason="UNKNOWN_TRANSACTION",
        details={"id_tag": "X"},
    )
    users = {}
    for role in ROLES:
        user = UserFactory(username=f"{role}@{slug}.test", email=f"{role}@{slug}.test")
        MembershipFactory(user=user, tenant=op, role=role)
        users[role] = user
    # A roaming eMSP every tenant knows as a partner (ADR 0027).
    partner = EmspFactory(
        tenant=op, country_code="DE", party_id="RMG", name="Roaming GmbH", kind="PARTNER"
    )
    tenant = Tenant(
        op,
        party,
        emsp,
        location,
        station,
        evse,
        connector,
        tariff,
        code,
        token,
        customer,
        session,
        cdr,
        flag,
        users,
        partner=partner,
    )
    # Written directly (as data, not through the service) so the world has no audit entry.
    tenant.rule = BillingRule.objects.create(
        tenant=op, engine="WHOLESALE", name=f"Every session of {slug}"
    )
    BillingRuleVersion.objects.create(
        tenant=op,
        rule=tenant.rule,
        version=1,
        effective_from=now - timedelta(days=60),
        tariff=tariff,
        cpo_scope="ANY",
        emsp_scope="ANY",
    )
    return tenant


def signed_in_client(user: Any, client: Client | None = None) -> Client:
    """A client whose session passed both factors (the sign-in views are tested apart)."""
    client = client or Client()
    device = TOTPDevice.objects.filter(
        user=user, confirmed=True
    ).first() or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session["portal_auth_at"] = time.time()
    session["portal_seen_at"] = time.time()
    session.save()
    return client


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def add_rows(t: Tenant, n: int) -> None:
    """n more of every listed thing in tenant `t` (query-count checks)."""
    at = now()
    for i in range(n):
        location = LocationFactory(party=t.party, tenant=t.operator)
        station = ChargeStationFactory(location=location, tenant=t.operator, connectivity="online")
        evse = EvseFactory(charge_station=station, location=location, tenant=t.operator)
        connector = ConnectorFactory(evse=evse, tenant=t.operator)
        tariff = TariffFactory(party=t.party, tenant=t.operator)
        TariffVersionFactory(tariff=tariff, tenant=t.operator, version=1)
        TariffCodeFactory(tariff=tariff, tenant=t.operator)
        token = TokenFactory(party=t.emsp, tenant=t.operator)
        customer = CustomerFactory(party=t.emsp, tenant=t.operator)
        ContractFactory(customer=customer, tenant=t.operator, token=token)
        started = at - timedelta(hours=5 + i)
        session = ChargingSession.objects.create(
            tenant=t.operator,
            charge_station=station,
            evse=evse,
            connector=connector,
            token=token,
            id_tag=token.uid,
            ocpp_transaction_id=str(2000 + i),
            status="COMPLETED",
            started_at=started,
            ended_at=started + timedelta(hours=1),
            meter_start_wh=Decimal(0),
            meter_stop_wh=Decimal(5000),
            energy_wh=Decimal(5000),
            time_zone="Europe/Amsterdam",
            currency="EUR",
        )
        price_cdr(session, t.party, {**TARIFF, "party_id": t.party.party_id})
        ReviewFlag.objects.create(
            tenant=t.operator,
            charge_station=station,
            ocpp_transaction_id=str(3000 + i),
            reason="CLOCK_SKEW",
        )
        from apps.parties.models import AuditEntry

        AuditEntry.objects.create(tenant=t.operator, action="x", object_type="y", object_id=i)
