"""Two CPOs, two eMSPs, locations with stations, tokens, customers and tariffs.

Loading is idempotent: every row is upserted by its natural key, so running it again changes
nothing (and never duplicates). Writes go through each app's api like any other; those that
are audited (the tokens) name the actor "demo data".
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.common.contracts import Actor
from apps.customers import api as customers
from apps.locations import api as locations
from apps.locations.contracts import SecurityProfile
from apps.parties import api as parties
from apps.parties.contracts import PartnerInput, PartyRole, TenantRole
from apps.tariffs import api as tariffs
from apps.tokens import api as tokens
from apps.tokens.contracts import TokenInput
from demo import billing, history

EPOCH = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
# Who the audit log names for what loading the demo data writes.
DEMO = Actor.system("demo data")

SIMPLE_TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "GFX",
    "id": "STANDARD-AC",
    "currency": "EUR",
    "type": "REGULAR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
            ]
        }
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}

PEAK_TARIFF: dict[str, Any] = {
    "country_code": "DE",
    "party_id": "VYL",
    "id": "PEAK-OFFPEAK",
    "currency": "EUR",
    "type": "REGULAR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": 0.45, "vat": 19.0, "step_size": 1}],
            "restrictions": {"start_time": "17:00", "end_time": "21:00"},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.35, "vat": 19.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 6.00, "vat": 19.0, "step_size": 300},
            ]
        },
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class DemoLocation:
    name: str
    address: str
    postal_code: str
    lat: str
    lon: str


@dataclass(frozen=True)
class DemoCpo:
    slug: str
    name: str
    country: str
    party_id: str
    tariff: dict[str, Any]
    city: str
    country3: str
    time_zone: str
    lat: str  # the city centre
    lon: str
    locations: tuple[DemoLocation, DemoLocation]  # LOC1, LOC2: two stations each


CPOS = [
    DemoCpo(
        "greenflux-demo",
        "GreenCharge NL (CPO)",
        "NL",
        "GFX",
        SIMPLE_TARIFF,
        "Amsterdam",
        "NLD",
        "Europe/Amsterdam",
        "52.3702157",
        "4.8951679",
        (
            DemoLocation("Parking Europaplein", "Europaplein 22", "1078 GZ", "52.3408", "4.8887"),
            DemoLocation("Parking Museumplein", "Museumplein 10", "1071 DJ", "52.3577", "4.8818"),
        ),
    ),
    DemoCpo(
        "vaylens-demo",
        "Voltpark DE (CPO)",
        "DE",
        "VYL",
        PEAK_TARIFF,
        "Berlin",
        "DEU",
        "Europe/Berlin",
        "52.5200066",
        "13.4049540",
        (
            DemoLocation(
                "Parkhaus Alexanderplatz", "Alexanderstraße 9", "10178", "52.5219", "13.4132"
            ),
            DemoLocation("Parkhaus Potsdamer Platz", "Linkstraße 2", "10785", "52.5086", "13.3737"),
        ),
    ),
]
# The id tags `csms_gateway.simulator` presents by default (its DEMO_ID_TAGS).
SIMULATOR_ID_TAGS = ("PPY00000001", "PPY00000002", "PPY00000003", "DRV00000001", "DRV00000002")

EMSPS = [
    ("plugpay-demo", "PlugPay (eMSP)", "NL", "PPY"),
    ("driveon-demo", "DriveOn (eMSP)", "BE", "DRV"),
]
# Each eMSP's five drivers (one card and contract each).
DRIVERS = {
    "PPY": ("Anna de Vries", "Jeroen Bakker", "Sanne Visser", "Pieter Smit", "Lotte Mulder"),
    "DRV": ("Lucas Peeters", "Emma Janssens", "Noah Maes", "Louise Jacobs", "Arthur Willems"),
}


def demo_password(data_dir: Path) -> str:
    """The demo login's password: random per machine, kept in DATA_DIR, never in the source."""
    path = data_dir / "demo-password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def token_contract_id(cpo: DemoCpo, uid: str) -> str:
    """The eMA id (contract id) of a card the CPO's own eMSP role issues: country, provider,
    a 9-character instance made of the card's issuer prefix and number (PPY00000001 ->
    CPPY00001: unique per card, where the number alone is shared by PPY... and DRV...)."""
    return f"{cpo.country}-{cpo.party_id}-C{uid[:3]}{uid[-5:]}-X"


def driver_email(name: str, slug: str) -> str:
    """`anna.devries@plugpay-demo.example` (the reserved .example domain: nobody gets mail)."""
    first, *rest = name.lower().split()
    return f"{first}.{''.join(rest)}@{slug}.example"


def station_identities() -> list[str]:
    return [
        f"{cpo.party_id}-{n:02d}-{s:02d}" for cpo in CPOS for n in range(1, 3) for s in range(1, 3)
    ]


def station_credentials_reset(data_dir: Path) -> Path:
    """Give every demo station a new Basic-auth password and write identity -> password to
    `DATA_DIR/demo-stations.json` (mode 0600), which the simulator reads. Generated per
    machine, never in the source; the database keeps only the hashes."""
    credentials = {}
    with transaction.atomic():
        for identity in station_identities():
            auth = locations.charge_station_auth(identity=identity)
            if auth is not None:
                credentials[identity] = locations.charge_station_reset_password(station_id=auth.id)
    path = data_dir / "demo-stations.json"
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(credentials, f, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


@transaction.atomic
def load(*, password: str) -> dict[str, int]:
    counts = {"operators": 0, "stations": 0, "tokens": 0, "tariffs": 0, "past sessions": 0}
    history_stations: dict[int, list[int]] = {}
    cpo_parties: dict[int, int] = {}
    admin_email = "admin@demo.local"
    for cpo in CPOS:
        op = parties.operator_ensure(slug=cpo.slug, name=cpo.name)
        counts["operators"] += 1
        party = parties.party_ensure(
            tenant_id=op,
            role=PartyRole.CPO,
            country_code=cpo.country,
            party_id=cpo.party_id,
            name=cpo.name,
        )
        cpo_parties[op] = party
        parties.user_ensure_with_role(
            email=admin_email,
            password=password,
            tenant_id=op,
            role=TenantRole.PLATFORM_ADMIN,
            is_staff=True,
        )
        # The cards the simulator presents are issued by the CPO's own eMSP role: a session
        # resolves to the station tenant's own token first (ADR 0027), so the simulator's
        # sessions are own-charge sessions (wholesale computed, never invoiced; retail rated
        # on the CPO tenant's package, demo/billing.py).
        parties.party_ensure(
            tenant_id=op,
            role=PartyRole.EMSP,
            country_code=cpo.country,
            party_id=cpo.party_id,
            name=cpo.name,
        )
        for uid in SIMULATOR_ID_TAGS:
            tokens.token_put(
                tenant_id=op,
                data=TokenInput(
                    country_code=cpo.country,
                    party_id=cpo.party_id,
                    uid=uid,
                    type="RFID",
                    contract_id=token_contract_id(cpo, uid),
                    issuer=cpo.name,
                    visual_number=f"{cpo.party_id}-{uid}",
                    whitelist="ALLOWED",
                ),
                actor=DEMO,
            )
            counts["tokens"] += 1
        tariff_id = tariffs.tariff_upsert(
            tenant_id=op,
            party_id=party,
            ocpi_id=str(cpo.tariff["id"]),
            name=f"{cpo.name} standard",
            currency="EUR",
            type="REGULAR",
        )
        counts["tariffs"] += 1
        if not tariffs.tariff_versions_count(tariff_id=tariff_id):
            tariffs.tariff_version_add(
                tariff_id=tariff_id, ocpi=cpo.tariff, effective_from=EPOCH, now=EPOCH
            )
        code_id = tariffs.tariff_code_upsert(
            tenant_id=op, code="DEFAULT", tariff_id=tariff_id, description="Default tariff"
        )
        for n, place in enumerate(cpo.locations, start=1):
            loc_id = locations.location_upsert(
                tenant_id=op,
                party_id=party,
                ocpi_id=f"LOC{n}",
                name=place.name,
                address=place.address,
                city=cpo.city,
                postal_code=place.postal_code,
                country=cpo.country3,
                latitude=Decimal(place.lat),
                longitude=Decimal(place.lon),
                time_zone=cpo.time_zone,
            )
            for s in range(1, 3):
                identity = f"{cpo.party_id}-{n:02d}-{s:02d}"
                station_id = locations.charge_station_upsert(
                    tenant_id=op,
                    identity=identity,
                    location_id=loc_id,
                    vendor="DemoVendor",
                    model="AC22",
                    security_profile=SecurityProfile.BASIC.value,
                )
                counts["stations"] += 1
                history_stations.setdefault(op, []).append(station_id)
                tariffs.tariff_code_assign(
                    tenant_id=op,
                    charge_station_id=station_id,
                    tariff_code_id=code_id,
                    effective_from=EPOCH,
                )
                for e in range(1, 3):
                    evse_pk = locations.evse_upsert(
                        tenant_id=op,
                        uid=f"{identity}-{e}",
                        location_id=loc_id,
                        charge_station_id=station_id,
                        ocpp_evse_id=e,
                        evse_id=f"{cpo.country}*{cpo.party_id}*E{n}{s}{e}",
                    )
                    locations.connector_upsert(
                        tenant_id=op,
                        evse_id=evse_pk,
                        connector_id="1",
                        standard="IEC_62196_T2",
                        format="SOCKET",
                        power_type="AC_3_PHASE",
                        max_voltage=230,
                        max_amperage=32,
                        max_electric_power=22080,
                    )
    for slug, name, country, party_code in EMSPS:
        op = parties.operator_ensure(slug=slug, name=name)
        counts["operators"] += 1
        party = parties.party_ensure(
            tenant_id=op, role=PartyRole.EMSP, country_code=country, party_id=party_code, name=name
        )
        package_id = billing.package_ensure(op)
        parties.user_ensure_with_role(
            email=admin_email,
            password=password,
            tenant_id=op,
            role=TenantRole.PLATFORM_ADMIN,
            is_staff=True,
        )
        for i in range(1, 6):
            uid = f"{party_code}{i:08X}"
            token, _ = tokens.token_put(
                tenant_id=op,
                data=TokenInput(
                    country_code=country,
                    party_id=party_code,
                    uid=uid,
                    type="RFID",
                    contract_id=f"{country}-{party_code}-C{i:08d}-X",
                    issuer=name,
                    visual_number=f"{party_code}-{i:04d}",
                    whitelist="ALLOWED",
                ),
                actor=DEMO,
            )
            counts["tokens"] += 1
            customer_id = customers.customer_upsert(
                tenant_id=op,
                external_ref=f"CRM-{party_code}-{i}",
                party_id=party,
                kind="person",
                name=DRIVERS[party_code][i - 1],
                email=driver_email(DRIVERS[party_code][i - 1], slug),
            )
            customers.contract_upsert(
                tenant_id=op,
                reference=f"{party_code}-CTR-{i}",
                customer_id=customer_id,
                token_id=token.id,
                valid_from=EPOCH,
                retail_package_id=package_id,
                actor=DEMO,
            )
        billing.emsp_billing_load(tenant_id=op, package_id=package_id, since=EPOCH)
    for cpo in CPOS:
        cpo_tenant = parties.operator_get(slug=cpo.slug).id
        billing.cpo_billing_load(
            tenant_id=cpo_tenant,
            country=cpo.country,
            party_code=cpo.party_id,
            sim_uids=SIMULATOR_ID_TAGS,
            since=EPOCH,
        )
        billing.reimbursement_load(
            tenant_id=cpo_tenant,
            cpo_party_id=cpo_parties[cpo_tenant],
            country=cpo.country,
            party_code=cpo.party_id,
            station_id=history_stations[cpo_tenant][0],
            since=EPOCH,
        )
    commercial_model_load()
    # Last month's sessions (after the billing set-up, so the worker rates them as it stores
    # their CDRs): a closed period for the first billing run.
    for tenant_id, station_ids in history_stations.items():
        counts["past sessions"] += history.sessions_load(
            tenant_id=tenant_id, station_ids=station_ids, now=timezone.now()
        )
    return counts


# A roaming eMSP (not on the platform) that both CPO tenants deal with (ADR 0027).
ROAMING_EMSP = PartnerInput(
    role=PartyRole.EMSP.value,
    country_code="DE",
    party_id="RMG",
    name="Roaming Mobility GmbH",
    website="https://roaming-mobility.example",
)


def commercial_model_load() -> None:
    """Every demo tenant takes part in the marketplace (the eMSP tenants' drivers charge at
    the CPO tenants' stations, roamed inside the platform); both CPO tenants know one
    roaming eMSP as a partner. Idempotent."""
    slugs = [cpo.slug for cpo in CPOS] + [slug for slug, _, _, _ in EMSPS]
    for slug in slugs:
        tenant_id = parties.operator_get(slug=slug).id
        parties.operator_marketplace_set(tenant_id=tenant_id, actor=DEMO, marketplace=True)
    for cpo in CPOS:
        tenant_id = parties.operator_get(slug=cpo.slug).id
        known = {
            (p.role, p.country_code, p.party_id) for p in parties.partner_list(tenant_id=tenant_id)
        }
        key = (PartyRole(ROAMING_EMSP.role), ROAMING_EMSP.country_code, ROAMING_EMSP.party_id)
        if key not in known:
            parties.partner_create(tenant_id=tenant_id, actor=DEMO, data=ROAMING_EMSP)
