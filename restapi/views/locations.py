from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.charging import api as charging_api
from apps.common.errors import Problem, ValidationFailed
from apps.locations import api as locations_api
from apps.locations.contracts import CommandRequest, CommandType, SecurityProfile, to_json
from restapi.base import ApiView, with_etag
from restapi.idempotency import idempotent
from restapi.pagination import PageQuery, page_of, paginate
from restapi.serializers import locations as s

_LOCATION_ID = OpenApiParameter("location_id", int, OpenApiParameter.PATH)
_STATION_ID = OpenApiParameter("station_id", int, OpenApiParameter.PATH)


def _location_values(data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    coordinates = values.pop("coordinates", None)
    if coordinates:
        values["latitude"] = Decimal(coordinates["latitude"])
        values["longitude"] = Decimal(coordinates["longitude"])
    if "evses" in values:
        values["evses"] = [
            {**e, "connectors": [dict(c) for c in e["connectors"]]} for e in values["evses"]
        ]
    return values


class LocationListView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["locations"],
        operation_id="locations_list",
        parameters=[s.LocationListQuery],
        responses=page_of(s.LocationOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.LocationListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: locations_api.location_list(tenant_id=self.tenant_id, **page, **q),
            key=lambda r: r.platform_id,
            item=s.LocationOut,
        )
        return Response(body, headers=headers)


class LocationCreateView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["locations"],
        operation_id="locations_create",
        request=s.LocationIn,
        responses={201: s.LocationOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _location_values(self.body(s.LocationIn))
        record = locations_api.location_create(
            tenant_id=self.tenant_id,
            country_code=data.pop("country_code"),
            party_id=data.pop("party_id"),
            ocpi_id=data.pop("id"),
            values=data,
            actor=self.actor,
        )
        return with_etag(Response(s.LocationOut(record).data, status=201), record.etag)


class LocationCollection(LocationListView, LocationCreateView):
    pass


class LocationGetView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["locations"],
        operation_id="locations_get",
        parameters=[_LOCATION_ID],
        responses=s.LocationOut,
    )
    def get(self, request: Request, location_id: int) -> Response:
        record = locations_api.location_get(tenant_id=self.tenant_id, location_id=location_id)
        return with_etag(Response(s.LocationOut(record).data), record.etag)


class LocationPatchView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["locations"],
        operation_id="locations_update",
        parameters=[_LOCATION_ID],
        request=s.LocationPatchIn,
        responses=s.LocationOut,
    )
    def patch(self, request: Request, location_id: int) -> Response:
        values = _location_values(self.body(s.LocationPatchIn))
        record = locations_api.location_update(
            tenant_id=self.tenant_id,
            location_id=location_id,
            if_match=self.if_match(),
            values=values,
            actor=self.actor,
        )
        return with_etag(Response(s.LocationOut(record).data), record.etag)


class LocationItem(LocationGetView, LocationPatchView):
    pass


class EvsePutView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["locations"],
        operation_id="locations_evse_upsert",
        parameters=[
            _LOCATION_ID,
            OpenApiParameter(
                "evse_uid", str, OpenApiParameter.PATH, pattern=s.OCPI_ID, description="OCPI uid"
            ),
        ],
        request=s.EvsePutIn,
        responses={200: s.LocationOut, 201: s.LocationOut},
        description="Create or replace one EVSE (and its connectors) of a location. The ETag "
        "(and `If-Match`) is the location's: the EVSE is part of it.",
    )
    def put(self, request: Request, location_id: int, evse_uid: str) -> Response:
        data = self.body(s.EvsePutIn)
        data["connectors"] = [dict(c) for c in data["connectors"]]
        record, created = locations_api.evse_put(
            tenant_id=self.tenant_id,
            location_id=location_id,
            uid=evse_uid,
            values=data,
            if_match=self.if_match(),
            actor=self.actor,
        )
        return with_etag(
            Response(s.LocationOut(record).data, status=201 if created else 200), record.etag
        )


class ChargeStationListView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["charge-stations"],
        operation_id="charge_stations_list",
        parameters=[s.ChargeStationListQuery],
        responses=page_of(s.ChargeStationOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.ChargeStationListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: locations_api.charge_station_list(tenant_id=self.tenant_id, **page, **q),
            key=lambda r: r.id,
            item=s.ChargeStationOut,
        )
        return Response(body, headers=headers)


class ChargeStationCreateView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["charge-stations"],
        operation_id="charge_stations_create",
        request=s.ChargeStationIn,
        responses={201: s.ChargeStationCreatedOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.ChargeStationIn)
        evses = [dict(e) for e in data.pop("evses", [])]
        record, password = locations_api.charge_station_create(
            tenant_id=self.tenant_id,
            identity=data.pop("identity"),
            location_id=data.pop("location_id", None),
            security_profile=SecurityProfile(int(data.pop("security_profile"))),
            client_cert_fingerprint=data.pop("client_cert_fingerprint", ""),
            values=data,
            evses=evses,
            actor=self.actor,
        )
        out = {**s.ChargeStationOut(record).data, "password": password}
        return with_etag(Response(out, status=201), record.etag)


class ChargeStationCollection(ChargeStationListView, ChargeStationCreateView):
    pass


class ChargeStationGetView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["charge-stations"],
        operation_id="charge_stations_get",
        parameters=[_STATION_ID],
        responses=s.ChargeStationOut,
    )
    def get(self, request: Request, station_id: int) -> Response:
        record = locations_api.charge_station_get(tenant_id=self.tenant_id, station_id=station_id)
        return with_etag(Response(s.ChargeStationOut(record).data), record.etag)


class ChargeStationPatchView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["charge-stations"],
        operation_id="charge_stations_update",
        parameters=[_STATION_ID],
        request=s.ChargeStationPatchIn,
        responses=s.ChargeStationOut,
    )
    def patch(self, request: Request, station_id: int) -> Response:
        values = self.body(s.ChargeStationPatchIn)
        evses = values.pop("evses", None)
        record = locations_api.charge_station_update(
            tenant_id=self.tenant_id,
            station_id=station_id,
            if_match=self.if_match(),
            values=values,
            evses=[dict(e) for e in evses] if evses is not None else None,
            actor=self.actor,
        )
        return with_etag(Response(s.ChargeStationOut(record).data), record.etag)


class ChargeStationItem(ChargeStationGetView, ChargeStationPatchView):
    pass


class ChargeStationPasswordView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["charge-stations"],
        operation_id="charge_stations_password_reset",
        parameters=[_STATION_ID],
        request=None,
        responses={201: s.PasswordOut},
        description="Generate a new OCPP Basic-auth password; it is shown this once.",
    )
    @idempotent
    def post(self, request: Request, station_id: int) -> Response:
        password = locations_api.charge_station_new_password(
            tenant_id=self.tenant_id, station_id=station_id, actor=self.actor
        )
        return Response({"password": password}, status=201)


class ChargeStationCommandView(ApiView):
    scope_resource = "commands"
    extra_problem_responses = {
        "503": "No command relay to the OCPP gateway is configured (neither Redis nor the "
        "local socket), or its Redis is not reachable: nothing was sent",
    }

    @extend_schema(
        tags=["commands"],
        operation_id="charge_stations_command",
        parameters=[_STATION_ID],
        request=s.CommandIn,
        responses={200: s.CommandOut},
        description=(
            "Send a remote command (start, stop, reset, unlock, availability) to a station and "
            "wait for its answer (at most `STATION_COMMAND_TIMEOUT`, 30 s). The command goes "
            "through Redis to the OCPP gateway node that holds the station's connection.\n\n"
            "The answer is `200` with `result`: `ACCEPTED`, `REJECTED`, `NOT_SUPPORTED`, "
            "`FAILED` (the station's answer), `OFFLINE` (not connected: nothing was sent) or "
            "`TIMEOUT` (no answer in time; the station may still act on it). `id` names the "
            "command in the station's command log. A parameter the command needs, or one the "
            "station's OCPP version cannot express, is a `422` (nothing sent). `503`: the relay "
            "(Redis) is not configured or not reachable."
        ),
    )
    @idempotent
    def post(self, request: Request, station_id: int) -> Response:
        data = self.body(s.CommandIn)
        command_type = CommandType(data.pop("type"))
        if command_type is CommandType.STOP_SESSION:
            if data.get("session_id") is None:
                raise ValidationFailed(
                    "invalid command",
                    problems=(Problem("$.session_id", "required for STOP_SESSION"),),
                )
            session_station, transaction = charging_api.session_ocpp_transaction(
                tenant_id=self.tenant_id, session_id=data.pop("session_id")
            )
            if session_station != station_id:
                raise ValidationFailed(
                    "invalid command",
                    problems=(Problem("$.session_id", "the session is not on this station"),),
                )
            data["ocpp_transaction_id"] = transaction
        result = locations_api.charge_station_command_submit(
            tenant_id=self.tenant_id,
            station_id=station_id,
            command=CommandRequest(type=command_type, params=data),
            requested_by=f"api-key:{self.principal.key_id} {self.principal.name}",
            actor=self.actor,
        )
        return Response(s.CommandOut(result).data)

    @extend_schema(
        tags=["commands"],
        operation_id="charge_stations_command_log",
        parameters=[_STATION_ID, PageQuery],
        responses=page_of(s.CommandLogOut),
        description="The station's command log, oldest first: every command sent (or tried), "
        "by whom, the payload as sent, the station's answer and later status notifications.",
    )
    def get(self, request: Request, station_id: int) -> Response:
        q = self.query(PageQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: [
                _command_log(o)
                for o in locations_api.charge_station_commands(
                    tenant_id=self.tenant_id, station_id=station_id, **page
                )
            ],
            key=lambda r: r["id"],
            item=s.CommandLogOut,
        )
        return Response(body, headers=headers)


def _command_log(o: Any) -> dict[str, Any]:
    return {
        "id": o.id,
        "kind": o.kind.value,
        "status": o.status.value,
        "station_status": o.station_status,
        "message": o.message,
        "request": o.request,
        "data": to_json(o.data) if o.data is not None else None,
        "ocpp_action": o.ocpp_action,
        "ocpp_request": o.ocpp_request,
        "response": o.response,
        "protocol": o.protocol,
        "gateway_node": o.gateway_node,
        "requested_by": o.requested_by,
        "requested_at": o.requested_at,
        "answered_at": o.answered_at,
        "progress": list(o.progress),
    }


class ChargeStationConnectivityView(ApiView):
    scope_resource = "locations"

    @extend_schema(
        tags=["charge-stations"],
        operation_id="charge_stations_connectivity",
        parameters=[_STATION_ID],
        responses=s.ConnectivityOut,
        description="Online / offline, last seen, the gateway node holding the connection, the "
        "unstable badge (more than STATION_UNSTABLE_CONNECTS connections within "
        "STATION_UNSTABLE_WINDOW_SECONDS) and the newest 50 connect / disconnect events.",
    )
    def get(self, request: Request, station_id: int) -> Response:
        report = locations_api.charge_station_connectivity(
            tenant_id=self.tenant_id, station_id=station_id
        )
        return Response(s.ConnectivityOut(report).data)
