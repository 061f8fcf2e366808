"""Retail packages, user groups, CPO contracts, payees and their stations, home-charger
flags in bulk (scope `billing`; docs/api.md). Each handler makes one service call."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.errors import NotFound
from apps.customers import api as customers_api
from apps.locations import api as locations_api
from apps.rating import api as rating_api
from apps.rating.contracts import HccFlagRow
from restapi.base import ApiView, with_etag
from restapi.idempotency import idempotent
from restapi.pagination import PageQuery, page_of, paginate
from restapi.serializers import commercial as s

_PACKAGE_ID = OpenApiParameter("package_id", int, OpenApiParameter.PATH)
_GROUP_ID = OpenApiParameter("group_id", int, OpenApiParameter.PATH)
_CPO_CONTRACT_ID = OpenApiParameter("cpo_contract_id", int, OpenApiParameter.PATH)
_PAYEE_ID = OpenApiParameter("payee_id", int, OpenApiParameter.PATH)
_STATION_ID = OpenApiParameter("station_id", int, OpenApiParameter.PATH)


class _Billing(ApiView):
    scope_resource = "billing"


class RetailPackageCollection(_Billing):
    @extend_schema(
        tags=["retail packages"],
        operation_id="retail_packages_list",
        parameters=[PageQuery],
        responses=page_of(s.RetailPackageOut),
    )
    def get(self, request: Request) -> Response:
        body, headers = paginate(
            request,
            self.query(PageQuery),
            lambda **page: customers_api.retail_package_list(tenant_id=self.tenant_id, **page),
            key=lambda r: r.id,
            item=s.RetailPackageOut,
        )
        return Response(body, headers=headers)

    @extend_schema(
        tags=["retail packages"],
        operation_id="retail_packages_create",
        request=s.RetailPackageIn,
        responses={201: s.RetailPackageOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.RetailPackageIn)
        record = customers_api.retail_package_create(
            tenant_id=self.tenant_id, **data, actor=self.actor
        )
        return Response(s.RetailPackageOut(record).data, status=201)


class RetailPackageItem(_Billing):
    @extend_schema(
        tags=["retail packages"],
        operation_id="retail_packages_get",
        parameters=[_PACKAGE_ID],
        responses=s.RetailPackageOut,
    )
    def get(self, request: Request, package_id: int) -> Response:
        record = customers_api.retail_package_get(tenant_id=self.tenant_id, package_id=package_id)
        return Response(s.RetailPackageOut(record).data)

    @extend_schema(
        tags=["retail packages"],
        operation_id="retail_packages_rename",
        parameters=[_PACKAGE_ID],
        request=s.RetailPackagePatchIn,
        responses=s.RetailPackageOut,
    )
    def patch(self, request: Request, package_id: int) -> Response:
        data = self.body(s.RetailPackagePatchIn)
        record = customers_api.retail_package_rename(
            tenant_id=self.tenant_id,
            package_id=package_id,
            name=data["name"],
            description=data.get("description"),
            actor=self.actor,
        )
        return Response(s.RetailPackageOut(record).data)


class UserGroupCollection(_Billing):
    @extend_schema(
        tags=["user groups"],
        operation_id="user_groups_list",
        parameters=[PageQuery],
        responses=page_of(s.UserGroupOut),
    )
    def get(self, request: Request) -> Response:
        body, headers = paginate(
            request,
            self.query(PageQuery),
            lambda **page: customers_api.user_group_list(tenant_id=self.tenant_id, **page),
            key=lambda r: r.id,
            item=s.UserGroupOut,
        )
        return Response(body, headers=headers)

    @extend_schema(
        tags=["user groups"],
        operation_id="user_groups_create",
        request=s.UserGroupIn,
        responses={201: s.UserGroupOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.UserGroupIn)
        record = customers_api.user_group_create(
            tenant_id=self.tenant_id, name=data["name"], actor=self.actor
        )
        return Response(s.UserGroupOut(record).data, status=201)


class UserGroupItem(_Billing):
    @extend_schema(
        tags=["user groups"],
        operation_id="user_groups_get",
        parameters=[_GROUP_ID],
        responses=s.UserGroupOut,
    )
    def get(self, request: Request, group_id: int) -> Response:
        record = customers_api.user_group_get(tenant_id=self.tenant_id, group_id=group_id)
        return Response(s.UserGroupOut(record).data)

    @extend_schema(
        tags=["user groups"],
        operation_id="user_groups_rename",
        parameters=[_GROUP_ID],
        request=s.UserGroupIn,
        responses=s.UserGroupOut,
    )
    def patch(self, request: Request, group_id: int) -> Response:
        data = self.body(s.UserGroupIn)
        record = customers_api.user_group_rename(
            tenant_id=self.tenant_id, group_id=group_id, name=data["name"], actor=self.actor
        )
        return Response(s.UserGroupOut(record).data)


class CpoContractCollection(_Billing):
    @extend_schema(
        tags=["CPO contracts"],
        operation_id="cpo_contracts_list",
        parameters=[PageQuery],
        responses=page_of(s.CpoContractOut),
    )
    def get(self, request: Request) -> Response:
        body, headers = paginate(
            request,
            self.query(PageQuery),
            lambda **page: rating_api.cpo_contract_list(tenant_id=self.tenant_id, **page),
            key=lambda r: r.id,
            item=s.CpoContractOut,
        )
        return Response(body, headers=headers)

    @extend_schema(
        tags=["CPO contracts"],
        operation_id="cpo_contracts_create",
        request=s.CpoContractIn,
        responses={201: s.CpoContractOut},
        description="A CPO contract with one of the tenant's CPO parties (own or partner) "
        "and its first version. One per party.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.CpoContractIn)
        record = rating_api.cpo_contract_create(
            tenant_id=self.tenant_id,
            country_code=data.pop("country_code"),
            party_id=data.pop("party_id"),
            reference=data.pop("reference"),
            effective_from=data.pop("effective_from"),
            terms=data,
            actor=self.actor,
        )
        return Response(s.CpoContractOut(record).data, status=201)


class CpoContractItem(_Billing):
    @extend_schema(
        tags=["CPO contracts"],
        operation_id="cpo_contracts_get",
        parameters=[_CPO_CONTRACT_ID],
        responses=s.CpoContractOut,
    )
    def get(self, request: Request, cpo_contract_id: int) -> Response:
        record = rating_api.cpo_contract_get(tenant_id=self.tenant_id, contract_id=cpo_contract_id)
        return Response(s.CpoContractOut(record).data)


class CpoContractVersionCreate(_Billing):
    @extend_schema(
        tags=["CPO contracts"],
        operation_id="cpo_contracts_version_add",
        parameters=[_CPO_CONTRACT_ID],
        request=s.CpoContractVersionIn,
        responses={201: s.CpoContractOut},
        description="A new version from `effective_from` (default now, never earlier, after "
        "the latest version's start): the latest version's terms with those given changed.",
    )
    @idempotent
    def post(self, request: Request, cpo_contract_id: int) -> Response:
        data = self.body(s.CpoContractVersionIn)
        now = timezone.now()
        record = rating_api.cpo_contract_version_add(
            tenant_id=self.tenant_id,
            contract_id=cpo_contract_id,
            effective_from=data.pop("effective_from", None) or now,
            terms=data,
            actor=self.actor,
            now=now,
        )
        return Response(s.CpoContractOut(record).data, status=201)


class PayeeCollection(_Billing):
    @extend_schema(
        tags=["payees"],
        operation_id="payees_list",
        parameters=[s.PayeeListQuery],
        responses=page_of(s.PayeeOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.PayeeListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: rating_api.payee_list(tenant_id=self.tenant_id, **page, **q),
            key=lambda r: r.id,
            item=s.PayeeOut,
        )
        return Response(body, headers=headers)

    @extend_schema(
        tags=["payees"],
        operation_id="payees_create",
        request=s.PayeeIn,
        responses={201: s.PayeeOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.PayeeIn)
        record = rating_api.payee_create(tenant_id=self.tenant_id, values=data, actor=self.actor)
        return with_etag(Response(s.PayeeOut(record).data, status=201), record.etag)


class PayeeItem(_Billing):
    @extend_schema(
        tags=["payees"],
        operation_id="payees_get",
        parameters=[_PAYEE_ID],
        responses=s.PayeeOut,
    )
    def get(self, request: Request, payee_id: int) -> Response:
        record = rating_api.payee_get(tenant_id=self.tenant_id, payee_id=payee_id)
        return with_etag(Response(s.PayeeOut(record).data), record.etag)

    @extend_schema(
        tags=["payees"],
        operation_id="payees_update",
        parameters=[_PAYEE_ID],
        request=s.PayeePatchIn,
        responses=s.PayeeOut,
    )
    def patch(self, request: Request, payee_id: int) -> Response:
        data = self.body(s.PayeePatchIn)
        record = rating_api.payee_update(
            tenant_id=self.tenant_id,
            payee_id=payee_id,
            values=data,
            actor=self.actor,
            if_match=self.if_match(),
        )
        return with_etag(Response(s.PayeeOut(record).data), record.etag)


class StationPayeeView(_Billing):
    def _out(self, station_id: int) -> Response:
        history = rating_api.payee_assignments(tenant_id=self.tenant_id, station_id=station_id)
        now = timezone.now()
        current = rating_api.payees_in_force(keys=[(station_id, now)])[(station_id, now)]
        body = {"charge_station_id": station_id, "payee_id": current, "history": history}
        return Response(s.StationPayeeOut(body).data)

    @extend_schema(
        tags=["payees"],
        operation_id="charge_station_payee_get",
        parameters=[_STATION_ID],
        responses=s.StationPayeeOut,
        description="The station's payee now and its assignment history.",
    )
    def get(self, request: Request, station_id: int) -> Response:
        if not locations_api.charge_station_ids_of_tenant(
            tenant_id=self.tenant_id, station_ids=[station_id]
        ):
            raise NotFound(f"no charge station {station_id} in this tenant")
        return self._out(station_id)

    @extend_schema(
        tags=["payees"],
        operation_id="charge_station_payee_set",
        parameters=[_STATION_ID],
        request=s.StationPayeeIn,
        responses=s.StationPayeeOut,
        description="Put a payee (null: none) on the station from `effective_from` (default "
        "now, never earlier). Idempotent: the payee already in force changes nothing.",
    )
    def put(self, request: Request, station_id: int) -> Response:
        data = self.body(s.StationPayeeIn)
        now = timezone.now()
        rating_api.payee_assign(
            tenant_id=self.tenant_id,
            station_id=station_id,
            payee_id=data["payee_id"],
            effective_from=data.get("effective_from") or now,
            actor=self.actor,
            now=now,
        )
        return self._out(station_id)


class HccFlagsView(_Billing):
    @extend_schema(
        tags=["home-charger flags"],
        operation_id="hcc_flags_set",
        request=s.HccFlagsIn,
        responses={200: s.HccFlagsOut},
        description=(
            "Set the home-charger flag (HCC_E, HCC_V or null) of charge stations (by id) and "
            "tokens (by uid), up to 10,000 rows, all or nothing: any bad row (unknown "
            "station or token, a flag that is not one) refuses the batch with 422 listing "
            "each (`$.items[3].token`). Idempotent: a flag already set changes nothing."
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.HccFlagsIn)
        rows = [
            HccFlagRow(
                charge_station_id=item.get("charge_station"),
                token_uid=item.get("token"),
                hcc=item["hcc"],
            )
            for item in data["items"]
        ]
        outcome = rating_api.hcc_flags_set(tenant_id=self.tenant_id, rows=rows, actor=self.actor)
        return Response(
            {
                "rows": outcome.rows,
                "charge_stations_changed": list(outcome.charge_stations_changed),
                "tokens_changed": list(outcome.tokens_changed),
            }
        )
