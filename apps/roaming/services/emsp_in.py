"""What a CPO partner sends us as eMSP (receivers of locations, tariffs, sessions; the pull
stores the same way): stored in ForeignObject under the connection's tenant.

- Ids are CiStrings: the row's keys are upper-cased for the lookup, the document keeps the
  partner's casing.
- The country_code / party_id in the URL (objects) must be a CPO role of the connection:
  otherwise 2001 (a partner writes only its own objects; without this check it could
  overwrite another partner's).
- An id in the body that differs from the URL's: 2001. PATCH without `last_updated`: 2001.
- A tariff DELETE keeps the row with a `deleted` flag (old CDRs are still re-priced with
  it); GET then answers 404.
- CDRs: services.emsp_cdrs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from apps.roaming import transport
from apps.roaming.contracts import OcpiRole
from apps.roaming.models import ForeignObject, OcpiConnection, OcpiPartyRole
from apps.roaming.services import emsp_rules
from apps.roaming.services.emsp_rules import Flag, flag, is_deleted, key
from billing.pricing import PricingInputError, parse_tariff

OBJECT_MODULES = ("locations", "tariffs", "sessions")
MAX_ID = 64


class Rejected(Exception):
    """The call cannot be stored: answer `status_code` (2001 ...) with HTTP `http_status`."""

    def __init__(self, status_code: int, message: str, *, http_status: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.http_status = http_status
        self.message = message


@dataclass(frozen=True)
class Stored:
    pk: int
    created: bool
    flags: tuple[Flag, ...]


def invalid(message: str) -> Rejected:
    return Rejected(transport.INVALID_PARAMETERS, message)


def connection_of(connection_id: int) -> OcpiConnection:
    return OcpiConnection.objects.get(pk=connection_id)


@dataclass(frozen=True)
class ConnectionCpo:
    """What a CDR receive needs of its connection, and the connection's CPO parties
    (upper-cased, in the order of `cpo_parties`)."""

    pk: int
    tenant_id: int
    name: str
    cpo_parties: tuple[tuple[str, str], ...]


def connection_cpo(connection_id: int) -> ConnectionCpo:
    """The connection and its CPO parties in one query (OcpiConnection.DoesNotExist when
    there is no such connection)."""
    rows = list(
        OcpiConnection.objects.filter(pk=connection_id).values_list(
            "tenant_id",
            "name",
            "roles__id",
            "roles__role",
            "roles__country_code",
            "roles__party_id",
        )
    )
    if not rows:
        raise OcpiConnection.DoesNotExist(f"no OCPI connection {connection_id}")
    roles = sorted((r[2], r[4], r[5]) for r in rows if r[3] == OcpiRole.CPO.value)
    return ConnectionCpo(
        pk=connection_id,
        tenant_id=rows[0][0],
        name=rows[0][1],
        cpo_parties=tuple((cc.upper(), pid.upper()) for _, cc, pid in roles),
    )


def cpo_parties(conn: OcpiConnection) -> list[tuple[str, str]]:
    """The connection's CPO parties (upper-cased), in a stable order."""
    return [
        (cc.upper(), pid.upper())
        for cc, pid in OcpiPartyRole.objects.filter(connection=conn, role=OcpiRole.CPO.value)
        .order_by("id")
        .values_list("country_code", "party_id")
    ]


def check_party(conn: OcpiConnection, country_code: str, party_id: str) -> tuple[str, str]:
    party = (key(country_code), key(party_id))
    if party not in cpo_parties(conn):
        raise invalid(
            f"country_code/party_id {country_code}/{party_id} in the URL is not a CPO role "
            "of this connection"
        )
    return party


def _check_body(
    body: Any, *, version: str, id_field: str, object_id: str, party: tuple[str, str] | None
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    got = body.get(id_field)
    if got is not None and (not isinstance(got, str) or key(got) != key(object_id)):
        raise invalid(f"$.{id_field} {got!r} differs from the id in the URL {object_id!r}")
    if party is not None and version != "2.1.1":
        for name, want in zip(("country_code", "party_id"), party, strict=True):
            value = body.get(name)
            if value is not None and (not isinstance(value, str) or key(value) != want):
                raise invalid(f"$.{name} {value!r} differs from the URL's {want!r}")
    return body


def _object_flags(module: str, version: str, body: Mapping[str, Any]) -> list[Flag]:
    out = emsp_rules.missing_fields(module, version, body)
    if module == "tariffs":
        out.extend(tariff_flags(body, version))
    if module == "locations":
        for i, evse in enumerate(body.get("evses") or []):
            if isinstance(evse, Mapping):
                out.extend(emsp_rules.missing_fields("evses", version, evse, f"$.evses[{i}]"))
    return out


def tariff_flags(body: Mapping[str, Any], version: str) -> list[Flag]:
    """The pricing core's own validation of the tariff (one parser for validation and
    pricing): each issue with its JSON path."""
    try:
        parse_tariff(body, ocpi_version=version)
    except PricingInputError as exc:
        return [flag("tariff_invalid", str(issue)) for issue in exc.issues]
    return []


def _row(conn: OcpiConnection, module: str, party: tuple[str, str], object_id: str) -> Any:
    return (
        ForeignObject.objects.select_for_update()
        .filter(
            tenant_id=conn.tenant_id,
            module=module,
            country_code=party[0],
            party_id=party[1],
            object_id=key(object_id),
        )
        .first()
    )


def _save(
    conn: OcpiConnection,
    module: str,
    party: tuple[str, str],
    object_id: str,
    data: dict[str, Any],
    flags: list[Flag],
    *,
    now: datetime,
) -> Stored:
    updated, more = emsp_rules.last_updated(data, now=now)
    flags = flags + more
    row = _row(conn, module, party, object_id)
    if row is None:
        try:
            with transaction.atomic():
                row = ForeignObject.objects.create(
                    tenant_id=conn.tenant_id,
                    connection=conn,
                    module=module,
                    country_code=party[0],
                    party_id=party[1],
                    object_id=key(object_id),
                    data=data,
                    last_updated=updated,
                    flags=flags,
                )
            return Stored(row.pk, True, tuple(flags))
        except IntegrityError:  # a concurrent PUT of the same object won: update it
            row = _row(conn, module, party, object_id)
    row.connection = conn
    row.data = data
    row.last_updated = updated
    row.flags = flags
    row.save(update_fields=["connection", "data", "last_updated", "flags", "updated_at"])
    return Stored(row.pk, False, tuple(flags))


@transaction.atomic
def object_put(
    *,
    connection_id: int,
    module: str,
    version: str,
    country_code: str,
    party_id: str,
    object_id: str,
    body: Any,
    now: datetime,
) -> Stored:
    """PUT of a whole location, tariff or session (also what a pull stores per object)."""
    conn = connection_of(connection_id)
    party = check_party(conn, country_code, party_id)
    _check_id(object_id)
    data = _check_body(body, version=version, id_field="id", object_id=object_id, party=party)
    return _save(
        conn, module, party, object_id, data, _object_flags(module, version, data), now=now
    )


def _check_id(object_id: str) -> None:
    if not object_id.strip() or len(object_id) > MAX_ID:
        raise invalid(f"the id {object_id!r} is empty or longer than {MAX_ID} characters")


def _require_last_updated(body: Any) -> None:
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    if emsp_rules.parse_datetime(body.get("last_updated")) is None:
        raise invalid("$.last_updated is required on PATCH (a DateTime)")


def _unknown(module: str, what: str) -> Rejected:
    code = transport.UNKNOWN_LOCATION if module == "locations" else transport.CLIENT_ERROR
    return Rejected(code, f"unknown {what}", http_status=404)


@transaction.atomic
def object_patch(
    *,
    connection_id: int,
    module: str,
    version: str,
    country_code: str,
    party_id: str,
    object_id: str,
    body: Any,
    now: datetime,
) -> Stored:
    """PATCH of a location, tariff or session: the fields given replace the stored ones;
    a session's `charging_periods` are appended (a period already stored, equal in every
    field, is not appended twice: hubs resend)."""
    conn = connection_of(connection_id)
    party = check_party(conn, country_code, party_id)
    _require_last_updated(body)
    _check_body(body, version=version, id_field="id", object_id=object_id, party=party)
    row = _row(conn, module, party, object_id)
    if row is None:
        raise _unknown(module, f"{module[:-1]} {object_id!r}")
    data = dict(row.data)
    for name, value in body.items():
        if module == "sessions" and name == "charging_periods" and isinstance(value, list):
            have = list(data.get("charging_periods") or [])
            have.extend(p for p in value if p not in have)
            data[name] = have
        else:
            data[name] = value
    return _save(
        conn, module, party, object_id, data, _object_flags(module, version, data), now=now
    )


def _find(items: Any, field: str, wanted: str) -> int | None:
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, Mapping) and isinstance(item.get(field), str):
            if key(item[field]) == key(wanted):
                return i
    return None


@transaction.atomic
def location_part_write(
    *,
    connection_id: int,
    version: str,
    country_code: str,
    party_id: str,
    location_id: str,
    evse_uid: str,
    connector_id: str | None,
    body: Any,
    patch: bool,
    now: datetime,
) -> Stored:
    """PUT / PATCH of one EVSE or connector: merged into the stored location document (a
    PUT replaces or adds the part, a PATCH updates its fields); the parents' `last_updated`
    follow the part's (mod_locations: a change of a child is a change of its parent)."""
    conn = connection_of(connection_id)
    party = check_party(conn, country_code, party_id)
    if patch:
        _require_last_updated(body)
    field, wanted = ("id", connector_id) if connector_id is not None else ("uid", evse_uid)
    part = _check_body(body, version=version, id_field=field, object_id=wanted, party=None)
    if not patch:
        part.setdefault(field, wanted)  # the URL names the part: keep it findable
    row = _row(conn, "locations", party, location_id)
    if row is None:
        raise _unknown("locations", f"location {location_id!r}")
    data = dict(row.data)
    evses = list(data.get("evses") or [])
    ei = _find(evses, "uid", evse_uid)
    stamp = part.get("last_updated")
    if connector_id is None:
        new = {**evses[ei], **part} if patch and ei is not None else part
        if patch and ei is None:
            raise _unknown("locations", f"EVSE {evse_uid!r}")
        evses = _replace(evses, ei, new)
    else:
        if ei is None:
            raise _unknown("locations", f"EVSE {evse_uid!r}")
        evse = dict(evses[ei])
        conns = list(evse.get("connectors") or [])
        ci = _find(conns, "id", connector_id)
        if patch and ci is None:
            raise _unknown("locations", f"connector {connector_id!r}")
        new = {**conns[ci], **part} if patch and ci is not None else part
        evse["connectors"] = _replace(conns, ci, new)
        if stamp is not None:
            evse["last_updated"] = stamp
        evses[ei] = evse
    data["evses"] = evses
    if stamp is not None:
        data["last_updated"] = stamp
    flags = _object_flags("locations", version, data)
    if connector_id is not None or not patch:
        kind = "connectors" if connector_id is not None else "evses"
        flags += emsp_rules.missing_fields(kind, version, new, f"$.{kind}[{wanted}]")
    return _save(conn, "locations", party, location_id, data, flags, now=now)


def _replace(items: list[Any], index: int | None, new: Any) -> list[Any]:
    if index is None:
        return [*items, new]
    return [*items[:index], new, *items[index + 1 :]]


@transaction.atomic
def tariff_delete(
    *, connection_id: int, country_code: str, party_id: str, tariff_id: str, now: datetime
) -> None:
    conn = connection_of(connection_id)
    party = check_party(conn, country_code, party_id)
    row = _row(conn, "tariffs", party, tariff_id)
    if row is None or is_deleted(row.flags):
        raise _unknown("tariffs", f"tariff {tariff_id!r}")
    row.flags = [*row.flags, flag("deleted", f"DELETE received {transport.iso(now)}")]
    row.save(update_fields=["flags", "updated_at"])


def object_get(
    *,
    connection_id: int,
    module: str,
    country_code: str,
    party_id: str,
    object_id: str,
    evse_uid: str | None = None,
    connector_id: str | None = None,
) -> dict[str, Any] | None:
    """The stored document (or one of a location's EVSEs / connectors), as the partner sent
    it; None when unknown or deleted. Only the calling connection's parties are readable."""
    conn = connection_of(connection_id)
    party = check_party(conn, country_code, party_id)
    row = (
        ForeignObject.objects.filter(
            tenant_id=conn.tenant_id,
            module=module,
            country_code=party[0],
            party_id=party[1],
            object_id=key(object_id),
        )
        .only("data", "flags")
        .first()
    )
    if row is None or is_deleted(row.flags):
        return None
    data: dict[str, Any] = row.data
    if evse_uid is None:
        return data
    ei = _find(data.get("evses"), "uid", evse_uid)
    if ei is None:
        return None
    evse: dict[str, Any] = data["evses"][ei]
    if connector_id is None:
        return evse
    ci = _find(evse.get("connectors"), "id", connector_id)
    return None if ci is None else evse["connectors"][ci]
