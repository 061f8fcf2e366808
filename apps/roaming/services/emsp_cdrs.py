"""CDRs a CPO partner sends us (eMSP role; POST, or pulled): stored in ForeignCdr under the
connection's tenant, raw body kept byte for byte, never refused for their content.

- The party is the body's country_code / party_id (2.2.1), else the routing headers' FROM,
  else the connection's CPO role (2.1.1). A party that is not a CPO role of the connection is
  stored with a flag (a CDR is money: never refused for that).
- Every rule it breaks is a flag with its reason (services.emsp_rules); it is re-priced at
  once (services.reconcile), before its row is written: the row is inserted once, with the
  re-pricing on it.
- Stored once per (party, id): the same id again is answered OK, not stored again, and
  flagged `duplicate` on the stored CDR when the body differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from apps.roaming import transport
from apps.roaming.models import ForeignCdr
from apps.roaming.services import emsp_billing, emsp_rules, reconcile
from apps.roaming.services.emsp_in import (
    MAX_ID,
    ConnectionCpo,
    Stored,
    connection_cpo,
    connection_of,
    invalid,
)
from apps.roaming.services.emsp_rules import Flag, flag, key


def _cdr_party(
    conn: ConnectionCpo, body: Mapping[str, Any], routing: tuple[str, str] | None
) -> tuple[tuple[str, str], list[Flag]]:
    """Whose CDR: the body's country_code / party_id (2.2.1), else the routing headers'
    FROM, else the connection's (first) CPO role. Not a CPO role of the connection: flagged."""
    parties = conn.cpo_parties
    cc, pid = body.get("country_code"), body.get("party_id")
    if isinstance(cc, str) and isinstance(pid, str) and cc and pid:
        party = (key(cc), key(pid))
    elif routing is not None and all(routing):
        party = (key(routing[0]), key(routing[1]))
    elif parties:
        party = parties[0]
    else:
        raise invalid("the CDR names no party and the connection has no CPO role")
    flags: list[Flag] = []
    if party not in parties:
        flags.append(
            flag("party_not_of_connection", f"{party[0]}/{party[1]} is not a CPO role of it")
        )
    return party, flags


def _location_id(body: Mapping[str, Any], version: str) -> str | None:
    loc = body.get("cdr_location" if version != "2.1.1" else "location")
    lid = loc.get("id") if isinstance(loc, Mapping) else None
    return lid if isinstance(lid, str) and lid else None


def cdr_receive(
    *,
    connection_id: int,
    version: str,
    raw: str,
    body: Any,
    now: datetime,
    routing: tuple[str, str] | None = None,
) -> Stored:
    """Store a CDR (POST, or one pulled): flagged with every rule it breaks, re-priced
    (services.reconcile), never refused for its content; the same id again is not stored
    twice (also when two deliveries race: the loser answers as a repeat). Refused (2001)
    only without an id we can key it by.

    One transaction: the stored location and period tariffs in one read, the checks and
    the re-pricing in memory, then the row's INSERT (the unique (tenant, party, id) makes
    a repeat, or the loser of a race, fail there: the transaction is rolled back and the
    stored CDR answered as a repeat), then billing (services.emsp_billing)."""
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object (a CDR)")
    cdr_id = body.get("id")
    if not isinstance(cdr_id, str) or not cdr_id.strip() or len(cdr_id) > MAX_ID:
        raise invalid(f"$.id is required (a string of at most {MAX_ID} characters)")
    conn = connection_cpo(connection_id)
    party, flags = _cdr_party(conn, body, routing)
    try:
        with transaction.atomic():
            objects = reconcile.stored_objects(
                tenant_id=conn.tenant_id,
                country_code=party[0],
                party_id=party[1],
                cdr=body,
                version=version,
            )
            lid = _location_id(body, version)
            flags += emsp_rules.cdr_flags(
                body,
                version=version,
                location_known=None if lid is None else objects.get("locations", lid) is not None,
                referenced_known=_referenced_known(conn, party, body),
            )
            currency, ref = body.get("currency"), body.get("credit_reference_id")
            row = ForeignCdr(
                tenant_id=conn.tenant_id,
                connection_id=conn.pk,
                country_code=party[0],
                party_id=party[1],
                cdr_id=key(cdr_id),
                raw=raw,
                data=body,
                credit=body.get("credit") is True,
                credit_reference_id=ref[:MAX_ID] if isinstance(ref, str) else "",
                currency=currency[:3] if isinstance(currency, str) else "",
                total_cost_excl_vat=emsp_rules.price_excl(body.get("total_cost"), version),
                flags=flags,
                received_at=now,
            )
            reconcile.reprice(row, version=version, objects=objects)
            row.save(force_insert=True)
            # Into the billing engines (ADR 0041): rated, invoiced and exported like a local
            # CDR.
            emsp_billing.cdr_bill(row=row, conn=conn, version=version)
    except IntegrityError:  # stored before (a repeat), or a concurrent delivery committed first
        with transaction.atomic():
            found = _cdr_row(conn, party, cdr_id)
            if found is None:
                raise
            return _repeat(found, body, now)
    return Stored(row.pk, True, tuple(row.flags))


def _cdr_row(conn: ConnectionCpo, party: tuple[str, str], cdr_id: str) -> ForeignCdr | None:
    return (
        ForeignCdr.objects.select_for_update()
        .filter(tenant_id=conn.tenant_id, country_code=party[0], party_id=party[1])
        .filter(cdr_id=key(cdr_id))
        .first()
    )


def _repeat(found: ForeignCdr, body: Mapping[str, Any], now: datetime) -> Stored:
    """The same CDR again: nothing stored; flagged `duplicate` when the body differs."""
    if transport.loads(found.raw) != body:
        found.flags = [
            *found.flags,
            flag("duplicate", f"sent again {transport.iso(now)} with a different body"),
        ]
        found.save(update_fields=["flags", "updated_at"])
    return Stored(found.pk, False, tuple(found.flags))


def _referenced_known(
    conn: ConnectionCpo, party: tuple[str, str], body: Mapping[str, Any]
) -> bool | None:
    ref = body.get("credit_reference_id")
    if not isinstance(ref, str) or not ref:
        return None
    return ForeignCdr.objects.filter(
        tenant_id=conn.tenant_id, country_code=party[0], party_id=party[1], cdr_id=key(ref)
    ).exists()


def cdr_get(*, connection_id: int, cdr_pk: int) -> str | None:
    """The CDR as received (byte for byte), for the connection that sent it; else None."""
    conn = connection_of(connection_id)
    raw: str | None = (
        ForeignCdr.objects.filter(tenant_id=conn.tenant_id, connection=conn, pk=cdr_pk)
        .values_list("raw", flat=True)
        .first()
    )
    return raw
