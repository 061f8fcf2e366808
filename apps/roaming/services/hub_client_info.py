"""HubClientInfo, receiver side (OCPI 2.2.1 mod_hub_client_info): a hub tells us the
connection status of the parties behind it. A party that is not CONNECTED gets no pushes
(the push outbox holds them); back to CONNECTED, its held pushes are released (what we owe
it as CPO), and a CPO party's locations and tariffs are pulled again through the hub from
when it went away (what it changed meanwhile, as eMSP; task roaming.emsp_party_resync)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.common.jobs import enqueue
from apps.roaming import jobs, transport
from apps.roaming.contracts import (
    HubPartyStatus,
    OcpiRole,
)
from apps.roaming.models import OcpiConnection, OcpiPartyRole
from apps.roaming.services import push
from apps.roaming.services.credentials_wire import (
    CredentialsRefused,
    audit_change,
    clean_text,
    link_partner,
    partner_actor,
)
from apps.roaming.services.emsp_tokens import own_emsp_parties

# -- HubClientInfo (receiver) --------------------------------------------------------------


def client_info_get(*, connection_id: int, country_code: str, party_id: str) -> dict[str, Any]:
    row = (
        OcpiPartyRole.objects.filter(
            connection_id=connection_id,
            country_code__iexact=country_code,
            party_id__iexact=party_id,
        )
        .order_by("role")
        .first()
    )
    if row is None:
        raise CredentialsRefused(
            404, transport.CLIENT_ERROR, f"unknown party {country_code}*{party_id}"
        )
    return _client_info(row)


def _client_info(row: OcpiPartyRole) -> dict[str, Any]:
    return {
        "party_id": row.party_id,
        "country_code": row.country_code,
        "role": row.role,
        "status": row.hub_status,
        "last_updated": row.hub_status_updated or row.updated_at,
    }


def client_info_put(
    *, connection_id: int, country_code: str, party_id: str, body: Any, now: datetime | None = None
) -> tuple[dict[str, Any], bool]:
    """A hub's ClientInfo for one party: store its status (OFFLINE and the like: the push
    outbox holds what is owed to it); back to CONNECTED: release the held pushes and, for a
    CPO party when we are an eMSP, queue the GET re-sync of its locations and tariffs since
    it left CONNECTED (everything when it never was: PLANNED). Returns (the stored
    ClientInfo, created)."""
    if not isinstance(body, Mapping):
        raise CredentialsRefused(
            400, transport.INVALID_PARAMETERS, "$: a ClientInfo object is required"
        )
    for field, value in (("country_code", country_code), ("party_id", party_id)):
        sent = clean_text(body.get(field))
        if sent and sent.upper() != value.upper():
            raise CredentialsRefused(
                400,
                transport.INVALID_PARAMETERS,
                f"$.{field}: {sent!r} differs from the URL's {value!r}",
            )
    if len(country_code) != 2 or len(party_id) != 3:
        raise CredentialsRefused(
            400, transport.INVALID_PARAMETERS, "the URL needs a country code and a party id"
        )
    status = clean_text(body.get("status")).upper()
    if status not in HubPartyStatus.__members__:
        raise CredentialsRefused(
            400,
            transport.INVALID_PARAMETERS,
            f"$.status: {status!r} is not CONNECTED / OFFLINE / PLANNED / SUSPENDED",
        )
    role = clean_text(body.get("role")).upper()
    if role not in OcpiRole.__members__:
        raise CredentialsRefused(
            400, transport.INVALID_PARAMETERS, f"$.role: {role!r} is not an OCPI role"
        )
    at = now or timezone.now()
    conn = OcpiConnection.objects.get(pk=connection_id)
    cc, pid = country_code.upper(), party_id.upper()
    with transaction.atomic():
        row = (
            OcpiPartyRole.objects.select_for_update()
            .filter(connection=conn, country_code=cc, party_id=pid, role=role)
            .first()
        )
        created = row is None
        if row is None:
            row = OcpiPartyRole(
                tenant_id=conn.tenant_id,
                connection=conn,
                country_code=cc,
                party_id=pid,
                role=role,
                partner_id=link_partner(conn, role, cc, pid, "", "", partner_actor(conn.name)),
            )
        was = row.hub_status if not created else None
        away_since = row.hub_away_since
        connected = HubPartyStatus.CONNECTED.value
        if status in (connected, HubPartyStatus.PLANNED.value):
            row.hub_away_since = None  # PLANNED: not live yet, its return re-pulls it all
        elif was == connected or created:
            row.hub_away_since = at  # it leaves now (OFFLINE -> SUSPENDED keeps the start)
        row.hub_status = status
        row.hub_status_updated = at
        row.save()
        back = status == HubPartyStatus.CONNECTED.value and was not in (
            None,
            HubPartyStatus.CONNECTED.value,
        )
        if was != status:
            audit_change(
                conn,
                partner_actor(conn.name),
                "roaming.hub_client_info",
                {"party": f"{role} {cc}*{pid}", "status": was},
                {"party": f"{role} {cc}*{pid}", "status": status},
            )
        if back:
            # As CPO: what we owed the party was held; released now, in order.
            push.pushes_release(connection_id=conn.pk, country_code=cc, party_id=pid, now=at)
            if role == OcpiRole.CPO.value and own_emsp_parties(conn.tenant_id):
                # As eMSP: what the CPO changed while away never reached us: GET it (a
                # task after the commit: the hub's PUT is answered at once).
                _resync_enqueue(conn.pk, cc, pid, away_since)
    return _client_info(row), created


def _resync_enqueue(
    connection_id: int, country_code: str, party_id: str, away_since: datetime | None
) -> None:
    since = transport.iso(away_since) if away_since is not None else None
    transaction.on_commit(
        lambda: enqueue(
            jobs.EMSP_PARTY_RESYNC,
            connection_id,
            country_code,
            party_id,
            since,
            ignore_result=True,
        )
    )
