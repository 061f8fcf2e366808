"""The data of `make bench-invoicing` (issue 18's Speed section), written straight into
PostgreSQL: the small reference tables that need Python (valid EU VAT numbers, billing
profiles) with COPY, everything else with set-based SQL on the server (one
INSERT ... SELECT over generate_series per table and chunk, as bench/rating_data.py does: no
row crosses the wire, which is faster still than COPY for the million CDRs and their
rated lines). No ORM, no per-row round trip; ids are fixed (a fresh, migrated database).

One platform tenant `bench-invoicing` (id 1) that is both the CPO and the eMSP:

- parties: its own CPO party NL*BIC (1), its own eMSP party NL*BIE (2), and PARTNERS (50)
  partner eMSPs P00..P49 (ids 3..52) in NL / BE / DE, each with a billing profile (legal
  name, address, a valid VAT number: the BE and DE ones are reverse-charge buyers);
- invoicing settings: seller name, address, NL VAT number, IBAN (the defaults otherwise:
  Europe/Amsterdam, grace 5 days, INV / EMSP / SB / CN, year in the prefix);
- `customers` customers of its eMSP (default 100,000), one token and one contract each;
  every tenth a company with a valid VAT number (6 in 10 NL, 2 BE, 2 DE), the rest persons
  in NL; 20,000 partner tokens;
- 4,000 locations in NL with 5 charge stations each (20,000); PAYEES (2,000) charger owners,
  payee p owning station 10 p (so about 10 % of the sessions are reimbursed); half the
  owners are home chargers, HCC_E (VAT exempt) on every fourth, HCC_V on every other
  fourth; some business owners with a VAT number;
- one tariff and one billing rule version per engine (the rated lines point at them).

N CDRs (default 1,000,000), each with its session, that END in one month (MONTH, local
midnight to local midnight in Europe/Amsterdam, a DST change inside), 20 min to 4 h, 3 to
60 kWh, 30 % with a parked period; the CDR totals are the station tariff's (wholesale
amounts). Rated lines, as the engines write them (apps/rating/services/engines.py):

- RETAIL for every CDR: seller the own eMSP party, buyer_customer the CDR's customer
  (CDR g's customer is (g * 7919) mod customers + 1: about ten sessions per customer);
  0.30 flat + 0.45 per kWh + the parking of the CDR, VAT 21 %. Every CDR carries a
  customer (also the 20 % whose wholesale buyer is a partner): the load of the issue's
  target, 1,000,000 rated CDRs of 100,000 customers, on the customer invoices;
- WHOLESALE for every CDR: seller the CPO party; 80 % to the own eMSP party (own_charge:
  never invoiced), 20 % (g mod 5 = 4) to a partner eMSP (its EMSP_INVOICE); the CDR's
  totals, VAT 21 %;
- REIMBURSEMENT on the payee stations' CDRs (10 %): seller_payee the owner, buyer the CPO
  party; 0.22 per kWh less the margin (0.25 per session + 0.02 per kWh, a negative
  adjustment); VAT 21 %, or 0 % category E with the HCC_E exemption reason on HCC_E
  stations;
- a few re-ratings (g mod 1000 = 500: 0.1 %): the RETAIL line reversed (REVERSAL, negative,
  `reverses` the original) and a new LINE 10 % cheaper in energy.

Rated lines are created at the CDR's end + 5 minutes (re-ratings two days later); the bench's
clock (`now`) is ten days after the month.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

EPOCH = "2025-01-01 00:00:00+00"
TENANT = 1
OWN_CPO, OWN_EMSP = 1, 2
PARTNERS = 50  # party ids 3..52
LOCATIONS = 4000
STATIONS_PER_LOCATION = 5
STATIONS = LOCATIONS * STATIONS_PER_LOCATION
PAYEES = 2000  # payee p owns station 10 p
PARTNER_TOKENS = 20_000
TIME_ZONE = "Europe/Amsterdam"
MONTH = "2026-10"  # the month the CDRs end in (local time); a DST change on the 25th
RULE_VERSION = {"WHOLESALE": 1, "RETAIL": 2, "REIMBURSEMENT": 3}  # = tariff (version) ids
# billing.rating.amounts.HCC_EXEMPTION_REASON (the data module imports no project code)
HCC_EXEMPTION_REASON = (
    "Home charger reimbursement excluding VAT (HCC_E): the owner charges no VAT on it"
)
COUNTRIES = ("NL", "NL", "NL", "BE", "DE")  # partner eMSPs' countries, by index mod 5


def period(month: str = MONTH) -> tuple[datetime, datetime]:
    """[start, end) of the month in UTC: the tenant's local midnights."""
    year, mon = (int(x) for x in month.split("-"))
    tz = ZoneInfo(TIME_ZONE)
    first = date(year, mon, 1)
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return (
        datetime(first.year, first.month, 1, tzinfo=tz).astimezone(UTC),
        datetime(nxt.year, nxt.month, 1, tzinfo=tz).astimezone(UTC),
    )


def bench_now(month: str = MONTH) -> datetime:
    """The bench's clock: ten days after the month (past the default grace of 5 days)."""
    return period(month)[1] + timedelta(days=10, hours=12)


# -- valid EU VAT numbers (python-stdnum checks the check digits) -------------------------


def vat_numbers(country: str, start: int) -> Iterator[str]:
    """Valid VAT numbers of `country` (NL, BE, DE), the first from candidate `start` on."""
    from stdnum.be import vat as be
    from stdnum.de import vat as de
    from stdnum.nl import btw as nl

    shape, check = {
        "NL": ("NL{:09d}B01", nl.is_valid),
        "BE": ("BE0{:09d}", be.is_valid),
        "DE": ("DE1{:08d}", de.is_valid),
    }[country]
    k = start
    while True:
        k += 1
        candidate = shape.format(k)
        if check(candidate):
            yield candidate


def iban_nl(bank: str, account: int) -> str:
    """A Dutch IBAN with valid check digits (ISO 13616 mod 97)."""
    bban = f"{bank}{account:010d}"
    digits = "".join(str(int(ch, 36)) for ch in f"{bban}NL00")
    return f"NL{98 - int(digits) % 97:02d}{bban}"


# -- COPY: the reference rows that need Python ---------------------------------------------


def _copy_text(rows: list[tuple[Any, ...]]) -> io.StringIO:
    """COPY's text format (values hold no tab, newline or backslash; None is NULL)."""
    out = io.StringIO()
    for row in rows:
        out.write("\t".join("\\N" if v is None else str(v) for v in row))
        out.write("\n")
    out.seek(0)
    return out


def copy_rows(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """COPY `rows` into `table` (a psycopg 3 connection)."""
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        data = _copy_text(rows)
        while chunk := data.read(1 << 20):
            cp.write(chunk)


CUSTOMER_COLUMNS = (
    "id", "created_at", "updated_at", "tenant_id", "party_id", "kind", "name", "email",
    "vat_number", "address", "postal_code", "city", "country", "external_ref",
)  # fmt: skip
PARTY_COLUMNS = (
    "id", "created_at", "updated_at", "tenant_id", "kind", "role", "country_code", "party_id",
    "name", "website", "vat_rate",
)  # fmt: skip
PROFILE_COLUMNS = (
    "created_at", "updated_at", "tenant_id", "kind", "customer_id", "party_id", "payee_id",
    "frequency", "language", "email", "legal_name", "vat_number", "address", "postal_code",
    "city", "country",
)  # fmt: skip
PAYEE_COLUMNS = (
    "id", "created_at", "updated_at", "tenant_id", "kind", "name", "email", "vat_number",
    "iban", "bic", "address", "postal_code", "city", "country", "external_ref",
)  # fmt: skip
SETTINGS_COLUMNS = (
    "created_at", "updated_at", "tenant_id", "legal_name", "address", "postal_code", "city",
    "country", "vat_number", "company_id", "email", "iban", "bic", "timezone",
    "default_language", "grace_days", "payment_terms_days", "year_in_prefix",
    "prefix_customer_invoice", "prefix_emsp_invoice", "prefix_self_billing",
    "prefix_credit_note",
)  # fmt: skip

LANGUAGE = {"NL": "nl", "BE": "fr", "DE": "de"}


def copy_reference(conn: Any, customers: int) -> None:
    """Parties, customers, payees, billing profiles and the invoicing settings (COPY)."""
    e = EPOCH
    parties: list[tuple[Any, ...]] = [
        (OWN_CPO, e, e, TENANT, "OWN", "CPO", "NL", "BIC", "Bench Invoicing CPO", "", 21),
        (OWN_EMSP, e, e, TENANT, "OWN", "EMSP", "NL", "BIE", "Bench Invoicing eMSP", "", 21),
    ]
    profiles: list[tuple[Any, ...]] = []
    vats = {c: vat_numbers(c, 10_000_000) for c in ("NL", "BE", "DE")}
    for i in range(PARTNERS):
        country = COUNTRIES[i % 5]
        pid = 3 + i
        parties.append(
            (pid, e, e, TENANT, "PARTNER", "EMSP", country, f"P{i:02d}", f"Partner {i:02d}", "",
             None)
        )  # fmt: skip
        profiles.append(
            (e, e, TENANT, "PARTY", None, pid, None, "MONTHLY", LANGUAGE[country],
             f"billing@partner{i:02d}.example", f"Partner {i:02d} Mobility B.V.",
             next(vats[country]), f"Partnerweg {i + 1}", "1000 AA", "Partnerstad", country)
        )  # fmt: skip
    copy_rows(conn, "parties_party", PARTY_COLUMNS, parties)
    rows: list[tuple[Any, ...]] = []
    for c in range(1, customers + 1):
        company = c % 10 == 0
        country = ("NL", "NL", "NL", "NL", "NL", "NL", "BE", "BE", "DE", "DE")[(c // 10) % 10]
        if not company:
            country = "NL"
        rows.append(
            (c, e, e, TENANT, OWN_EMSP, "company" if company else "person",
             f"Company {c}" if company else f"Driver {c}", f"c{c}@bench.example",
             next(vats[country]) if company else "", f"Laan {c % 997 + 1}",
             f"{1000 + c % 8999} AB", "Utrecht" if country == "NL" else "Brussel"
             if country == "BE" else "Köln", country, f"C{c}")
        )  # fmt: skip
    copy_rows(conn, "customers_customer", CUSTOMER_COLUMNS, rows)
    payees: list[tuple[Any, ...]] = []
    for p in range(1, PAYEES + 1):
        kind = "HOME" if p % 2 == 0 else ("WORKPLACE" if p % 4 == 1 else "SITE_HOST")
        vat = next(vats["NL"]) if kind != "HOME" and p % 3 == 0 else ""
        payees.append(
            (p, e, e, TENANT, kind, f"Owner {p}", f"owner{p}@bench.example", vat,
             iban_nl("BANK", p), "", f"Hofstraat {p % 300 + 1}", "3500 AA",
             "Utrecht", "NL", f"P{p}")
        )  # fmt: skip
    copy_rows(conn, "rating_payee", PAYEE_COLUMNS, payees)
    copy_rows(conn, "invoicing_billingprofile", PROFILE_COLUMNS, profiles)
    copy_rows(
        conn,
        "invoicing_invoicingsettings",
        SETTINGS_COLUMNS,
        [
            (e, e, TENANT, "Bench Invoicing B.V.", "Stationsplein 1", "3511 ED", "Utrecht",
             "NL", next(vats["NL"]), "12345678", "billing@bench.example",
             "NL91ABNA0417164300", "ABNANL2A", TIME_ZONE, "en", 5, 14, "t", "INV", "EMSP",
             "SB", "CN")
        ],
    )  # fmt: skip


# -- set-based SQL: the rest of the reference data ----------------------------------------


def _tariff(engine: str, code: str, pcs: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "country_code": "NL",
            "party_id": "BIC" if engine != "RETAIL" else "BIE",
            "id": code,
            "currency": "EUR",
            "type": "REGULAR",
            "elements": [{"price_components": pcs}],
            "last_updated": "2025-01-01T00:00:00Z",
        }
    )


def reference_sql(customers: int) -> list[str]:
    """Operator (first), then everything but parties / customers / payees (copy_reference)
    and the sessions, CDRs and rated lines."""
    e = EPOCH
    tariffs = [
        ("WHOLESALE", OWN_CPO, "ST", [{"type": "FLAT", "price": 0.35, "step_size": 1,
          "vat": 21.0}, {"type": "ENERGY", "price": 0.29, "step_size": 1, "vat": 21.0},
          {"type": "PARKING_TIME", "price": 6.0, "step_size": 300, "vat": 21.0}]),
        ("RETAIL", OWN_EMSP, "RT", [{"type": "FLAT", "price": 0.30, "step_size": 1,
          "vat": 21.0}, {"type": "ENERGY", "price": 0.45, "step_size": 1, "vat": 21.0}]),
        ("REIMBURSEMENT", OWN_CPO, "RB", [{"type": "ENERGY", "price": 0.22, "step_size": 1,
          "vat": 21.0}]),
    ]  # fmt: skip
    out = [
        f"""INSERT INTO parties_operator (id, slug, name, is_active, created_at, marketplace)
        VALUES ({TENANT}, 'bench-invoicing', 'Bench Invoicing', true, '{e}', false)""",
    ]
    for i, (engine, party, code, pcs) in enumerate(tariffs, start=1):
        ocpi = _tariff(engine, code, pcs).replace("'", "''")
        out += [
            f"""INSERT INTO tariffs_tariff (id, created_at, updated_at, tenant_id, party_id,
                ocpi_id, name, currency, type, engine)
            VALUES ({i}, '{e}', '{e}', {TENANT}, {party}, '{code}', '{code}', 'EUR', 'REGULAR',
                    '{engine}')""",
            f"""INSERT INTO tariffs_tariffversion (id, created_at, updated_at, tenant_id,
                tariff_id, version, effective_from, ocpi)
            VALUES ({i}, '{e}', '{e}', {TENANT}, {i}, 1, '{e}', '{ocpi}')""",
            f"""INSERT INTO rating_billingrule (id, created_at, updated_at, tenant_id, engine,
                name) VALUES ({i}, '{e}', '{e}', {TENANT}, '{engine}', '{engine.title()}')""",
            f"""INSERT INTO rating_billingruleversion (created_at, updated_at, tenant_id,
                rule_id, version, effective_from, active, pricing, tariff_id, markup_percent,
                markup_per_kwh, markup_per_kwh_currency, margin_per_session,
                margin_per_session_currency, margin_per_kwh, margin_per_kwh_currency,
                cpo_scope, cpo_scope_value, emsp_scope, emsp_scope_value, valid_from,
                valid_until, weekdays, time_from, time_until, exceptions, reason)
            VALUES ('{e}', '{e}', {TENANT}, {i}, 1, '{e}', true, 'TARIFF', {i}, NULL, NULL,
                    NULL, {"0.25" if engine == "REIMBURSEMENT" else "NULL"},
                    {"'EUR'" if engine == "REIMBURSEMENT" else "NULL"},
                    {"0.02" if engine == "REIMBURSEMENT" else "NULL"},
                    {"'EUR'" if engine == "REIMBURSEMENT" else "NULL"}, 'ANY', '', 'ANY', '',
                    NULL, NULL, 127, NULL, NULL, '[]', '')""",
        ]
    out += [
        f"""INSERT INTO locations_location (id, created_at, updated_at, tenant_id, party_id,
            ocpi_id, name, address, city, postal_code, state, country, latitude, longitude,
            time_zone, parking_type, publish, charging_when_closed)
        SELECT l, '{e}', '{e}', {TENANT}, {OWN_CPO}, 'LOC' || l, 'Location ' || l,
               'Street ' || l, 'City ' || (l % 40), '1234 AB', '', 'NLD', 52.1, 5.1,
               '{TIME_ZONE}', '', true, true
        FROM generate_series(1, {LOCATIONS}) AS l""",
        # Station s at location (s - 1) / 5 + 1; payee p owns station 10 p: HCC_E on the
        # stations of every fourth owner (p mod 4 = 0), HCC_V on p mod 4 = 2 (home chargers).
        f"""INSERT INTO locations_chargestation (id, created_at, updated_at, tenant_id,
            identity, location_id, vendor, model, serial_number, firmware_version, ocpp_version,
            ocpp_versions, security_profile, password_hash, client_cert_fingerprint,
            client_cert_fingerprint_next, enabled, roaming, hcc, connectivity, gateway_node,
            connection_id)
        SELECT s, '{e}', '{e}', {TENANT}, 'BI-' || lpad(s::text, 5, '0'),
               (s - 1) / {STATIONS_PER_LOCATION} + 1, 'Bench', 'B1', '', '', '1.6', '', 1, '',
               '', '', true, true, {_station_hcc("s")}, 'unknown', '', ''
        FROM generate_series(1, {STATIONS}) AS s""",
        # Tokens 1..customers: the customers' (own eMSP); then partner tokens.
        f"""INSERT INTO tokens_token (id, created_at, updated_at, tenant_id, party_id, uid,
            type, contract_id, visual_number, issuer, group_id, valid, whitelist, language,
            default_profile_type, hcc)
        SELECT t, '{e}', '{e}', {TENANT},
               CASE WHEN t <= {customers} THEN {OWN_EMSP}
                    ELSE 3 + (t - {customers} - 1) % {PARTNERS} END,
               'I' || lpad(t::text, 8, '0'), 'RFID', 'NL-BIE-C' || t, '', 'Bench', '', true,
               'ALLOWED', '', '', ''
        FROM generate_series(1, {customers + PARTNER_TOKENS}) AS t""",
        f"""INSERT INTO customers_retailpackage (id, created_at, updated_at, tenant_id, name,
            description) VALUES (1, '{e}', '{e}', {TENANT}, 'Standard', '')""",
        f"""INSERT INTO customers_usergroup (id, created_at, updated_at, tenant_id, name)
        VALUES (1, '{e}', '{e}', {TENANT}, 'Everyone')""",
        f"""INSERT INTO customers_contract (id, created_at, updated_at, tenant_id, customer_id,
            token_id, reference, version, retail_package_id, user_group_id, valid_from,
            valid_until)
        SELECT t, '{e}', '{e}', {TENANT}, t, t, 'K' || t, 1, 1, 1, '{e}', NULL
        FROM generate_series(1, {customers}) AS t""",
        f"""INSERT INTO rating_payeeassignment (created_at, updated_at, tenant_id,
            charge_station_id, payee_id, effective_from)
        SELECT '{e}', '{e}', {TENANT}, p * 10, p, '{e}'
        FROM generate_series(1, {PAYEES}) AS p""",
    ]
    return out


def _station_hcc(s: str) -> str:
    """The HCC flag of station `s` (an SQL expression of the station id)."""
    return (
        f"CASE WHEN {s} % 10 = 0 AND {s} / 10 <= {PAYEES} AND ({s} / 10) % 4 = 0 THEN 'HCC_E'"
        f" WHEN {s} % 10 = 0 AND {s} / 10 <= {PAYEES} AND ({s} / 10) % 4 = 2 THEN 'HCC_V'"
        " ELSE '' END"
    )


# -- the CDRs of the month and their rated lines ------------------------------------------


def cdrs_sql(n: int, lo: int, hi: int, customers: int, month: str = MONTH) -> list[str]:
    """Sessions, CDRs and their rated lines for CDR ids lo..hi of n (ids = g)."""
    start, end = period(month)
    # Sessions last at most 4 h + 1 h parked: they start early enough to end in the month.
    span = ((end - start).total_seconds() - 5 * 3600 - 60) / n
    t0 = start.isoformat()
    base = f"""
        SELECT g, st, loc, tok, cus, emsp_party, ts,
               ts + charge * interval '1 second' AS charged_until,
               ts + (charge + park) * interval '1 second' AS ended, charge, park, kwh, hcc
        FROM (
            SELECT g, st, (st - 1) / {STATIONS_PER_LOCATION} + 1 AS loc,
                   (g * 7919) % {customers} + 1 AS cus,
                   CASE WHEN g % 5 = 4 THEN {customers} + 1 + (g / 5 * 131) % {PARTNER_TOKENS}
                        ELSE (g * 7919) % {customers} + 1 END AS tok,
                   CASE WHEN g % 5 = 4 THEN 3 + ((g / 5 * 131) % {PARTNER_TOKENS}) % {PARTNERS}
                        ELSE {OWN_EMSP} END AS emsp_party,
                   timestamptz '{t0}' + round(g * {span}) * interval '1 second' AS ts,
                   1200 + (g * 7919) % 13200 AS charge,
                   CASE WHEN g % 10 < 3 THEN 300 + (g * 31) % 3300 ELSE 0 END AS park,
                   round((3 + (g * 104729) % 57000 / 1000.0)::numeric, 3) AS kwh,
                   {_station_hcc("st")} AS hcc
            FROM (SELECT g, (g * 37 + g / 100000 * 7) % {STATIONS} + 1 AS st
                  FROM generate_series({lo}::bigint, {hi}::bigint) AS g) a
        ) b"""
    iso = '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''
    # The station tariff's amounts (wholesale = the CDR's totals): flat on even stations,
    # energy, parking on stations = 1 mod 4.
    priced = f"""
        SELECT c.*, CASE WHEN st % 2 = 0 THEN 0.35 ELSE 0 END AS fc, kwh * 0.29 AS ec_x,
               round(kwh * 0.29, 2) AS ec, 0::numeric AS tc,
               CASE WHEN st % 4 = 1 THEN ceil(park / 300.0) * 300 / 3600.0 * 6.0 ELSE 0 END
                 AS pc_x,
               CASE WHEN st % 4 = 1 THEN round(ceil(park / 300.0) * 300 / 3600.0 * 6.0, 2)
                    ELSE 0 END AS pc
        FROM ({base}) c"""
    return [
        f"""INSERT INTO charging_chargingsession (id, created_at, updated_at, tenant_id,
            charge_station_id, token_id, id_tag, token_source, emsp_party_id, emsp_tenant_id,
            ocpp_transaction_id, status, started_at, ended_at, meter_start_wh, meter_stop_wh,
            stop_reason, auth_method, authorization_reference, time_zone, tariff_version_id,
            currency, energy_wh, last_event_id, live_cost_event_id)
        SELECT g, ended, ended, {TENANT}, st, tok, 'I' || lpad(tok::text, 8, '0'),
               CASE WHEN emsp_party = {OWN_EMSP} THEN 'OWN' ELSE 'PARTNER' END, emsp_party,
               CASE WHEN emsp_party = {OWN_EMSP} THEN {TENANT} END, g::text, 'COMPLETED', ts,
               ended, 0, kwh * 1000, 'EVDisconnected', 'WHITELIST', '', '{TIME_ZONE}', 1,
               'EUR', kwh * 1000, 0, 0
        FROM ({base}) c""",
        f"""INSERT INTO charging_cdr (id, created_at, updated_at, tenant_id, party_id, ocpi_id,
            kind, session_id, tariff_version_id, start_date_time, end_date_time, currency,
            total_cost_excl_vat, total_cost_incl_vat, total_fixed_cost_excl_vat,
            total_fixed_cost_incl_vat, total_energy_cost_excl_vat, total_energy_cost_incl_vat,
            total_time_cost_excl_vat, total_time_cost_incl_vat, total_parking_cost_excl_vat,
            total_parking_cost_incl_vat, total_energy_kwh, total_time_hours,
            total_parking_time_hours, token_id, token_source, emsp_party_id, emsp_tenant_id,
            contract_id, customer_id, hcc, data, annotations)
        SELECT g, ended, ended, {TENANT}, {OWN_CPO}, 'CDR' || lpad(g::text, 10, '0'),
               'ORIGINAL', g, 1, ts, ended, 'EUR', fc + ec + tc + pc,
               round((fc + ec + tc + pc) * 1.21, 2), fc, round(fc * 1.21, 2), ec,
               round(ec * 1.21, 2), tc, round(tc * 1.21, 2), pc, round(pc * 1.21, 2), kwh,
               round(charge / 3600.0, 6), round(park / 3600.0, 6), tok,
               CASE WHEN emsp_party = {OWN_EMSP} THEN 'OWN' ELSE 'PARTNER' END, emsp_party,
               CASE WHEN emsp_party = {OWN_EMSP} THEN {TENANT} END, cus, cus, hcc,
               jsonb_build_object(
                 'country_code', 'NL', 'party_id', 'BIC', 'id', 'CDR' || lpad(g::text, 10, '0'),
                 'start_date_time', to_char(ts AT TIME ZONE 'UTC', {iso}),
                 'end_date_time', to_char(ended AT TIME ZONE 'UTC', {iso}),
                 'session_id', g::text, 'auth_method', 'WHITELIST', 'currency', 'EUR',
                 'cdr_token', jsonb_build_object('country_code', 'NL', 'party_id', 'BIE',
                     'uid', 'I' || lpad(tok::text, 8, '0'), 'type', 'RFID',
                     'contract_id', 'NL-BIE-C' || tok),
                 'cdr_location', jsonb_build_object('id', 'LOC' || loc,
                     'name', 'Location ' || loc, 'address', 'Street ' || loc,
                     'city', 'City ' || (loc % 40), 'postal_code', '1234 AB', 'country', 'NLD',
                     'evse_uid', 'E' || st, 'evse_id', 'NL*BIC*E' || st, 'connector_id', '1',
                     'connector_standard', 'IEC_62196_T2', 'connector_format', 'SOCKET',
                     'connector_power_type', 'AC_3_PHASE',
                     'coordinates', jsonb_build_object('latitude', '52.0907374',
                                                       'longitude', '5.1214201')),
                 'tariffs', '[]'::jsonb,
                 'charging_periods', jsonb_build_array(
                     jsonb_build_object('start_date_time', to_char(ts AT TIME ZONE 'UTC', {iso}),
                       'dimensions', jsonb_build_array(
                         jsonb_build_object('type', 'ENERGY', 'volume', kwh),
                         jsonb_build_object('type', 'TIME',
                                            'volume', round(charge / 3600.0, 6))))),
                 'total_cost', jsonb_build_object('excl_vat', fc + ec + tc + pc),
                 'total_energy', kwh, 'total_time', round((charge + park) / 3600.0, 6),
                 'last_updated', to_char(ended AT TIME ZONE 'UTC', {iso})),
               jsonb_build_object('time_zone', '{TIME_ZONE}', 'meter_start_wh', '0',
                   'meter_stop_wh', (kwh * 1000)::text, 'ocpp_transaction_id', g::text)
        FROM ({priced}) c""",
        # WHOLESALE: the CDR's totals; own charge when the eMSP is the tenant's own.
        _lines_sql(
            priced,
            engine="WHOLESALE",
            seller=f"{OWN_CPO}, NULL",
            buyer="emsp_party, NULL",
            own_charge=f"emsp_party = {OWN_EMSP}",
            fixed=("fc", "fc"),
            energy=("ec_x", "ec"),
            parking=("pc_x", "pc"),
            adjustment=("0", "0"),
            exempt="false",
        ),
        # RETAIL: 0.30 flat + 0.45 / kWh + the CDR's parking, to the CDR's customer.
        _lines_sql(
            priced,
            engine="RETAIL",
            seller=f"{OWN_EMSP}, NULL",
            buyer="NULL, cus",
            own_charge="false",
            fixed=("0.30", "0.30"),
            energy=("kwh * 0.45", "round(kwh * 0.45, 2)"),
            parking=("pc_x", "pc"),
            adjustment=("0", "0"),
            exempt="false",
        ),
        # REIMBURSEMENT on the payee stations: 0.22 / kWh less 0.25 + 0.02 / kWh of margin.
        _lines_sql(
            priced,
            engine="REIMBURSEMENT",
            seller="NULL, st / 10",
            buyer=f"{OWN_CPO}, NULL",
            own_charge="false",
            fixed=("0", "0"),
            energy=("kwh * 0.22", "round(kwh * 0.22, 2)"),
            parking=("0", "0"),
            adjustment=("-(0.25 + kwh * 0.02)", "-round(0.25 + kwh * 0.02, 2)"),
            exempt="hcc = 'HCC_E'",
            where=f"st % 10 = 0 AND st / 10 <= {PAYEES}",
        ),
    ]


LINE_COLUMNS = (
    "updated_at", "created_at", "tenant_id", "cdr_id", "engine", "seq", "kind", "reverses_id",
    "reason", "seller_party_id", "seller_payee_id", "buyer_party_id", "buyer_customer_id",
    "buyer_tenant_id", "own_charge", "rule_version_id", "tariff_version_id", "currency",
    "rounding_mode", "energy_kwh", "time_hours", "parking_hours", "fixed_exact", "fixed",
    "energy_exact", "energy", "time_exact", "time", "parking_exact", "parking",
    "reservation_exact", "reservation", "adjustment_exact", "adjustment", "total_excl_vat",
    "vat_rate", "vat_source", "vat_exemption_reason", "vat", "total_incl_vat", "hcc",
    "rated_by",
)  # fmt: skip


def _lines_sql(
    priced: str,
    *,
    engine: str,
    seller: str,
    buyer: str,
    own_charge: str,
    fixed: tuple[str, str],
    energy: tuple[str, str],
    parking: tuple[str, str],
    adjustment: tuple[str, str],
    exempt: str,
    where: str = "true",
) -> str:
    """One engine's LINE (seq 1) per CDR of `priced` matching `where`: the rounded
    components sum to total_excl_vat; VAT 21 % rounded half up, or 0 % exempt (HCC_E)."""
    version = RULE_VERSION[engine]
    reason = HCC_EXEMPTION_REASON.replace("'", "''")
    return f"""INSERT INTO rating_ratedline ({", ".join(LINE_COLUMNS)})
        SELECT at, at, {TENANT}, g, '{engine}', 1, 'LINE', NULL, '', {seller}, {buyer}, NULL,
               {own_charge}, {version}, {version}, 'EUR', 'ROUND_HALF_UP', kwh,
               round(charge / 3600.0, 6), round(park / 3600.0, 6), {fixed[0]}, {fixed[1]},
               {energy[0]}, {energy[1]}, 0, 0, {parking[0]}, {parking[1]}, 0, 0,
               {adjustment[0]}, {adjustment[1]}, net, rate,
               CASE WHEN exempt THEN 'HCC_EXEMPT' ELSE 'TARIFF' END,
               CASE WHEN exempt THEN '{reason}' ELSE '' END, round(net * rate / 100, 2),
               net + round(net * rate / 100, 2), hcc, 'system: bench-invoicing'
        FROM (
            SELECT p.*, ended + interval '5 minutes' AS at, {exempt} AS exempt,
                   CASE WHEN {exempt} THEN 0 ELSE 21 END AS rate,
                   {fixed[1]} + {energy[1]} + {parking[1]} + ({adjustment[1]}) AS net
            FROM ({priced}) p WHERE {where}
        ) x"""


def reratings_sql() -> list[str]:
    """Re-ratings of 0.1 % of the RETAIL lines (CDR id mod 1000 = 500): a REVERSAL of the
    line (seq 2, every amount negated) and a new LINE (seq 3) 10 % cheaper in energy, both
    written two days after the original."""
    negated = (
        "energy_kwh", "time_hours", "parking_hours", "fixed_exact", "fixed", "energy_exact",
        "energy", "time_exact", "time", "parking_exact", "parking", "reservation_exact",
        "reservation", "adjustment_exact", "adjustment", "total_excl_vat", "vat",
        "total_incl_vat",
    )  # fmt: skip
    copied = (
        "tenant_id", "cdr_id", "engine", "seller_party_id", "seller_payee_id",
        "buyer_party_id", "buyer_customer_id", "buyer_tenant_id", "own_charge",
        "rule_version_id", "tariff_version_id", "currency", "rounding_mode", "vat_rate",
        "vat_source", "vat_exemption_reason", "hcc",
    )  # fmt: skip
    when = "r.created_at + interval '2 days'"
    pick = (
        "FROM rating_ratedline r WHERE r.engine = 'RETAIL' AND r.seq = 1 AND r.cdr_id % 1000 = 500"
    )
    repriced = {
        "energy_exact": "r.energy_exact * 0.9",
        "energy": "round(r.energy_exact * 0.9, 2)",
        "total_excl_vat": "r.total_excl_vat - r.energy + round(r.energy_exact * 0.9, 2)",
        "vat": "round((r.total_excl_vat - r.energy + round(r.energy_exact * 0.9, 2))"
        " * r.vat_rate / 100, 2)",
        "total_incl_vat": "(r.total_excl_vat - r.energy + round(r.energy_exact * 0.9, 2))"
        " + round((r.total_excl_vat - r.energy + round(r.energy_exact * 0.9, 2))"
        " * r.vat_rate / 100, 2)",
    }
    cols = ", ".join((*copied, *negated))
    return [
        f"""INSERT INTO rating_ratedline (updated_at, created_at, seq, kind, reverses_id,
            reason, rated_by, {cols})
        SELECT {when}, {when}, 2, 'REVERSAL', r.id, 'bench: re-rated', 'user: bench',
               {", ".join(f"r.{c}" for c in copied)}, {", ".join(f"-r.{c}" for c in negated)}
        {pick}""",
        f"""INSERT INTO rating_ratedline (updated_at, created_at, seq, kind, reverses_id,
            reason, rated_by, {cols})
        SELECT {when}, {when}, 3, 'LINE', NULL, 'bench: re-rated', 'user: bench',
               {", ".join(f"r.{c}" for c in copied)},
               {", ".join(repriced.get(c, f"r.{c}") for c in negated)}
        {pick}""",
    ]


def build(
    conn: Any,
    *,
    customers: int,
    cdrs: int,
    month: str = MONTH,
    chunk: int = 100_000,
    progress: Any = None,
) -> dict[str, float]:
    """Everything into a fresh, migrated database (a psycopg 3 connection, not autocommit):
    reference data, then the CDRs in chunks of `chunk` (one commit each), the re-ratings,
    the sequences past the fixed ids. Seconds per step."""
    import time

    t = time.monotonic()
    steps: dict[str, float] = {}
    sql = reference_sql(customers)
    conn.execute(sql[0])  # the operator first: the COPYed rows point at it
    copy_reference(conn, customers)
    for statement in sql[1:]:
        conn.execute(statement)
    conn.commit()
    steps["reference_seconds"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    for lo in range(1, cdrs + 1, chunk):
        for statement in cdrs_sql(cdrs, lo, min(cdrs, lo + chunk - 1), customers, month):
            conn.execute(statement)
        conn.commit()
        if progress is not None:
            progress(min(cdrs, lo + chunk - 1))
    for statement in reratings_sql():
        conn.execute(statement)
    conn.commit()
    steps["cdrs_seconds"] = round(time.monotonic() - t, 1)
    tables = conn.execute(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'id'"
        " AND table_schema = 'public' AND column_default LIKE 'nextval%%'"
    ).fetchall()
    for (table,) in tables:
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" greatest((SELECT max(id) FROM {table}), 1))"
        )
    conn.commit()
    return steps
