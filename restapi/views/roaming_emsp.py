"""OCPI eMSP role (issue 19, area "emsp"): send a command to a CPO partner and read its
result (scope `commands`); the reconciliation report of a partner's CDRs (scope `cdrs`)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.errors import NotFound
from apps.roaming import api as roaming_api
from restapi.base import ApiView
from restapi.serializers import roaming_emsp as s

_CONNECTION_ID = OpenApiParameter("connection_id", int, OpenApiParameter.PATH)
_UID = OpenApiParameter("uid", str, OpenApiParameter.PATH)
DEFAULT_PERIOD = timedelta(days=30)


class CommandSendView(ApiView):
    scope_resource = "commands"

    @extend_schema(
        tags=["roaming"],
        operation_id="roaming_command_send",
        parameters=[_CONNECTION_ID],
        request=s.RoamingCommandIn,
        responses={201: s.RoamingCommandOut},
    )
    def post(self, request: Request, connection_id: int) -> Response:
        args = self.body(s.RoamingCommandIn)
        command = args.pop("command")
        record = roaming_api.command_send(
            tenant_id=self.tenant_id,
            connection_id=connection_id,
            command=command,
            args=args,
            actor=self.actor,
        )
        return Response(s.RoamingCommandOut(record).data, status=201)


class CommandGetView(ApiView):
    scope_resource = "commands"

    @extend_schema(
        tags=["roaming"],
        operation_id="roaming_command_get",
        parameters=[_UID],
        responses=s.RoamingCommandOut,
    )
    def get(self, request: Request, uid: str) -> Response:
        record = roaming_api.command_get(tenant_id=self.tenant_id, uid=uid)
        if record is None:
            raise NotFound(f"no command {uid} in this tenant")
        return Response(s.RoamingCommandOut(record).data)


class ReconciliationView(ApiView):
    scope_resource = "cdrs"

    @extend_schema(
        tags=["roaming"],
        operation_id="roaming_reconciliation",
        parameters=[_CONNECTION_ID, s.ReconciliationQuery],
        responses=s.ReconciliationOut,
    )
    def get(self, request: Request, connection_id: int) -> Response:
        q = self.query(s.ReconciliationQuery)
        period_to = q.get("period_to") or timezone.now()
        report = roaming_api.reconciliation_report(
            tenant_id=self.tenant_id,
            connection_id=connection_id,
            period_from=q.get("period_from") or period_to - DEFAULT_PERIOD,
            period_to=period_to,
        )
        return Response(s.ReconciliationOut(report).data)
