"""The data of `make bench-rating`, written straight into PostgreSQL with set-based SQL
(one INSERT ... SELECT over generate_series per table; no ORM, no per-row round trip).

Two platform tenants, both in the marketplace:

- `bench-cpo` (tenant A): its own CPO party NL*BCP and eMSP party NL*BEA; 1,000 locations
  (NL 600 / BE 250 / DE 150, each in its own time zone), 5 charge stations each; 4 station
  tariffs by tariff code, 40 wholesale tariffs for rules, 10 retail tariffs for its own
  drivers, 10 reimbursement tariffs (energy by time of day); one CPO contract (VAT 21 %,
  HALF_UP); 1,000 payees on every fifth station (20 %), half of them home chargers (HCC_E
  or HCC_V); 24 partner eMSPs (NL*BEM, which is tenant B, and 23 roaming eMSPs R00..R22)
  with 20,000 partner tokens; 10,000 own drivers (token, customer, contract v1, 20 retail
  packages, 5 user groups).
- `bench-emsp` (tenant B): its own eMSP party NL*BEM; 50,000 drivers (token, customer,
  contract with one of 100 retail packages and 20 user groups; 1 % without a package).

10,000 billing rules (with ~1,600 second versions):
- wholesale (tenant A): LOCATION x EMSP_PARTY for the 8 main eMSPs (BEA, BEM, R00..R05):
  8,000, a fifth of them repriced by a second version from 2026-06-01; COUNTRY x
  EMSP_PARTY for the 17 other roaming eMSPs: 51; 10 defects (LOCATION x ANY on the first
  10 locations: AMBIGUOUS_RULES there); 219 rules that expired before the data starts.
- retail: tenant B COUNTRY x RETAIL_PACKAGE x (Mon-Fri | Sat-Sun): 600, half priced with a
  retail tariff, half cost-plus (5 % + 0.02/kWh); tenant A the same over its 20 packages:
  120.
- reimbursement (tenant A): STATION x ANY for each of the 1,000 payee stations, margin 0.25
  per session and 0.02 per kWh.

N CDRs (default 1,000,000) over one year from 2025-12-01, each with its session: 50 %
marketplace (a tenant B driver at tenant A's station), 20 % tenant A's own drivers, 30 %
roaming partners' drivers; 20 min to 4 h, 3 to 60 kWh, 30 % with a parked period; the OCPI
charging periods, the totals of the station tariff and every billing column set (token,
token_source, emsp_party, emsp_tenant, contract, customer, hcc) as the CDR writer sets them.
"""

from __future__ import annotations

import json
from typing import Any

START = "2025-12-01 00:00:00+00"
EPOCH = "2025-01-01 00:00:00+00"
LOCATIONS = 1000
STATIONS_PER_LOCATION = 5
STATIONS = LOCATIONS * STATIONS_PER_LOCATION
B_DRIVERS = 50_000
A_DRIVERS = 10_000
PARTNER_TOKENS = 20_000
ROAMING = 23
MAIN_EMSPS = 8  # BEA, BEM, R00..R05
B_PACKAGES = 100
A_PACKAGES = 20
COUNTRIES = (("NLD", "Europe/Amsterdam"), ("BEL", "Europe/Brussels"), ("DEU", "Europe/Berlin"))
# The station tariffs' prices (flat, per kWh, per hour, parking per hour), excl. VAT.
STATION_PRICES = (
    (0.35, 0.29, 0.0, 0.0),
    (0.0, 0.35, 0.0, 6.0),
    (0.5, 0.25, 1.2, 0.0),
    (0.0, 0.39, 0.0, 0.0),
)


def _tariff(party: str, ocpi_id: str, elements: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "country_code": "NL",
            "party_id": party,
            "id": ocpi_id,
            "currency": "EUR",
            "type": "REGULAR",
            "elements": elements,
            "last_updated": "2025-01-01T00:00:00Z",
        }
    )


def _pc(kind: str, price: float, step: int = 1, vat: float | None = 21.0) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


def _one(pcs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"price_components": pcs}]


def tariffs() -> list[tuple[str, str, str, str]]:
    """(engine, party code, ocpi id, OCPI tariff JSON) of every tariff, in id order."""
    out: list[tuple[str, str, str, str]] = []
    for i, (flat, kwh, hour, parking) in enumerate(STATION_PRICES):
        pcs = [_pc("ENERGY", kwh)]
        if flat:
            pcs.insert(0, _pc("FLAT", flat))
        if hour:
            pcs.append(_pc("TIME", hour, 60))
        if parking:
            pcs.append(_pc("PARKING_TIME", parking, 300))
        out.append(("WHOLESALE", "BCP", f"ST{i}", _tariff("BCP", f"ST{i}", _one(pcs))))
    for i in range(40):  # wholesale prices for eMSPs; a quarter without VAT (contract's)
        vat = None if i % 4 == 3 else 21.0
        pcs = [_pc("ENERGY", round(0.20 + 0.005 * i, 4), vat=vat)]
        if i % 3 == 0:
            pcs.insert(0, _pc("FLAT", 0.25, vat=vat))
        if i % 5 == 0:
            pcs.append(_pc("PARKING_TIME", 4.0, 300, vat=vat))
        out.append(("WHOLESALE", "BCP", f"WS{i}", _tariff("BCP", f"WS{i}", _one(pcs))))
    for party, n in (("BEM", 30), ("BEA", 10)):  # retail prices to drivers
        for i in range(n):
            pcs = [_pc("FLAT", 0.30), _pc("ENERGY", round(0.39 + 0.01 * i, 4))]
            if i % 2:
                pcs.append(_pc("TIME", 0.60, 60))
            out.append(("RETAIL", party, f"RT{i}", _tariff(party, f"RT{i}", _one(pcs))))
    for i in range(10):  # owners' energy rates: peak 07:00-23:00, off-peak otherwise
        peak, off = round(0.22 + 0.01 * i, 4), round(0.15 + 0.01 * i, 4)
        elements: list[dict[str, Any]] = (
            [{"price_components": [_pc("ENERGY", peak)]}]
            if i % 2
            else [
                {
                    "price_components": [_pc("ENERGY", peak)],
                    "restrictions": {"start_time": "07:00", "end_time": "23:00"},
                },
                {"price_components": [_pc("ENERGY", off)]},
            ]
        )
        out.append(("REIMBURSEMENT", "BCP", f"RB{i}", _tariff("BCP", f"RB{i}", elements)))
    return out


def reference_sql() -> list[str]:
    """Everything but the sessions and CDRs (ids fixed: a fresh, migrated database)."""
    tz_case = "CASE WHEN l <= 600 THEN 0 WHEN l <= 850 THEN 1 ELSE 2 END"
    roam = ", ".join(f"('R{i:02d}', '{'DE' if i % 2 else 'BE'}')" for i in range(ROAMING))
    return [
        f"""INSERT INTO parties_operator (id, slug, name, is_active, created_at, marketplace)
        VALUES (1, 'bench-cpo', 'Bench CPO tenant', true, '{EPOCH}', true),
               (2, 'bench-emsp', 'Bench eMSP tenant', true, '{EPOCH}', true)""",
        # 1 BCP (A own CPO), 2 BEA (A own eMSP), 3 BEM (B own eMSP), 4 BEM (A's partner),
        # 5.. the roaming eMSPs (A's partners)
        f"""INSERT INTO parties_party (id, created_at, updated_at, tenant_id, kind, role,
            country_code, party_id, name, website, vat_rate)
        VALUES (1, '{EPOCH}', '{EPOCH}', 1, 'OWN', 'CPO', 'NL', 'BCP', 'Bench CPO', '', 21),
               (2, '{EPOCH}', '{EPOCH}', 1, 'OWN', 'EMSP', 'NL', 'BEA', 'Bench CPO eMSP', '', 21),
               (3, '{EPOCH}', '{EPOCH}', 2, 'OWN', 'EMSP', 'NL', 'BEM', 'Bench eMSP', '', 21),
               (4, '{EPOCH}', '{EPOCH}', 1, 'PARTNER', 'EMSP', 'NL', 'BEM', 'Bench eMSP', '',
                21)""",
        f"""INSERT INTO parties_party (id, created_at, updated_at, tenant_id, kind, role,
            country_code, party_id, name, website, vat_rate)
        SELECT 4 + row_number() OVER (), '{EPOCH}', '{EPOCH}', 1, 'PARTNER', 'EMSP', c, p,
               'Roaming ' || p, '', NULL
        FROM (VALUES {roam}) AS r(p, c)""",
        f"""INSERT INTO locations_location (id, created_at, updated_at, tenant_id, party_id,
            ocpi_id, name, address, city, postal_code, state, country, latitude, longitude,
            time_zone, parking_type, publish, charging_when_closed)
        SELECT l, '{EPOCH}', '{EPOCH}', 1, 1, 'LOC' || l, 'Location ' || l, 'Street ' || l,
               'City', '', '', (ARRAY['NLD','BEL','DEU'])[{tz_case} + 1], 52.1, 5.1,
               (ARRAY['Europe/Amsterdam','Europe/Brussels','Europe/Berlin'])[{tz_case} + 1],
               '', true, true
        FROM generate_series(1, {LOCATIONS}) AS l""",
        # Station s at location (s - 1) / 5 + 1; every fifth has a payee (below), and of
        # those every second is a home charger: HCC_E on 3 in 4 of them, HCC_V on the rest.
        f"""INSERT INTO locations_chargestation (id, created_at, updated_at, tenant_id,
            identity, location_id, vendor, model, serial_number, firmware_version, ocpp_version,
            ocpp_versions, security_profile, password_hash, client_cert_fingerprint,
            client_cert_fingerprint_next, enabled, roaming, hcc, connectivity, gateway_node,
            connection_id)
        SELECT s, '{EPOCH}', '{EPOCH}', 1, 'BR-' || lpad(s::text, 5, '0'),
               (s - 1) / {STATIONS_PER_LOCATION} + 1, 'Bench', 'B1', '', '', '1.6', '', 1, '',
               '', '', true, true,
               CASE WHEN s % 10 = 0 THEN (CASE WHEN s % 40 = 0 THEN 'HCC_V' ELSE 'HCC_E' END)
                    ELSE '' END, 'unknown', '', ''
        FROM generate_series(1, {STATIONS}) AS s""",
        # Tariffs: inserted from Python (tariffs()); codes and assignments here.
        f"""INSERT INTO tariffs_tariffcode (id, created_at, updated_at, tenant_id, code,
            description, tariff_id)
        SELECT i + 1, '{EPOCH}', '{EPOCH}', 1, 'CODE' || i, '', i + 1
        FROM generate_series(0, {len(STATION_PRICES) - 1}) AS i""",
        f"""INSERT INTO tariffs_tariffassignment (created_at, updated_at, tenant_id,
            charge_station_id, tariff_code_id, effective_from)
        SELECT '{EPOCH}', '{EPOCH}', 1, s, s % {len(STATION_PRICES)} + 1, '{EPOCH}'
        FROM generate_series(1, {STATIONS}) AS s""",
        # Tokens: 1..50,000 tenant B's drivers; then tenant A's own; then A's partner tokens
        # (party 4 = BEM as A's partner is not among them: BEM's drivers are B's tokens).
        f"""INSERT INTO tokens_token (id, created_at, updated_at, tenant_id, party_id, uid,
            type, contract_id, visual_number, issuer, group_id, valid, whitelist, language,
            default_profile_type, hcc)
        SELECT t, '{EPOCH}', '{EPOCH}',
               CASE WHEN t <= {B_DRIVERS + A_DRIVERS} AND t > {B_DRIVERS} THEN 1
                    WHEN t <= {B_DRIVERS} THEN 2 ELSE 1 END,
               CASE WHEN t <= {B_DRIVERS} THEN 3 WHEN t <= {B_DRIVERS + A_DRIVERS} THEN 2
                    ELSE 5 + (t % {ROAMING}) END,
               'U' || lpad(t::text, 8, '0'), 'RFID', 'NL-X-C' || t, '', 'Bench', '', true,
               'ALLOWED', '', '', ''
        FROM generate_series(1, {B_DRIVERS + A_DRIVERS + PARTNER_TOKENS}) AS t""",
        f"""INSERT INTO customers_retailpackage (id, created_at, updated_at, tenant_id, name,
            description)
        SELECT p, '{EPOCH}', '{EPOCH}', CASE WHEN p <= {B_PACKAGES} THEN 2 ELSE 1 END,
               'Package ' || p, ''
        FROM generate_series(1, {B_PACKAGES + A_PACKAGES}) AS p""",
        f"""INSERT INTO customers_usergroup (id, created_at, updated_at, tenant_id, name)
        SELECT g, '{EPOCH}', '{EPOCH}', CASE WHEN g <= 20 THEN 2 ELSE 1 END, 'Group ' || g
        FROM generate_series(1, 25) AS g""",
        # One customer and one contract (v1) per driver token (ids = the token's).
        f"""INSERT INTO customers_customer (id, created_at, updated_at, tenant_id, party_id,
            kind, name, email, vat_number, address, postal_code, city, country, external_ref)
        SELECT t, '{EPOCH}', '{EPOCH}', CASE WHEN t <= {B_DRIVERS} THEN 2 ELSE 1 END,
               CASE WHEN t <= {B_DRIVERS} THEN 3 ELSE 2 END, 'person', 'Driver ' || t, '', '',
               '', '', '', 'NL', ''
        FROM generate_series(1, {B_DRIVERS + A_DRIVERS}) AS t""",
        f"""INSERT INTO customers_contract (id, created_at, updated_at, tenant_id, customer_id,
            token_id, reference, version, retail_package_id, user_group_id, valid_from,
            valid_until)
        SELECT t, '{EPOCH}', '{EPOCH}', CASE WHEN t <= {B_DRIVERS} THEN 2 ELSE 1 END, t, t,
               'K' || t, 1,
               CASE WHEN t % 100 = 7 THEN NULL
                    WHEN t <= {B_DRIVERS} THEN t % {B_PACKAGES} + 1
                    ELSE {B_PACKAGES} + t % {A_PACKAGES} + 1 END,
               CASE WHEN t <= {B_DRIVERS} THEN t % 20 + 1 ELSE 21 + t % 5 END,
               '{EPOCH}', NULL
        FROM generate_series(1, {B_DRIVERS + A_DRIVERS}) AS t""",
        f"""INSERT INTO rating_cpocontract (id, created_at, updated_at, tenant_id, party_id,
            reference)
        VALUES (1, '{EPOCH}', '{EPOCH}', 1, 1, 'CPO-BCP')""",
        f"""INSERT INTO rating_cpocontractversion (created_at, updated_at, tenant_id,
            contract_id, version, effective_from, vat_country, vat_rate, rounding_mode,
            payee_name, payee_iban, payee_bic, payee_address)
        VALUES ('{EPOCH}', '{EPOCH}', 1, 1, 1, '{EPOCH}', 'NL', 21, 'ROUND_HALF_UP', '', '',
                '', '')""",
        f"""INSERT INTO rating_payee (id, created_at, updated_at, tenant_id, kind, name, email,
            vat_number, iban, bic, address, postal_code, city, country, external_ref)
        SELECT p, '{EPOCH}', '{EPOCH}', 1,
               CASE WHEN p % 2 = 0 THEN 'HOME' WHEN p % 4 = 1 THEN 'WORKPLACE'
                    ELSE 'SITE_HOST' END, 'Owner ' || p, '', '',
               'NL00BANK' || lpad(p::text, 10, '0'),
               '', '', '', '', 'NL', 'P' || p
        FROM generate_series(1, {STATIONS // 5}) AS p""",
        f"""INSERT INTO rating_payeeassignment (created_at, updated_at, tenant_id,
            charge_station_id, payee_id, effective_from)
        SELECT '{EPOCH}', '{EPOCH}', 1, p * 5, p, '{EPOCH}'
        FROM generate_series(1, {STATIONS // 5}) AS p""",
    ]


VERSION_COLUMNS = (
    "created_at", "updated_at", "tenant_id", "rule_id", "version", "effective_from", "active",
    "pricing", "tariff_id", "markup_percent", "markup_per_kwh", "markup_per_kwh_currency",
    "margin_per_session", "margin_per_session_currency", "margin_per_kwh",
    "margin_per_kwh_currency", "cpo_scope", "cpo_scope_value", "emsp_scope", "emsp_scope_value",
    "valid_from", "valid_until", "weekdays", "time_from", "time_until", "exceptions", "reason",
)  # fmt: skip


def rules_sql(tariff_ids: dict[str, int]) -> list[str]:
    """The 10,000 billing rules and their versions (see the module's docstring)."""
    ws0, rb0 = tariff_ids["WS0"], tariff_ids["RB0"]
    rt_b0, rt_a0 = tariff_ids["BEM/RT0"], tariff_ids["BEA/RT0"]
    # rule rows: (id, tenant, engine, name) from one SELECT per family; versions follow.
    main = "ARRAY[2, 4, 5, 6, 7, 8, 9, 10]"  # BEA, BEM (A's partner row), R00..R05
    v = ", ".join(VERSION_COLUMNS)
    return [
        # wholesale LOCATION x EMSP_PARTY: rule ids 1..8,000
        f"""INSERT INTO rating_billingrule (id, created_at, updated_at, tenant_id, engine, name)
        SELECT i, '{EPOCH}', '{EPOCH}', 1, 'WHOLESALE', 'WS loc ' || i
        FROM generate_series(1, 8000) i""",
        f"""INSERT INTO rating_billingruleversion ({v})
        SELECT '{EPOCH}', '{EPOCH}', 1, i, 1, '{EPOCH}', true, 'TARIFF', {ws0} + i % 40, NULL,
               NULL, NULL, NULL, NULL, NULL, NULL, 'LOCATION', ((i - 1) / 8 + 1)::text,
               'EMSP_PARTY', ({main})[(i - 1) % 8 + 1]::text, NULL, NULL, 127, NULL, NULL,
               '[]', '' FROM generate_series(1, 8000) i""",
        f"""INSERT INTO rating_billingruleversion ({v})
        SELECT '{EPOCH}', '{EPOCH}', 1, i, 2, '2026-06-01 00:00:00+00', true, 'TARIFF',
               {ws0} + (i + 7) % 40, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'LOCATION',
               ((i - 1) / 8 + 1)::text, 'EMSP_PARTY', ({main})[(i - 1) % 8 + 1]::text, NULL,
               NULL, 127, NULL, NULL, '[]', 'price change'
        FROM generate_series(1, 8000) i WHERE i % 5 = 0""",
        # wholesale COUNTRY x EMSP_PARTY for the 17 other roaming eMSPs: 8,001..8,051
        f"""INSERT INTO rating_billingrule (id, created_at, updated_at, tenant_id, engine, name)
        SELECT 8000 + i, '{EPOCH}', '{EPOCH}', 1, 'WHOLESALE', 'WS country ' || i
        FROM generate_series(1, 51) i""",
        f"""INSERT INTO rating_billingruleversion ({v})
        SELECT '{EPOCH}', '{EPOCH}', 1, 8000 + i, 1, '{EPOCH}', true, 'TARIFF', {ws0} + i % 40,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'COUNTRY',
               (ARRAY['NLD','BEL','DEU'])[(i - 1) % 3 + 1], 'EMSP_PARTY',
               (11 + (i - 1) / 3)::text, NULL, NULL, 127, NULL, NULL, '[]', ''
        FROM generate_series(1, 51) i""",
        # 10 defects: LOCATION x ANY on locations 1..10 (ambiguous with the rules above)
        f"""INSERT INTO rating_billingrule (id, created_at, updated_at, tenant_id, engine, name)
        SELECT 8051 + i, '{EPOCH}', '{EPOCH}', 1, 'WHOLESALE', 'WS overlap ' || i
        FROM generate_series(1, 10) i""",
        f"""INSERT INTO rating_billingruleversion ({v})
        SELECT '{EPOCH}', '{EPOCH}', 1, 8051 + i, 1, '{EPOCH}', true, 'TARIFF', {ws0}, NULL,
               NULL, NULL, NULL, NULL, NULL, NULL, 'LOCATION', i::text, 'ANY', '', NULL, NULL,
               127, NULL, NULL, '[]', '' FROM generate_series(1, 10) i""",
        # 219 rules that ended before the data starts
        f"""INSERT INTO rating_billingrule (id, created_at, updated_at, tenant_id, engine, name)
        SELECT 8061 + i, '{EPOCH}', '{EPOCH}', 1, 'WHOLESALE', 'WS expired ' || i
        FROM generate_series(1, 219) i""",
        f"""INSERT INTO rating_billingruleversion ({v})
        SELECT '{EPOCH}', '{EPOCH}', 1, 8061 + i, 1, '{EPOCH}', true, 'TARIFF', {ws0} + i % 40,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'LOCATION', (i * 4)::text,
               'EMSP_PARTY', '11', '{EPOCH}', '2025-06-01 00:00:00+00', 127, NULL, NULL, '[]', ''
        FROM generate_series(1, 219) i""",
        # retail: tenant B 600 (8,281..8,880), tenant A 120 (8,881..9,000)
        f"""INSERT INTO rating_billingrule (id, created_at, updated_at, tenant_id, engine, name)
        SELECT 8280 + i, '{EPOCH}', '{EPOCH}', CASE WHEN i <= 600 THEN 2 ELSE 1 END, 'RETAIL',
               'RT ' || i FROM generate_series(1, 720) i""",
        f"""INSERT INTO rating_billingruleversion ({v})
        SELECT '{EPOCH}', '{EPOCH}', CASE WHEN i <= 600 THEN 2 ELSE 1 END, 8280 + i, 1,
               '{EPOCH}', true, CASE WHEN i % 2 = 0 THEN 'COST_PLUS' ELSE 'TARIFF' END,
               CASE WHEN i % 2 = 0 THEN NULL WHEN i <= 600 THEN {rt_b0} + i % 30
                    ELSE {rt_a0} + i % 10 END,
               CASE WHEN i % 2 = 0 THEN 5 END, CASE WHEN i % 2 = 0 THEN 0.02 END,
               CASE WHEN i % 2 = 0 THEN 'EUR' END, NULL, NULL, NULL, NULL, 'COUNTRY',
               (ARRAY['NLD','BEL','DEU'])[((i - 1) / 2) % 3 + 1], 'RETAIL_PACKAGE',
               (CASE WHEN i <= 600 THEN (i - 1) / 6 + 1
                     ELSE {B_PACKAGES} + (i - 601) / 6 + 1 END)::text,
               NULL, NULL, CASE WHEN i % 2 = 1 THEN 31 ELSE 96 END, NULL, NULL, '[]', ''
        FROM generate_series(1, 720) i""",
        # reimbursement: STATION x ANY on every payee station (9,001..10,000)
        f"""INSERT INTO rating_billingrule (id, created_at, updated_at, tenant_id, engine, name)
        SELECT 9000 + i, '{EPOCH}', '{EPOCH}', 1, 'REIMBURSEMENT', 'RB ' || i
        FROM generate_series(1, 1000) i""",
        f"""INSERT INTO rating_billingruleversion ({v})
        SELECT '{EPOCH}', '{EPOCH}', 1, 9000 + i, 1, '{EPOCH}', true, 'TARIFF', {rb0} + i % 10,
               NULL, NULL, NULL, 0.25, 'EUR', 0.02, 'EUR', 'STATION', (i * 5)::text, 'ANY', '',
               NULL, NULL, 127, NULL, NULL, '[]', '' FROM generate_series(1, 1000) i""",
    ]


def cdrs_sql(n: int, lo: int, hi: int) -> list[str]:
    """Sessions and CDRs lo..hi of n (ids = g), spread evenly over the year from START."""
    span = 365 * 86400 / n
    # One derived row per g: station, token, who it is, times and volumes.
    base = f"""
        SELECT g, st, loc, tz, tok, src, emsp_party, emsp_tenant, con,
               ts, ts + charge * interval '1 second' AS charged_until,
               ts + (charge + park) * interval '1 second' AS ended, charge, park, kwh,
               st % {len(STATION_PRICES)} + 1 AS tv, hcc
        FROM (
            SELECT g, st, (st - 1) / {STATIONS_PER_LOCATION} + 1 AS loc,
                   CASE WHEN (st - 1) / {STATIONS_PER_LOCATION} + 1 <= 600 THEN 'Europe/Amsterdam'
                        WHEN (st - 1) / {STATIONS_PER_LOCATION} + 1 <= 850 THEN 'Europe/Brussels'
                        ELSE 'Europe/Berlin' END AS tz,
                   tok, src,
                   CASE src WHEN 'MARKETPLACE' THEN 4 WHEN 'OWN' THEN 2
                            ELSE 5 + tok % {ROAMING} END AS emsp_party,
                   CASE src WHEN 'MARKETPLACE' THEN 2 WHEN 'OWN' THEN 1 END AS emsp_tenant,
                   CASE WHEN src <> 'PARTNER' THEN tok END AS con,
                   timestamptz '{START}' + round(g * {span}) * interval '1 second' AS ts,
                   1200 + (g * 7919) % 13200 AS charge,
                   CASE WHEN g % 10 < 3 THEN 300 + (g * 31) % 3300 ELSE 0 END AS park,
                   round((3 + (g * 104729) % 57000 / 1000.0)::numeric, 3) AS kwh,
                   CASE WHEN st % 10 = 0 THEN (CASE WHEN st % 40 = 0 THEN 'HCC_V' ELSE 'HCC_E' END)
                        ELSE '' END AS hcc
            FROM (
                SELECT g, (g * 37) % {STATIONS} + 1 AS st,
                       CASE WHEN g % 10 < 5 THEN 'MARKETPLACE' WHEN g % 10 < 7 THEN 'OWN'
                            ELSE 'PARTNER' END AS src,
                       CASE WHEN g % 10 < 5 THEN (g * 7919) % {B_DRIVERS} + 1
                            WHEN g % 10 < 7 THEN {B_DRIVERS} + (g * 7919) % {A_DRIVERS} + 1
                            ELSE {B_DRIVERS + A_DRIVERS} + (g * 7919) % {PARTNER_TOKENS} + 1
                       END AS tok
                FROM generate_series({lo}::bigint, {hi}::bigint) AS g
            ) a
        ) b"""
    iso = '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''
    prices = " ".join(
        f"WHEN {i + 1} THEN ARRAY[{f}, {e}, {h}, {p}]::numeric[]"
        for i, (f, e, h, p) in enumerate(STATION_PRICES)
    )
    return [
        f"""INSERT INTO charging_chargingsession (id, created_at, updated_at, tenant_id,
            charge_station_id, token_id, id_tag, token_source, emsp_party_id, emsp_tenant_id,
            ocpp_transaction_id, status, started_at, ended_at, meter_start_wh, meter_stop_wh,
            stop_reason, auth_method, authorization_reference, time_zone, tariff_version_id,
            currency, energy_wh, last_event_id, live_cost_event_id)
        SELECT g, ended, ended, 1, st, tok, 'U' || lpad(tok::text, 8, '0'), src, emsp_party,
               emsp_tenant, g::text, 'COMPLETED', ts, ended, 0, kwh * 1000, 'EVDisconnected',
               'WHITELIST', '', tz, tv, 'EUR', kwh * 1000, 0, 0
        FROM ({base}) c""",
        f"""INSERT INTO charging_cdr (id, created_at, updated_at, tenant_id, party_id, ocpi_id,
            kind, session_id, tariff_version_id, start_date_time, end_date_time, currency,
            total_cost_excl_vat, total_cost_incl_vat, total_fixed_cost_excl_vat,
            total_fixed_cost_incl_vat, total_energy_cost_excl_vat, total_energy_cost_incl_vat,
            total_time_cost_excl_vat, total_time_cost_incl_vat, total_parking_cost_excl_vat,
            total_parking_cost_incl_vat, total_energy_kwh, total_time_hours,
            total_parking_time_hours, token_id, token_source, emsp_party_id, emsp_tenant_id,
            contract_id, customer_id, hcc, data, annotations)
        SELECT g, ended, ended, 1, 1, 'CDR' || lpad(g::text, 10, '0'), 'ORIGINAL', g, tv, ts,
               ended, 'EUR', fc + ec + tc + pc, round((fc + ec + tc + pc) * 1.21, 4), fc,
               round(fc * 1.21, 4), ec, round(ec * 1.21, 4), tc, round(tc * 1.21, 4), pc,
               round(pc * 1.21, 4), kwh, round(charge / 3600.0, 6), round(park / 3600.0, 6),
               tok, src, emsp_party, emsp_tenant, con, con, hcc,
               jsonb_build_object(
                 'country_code', 'NL', 'party_id', 'BCP', 'id', 'CDR' || lpad(g::text, 10, '0'),
                 'start_date_time', to_char(ts AT TIME ZONE 'UTC', {iso}),
                 'end_date_time', to_char(ended AT TIME ZONE 'UTC', {iso}),
                 'session_id', g::text, 'auth_method', 'WHITELIST', 'currency', 'EUR',
                 'cdr_token', jsonb_build_object('country_code', 'NL', 'party_id', 'BEM',
                     'uid', 'U' || lpad(tok::text, 8, '0'), 'type', 'RFID',
                     'contract_id', 'NL-X-C' || tok),
                 'cdr_location', jsonb_build_object('id', 'LOC' || loc, 'address', 'Street ' || loc,
                     'city', 'City', 'country', 'NLD', 'evse_uid', 'E' || st,
                     'evse_id', 'NL*BCP*E' || st, 'connector_id', '1',
                     'connector_standard', 'IEC_62196_T2', 'connector_format', 'SOCKET',
                     'connector_power_type', 'AC_3_PHASE',
                     'coordinates', jsonb_build_object('latitude', '52.3791283',
                                                       'longitude', '4.9003620')),
                 'tariffs', '[]'::jsonb,
                 'charging_periods', CASE WHEN park > 0 THEN jsonb_build_array(
                     jsonb_build_object('start_date_time', to_char(ts AT TIME ZONE 'UTC', {iso}),
                       'dimensions', jsonb_build_array(
                         jsonb_build_object('type', 'ENERGY', 'volume', kwh),
                         jsonb_build_object('type', 'TIME', 'volume', round(charge / 3600.0, 6)))),
                     jsonb_build_object('start_date_time',
                         to_char(charged_until AT TIME ZONE 'UTC', {iso}),
                       'dimensions', jsonb_build_array(
                         jsonb_build_object('type', 'PARKING_TIME',
                                            'volume', round(park / 3600.0, 6)))))
                   ELSE jsonb_build_array(
                     jsonb_build_object('start_date_time', to_char(ts AT TIME ZONE 'UTC', {iso}),
                       'dimensions', jsonb_build_array(
                         jsonb_build_object('type', 'ENERGY', 'volume', kwh),
                         jsonb_build_object('type', 'TIME', 'volume', round(charge / 3600.0, 6)))))
                   END,
                 'last_updated', to_char(ended AT TIME ZONE 'UTC', {iso})),
               jsonb_build_object('time_zone', tz, 'meter_start_wh', '0',
                   'meter_stop_wh', (kwh * 1000)::text, 'ocpp_transaction_id', g::text)
        FROM (
            SELECT c.*, pr[1] AS fc, round(kwh * pr[2], 4) AS ec,
                   round(ceil(charge / 60.0) / 60.0 * pr[3], 4) AS tc,
                   round(ceil(park / 300.0) * 300 / 3600.0 * pr[4], 4) AS pc
            FROM ({base}) c, LATERAL (SELECT CASE tv {prices} END AS pr) p
        ) c""",
    ]
