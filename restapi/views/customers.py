from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.customers import api as customers_api
from restapi.base import ApiView, with_etag
from restapi.idempotency import idempotent
from restapi.pagination import page_of, paginate
from restapi.serializers import customers as s

_CUSTOMER_ID = OpenApiParameter("customer_id", int, OpenApiParameter.PATH)
_CONTRACT_ID = OpenApiParameter("contract_id", int, OpenApiParameter.PATH)


class CustomerListView(ApiView):
    scope_resource = "customers"

    @extend_schema(
        tags=["customers"],
        operation_id="customers_list",
        parameters=[s.CustomerListQuery],
        responses=page_of(s.CustomerOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.CustomerListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: customers_api.customer_list(tenant_id=self.tenant_id, **page, **q),
            key=lambda r: r.id,
            item=s.CustomerOut,
        )
        return Response(body, headers=headers)


class CustomerCreateView(ApiView):
    scope_resource = "customers"

    @extend_schema(
        tags=["customers"],
        operation_id="customers_create",
        request=s.CustomerIn,
        responses={201: s.CustomerOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.CustomerIn)
        country_code, party_id = data.pop("country_code"), data.pop("party_id")
        record = customers_api.customer_create(
            tenant_id=self.tenant_id,
            country_code=country_code,
            party_id=party_id,
            values=data,
            actor=self.actor,
        )
        return with_etag(Response(s.CustomerOut(record).data, status=201), record.etag)


class CustomerCollection(CustomerListView, CustomerCreateView):
    pass


class CustomerGetView(ApiView):
    scope_resource = "customers"

    @extend_schema(
        tags=["customers"],
        operation_id="customers_get",
        parameters=[_CUSTOMER_ID],
        responses=s.CustomerOut,
    )
    def get(self, request: Request, customer_id: int) -> Response:
        record = customers_api.customer_get(tenant_id=self.tenant_id, customer_id=customer_id)
        return with_etag(Response(s.CustomerOut(record).data), record.etag)


class CustomerPatchView(ApiView):
    scope_resource = "customers"

    @extend_schema(
        tags=["customers"],
        operation_id="customers_update",
        parameters=[_CUSTOMER_ID],
        request=s.CustomerPatchIn,
        responses=s.CustomerOut,
    )
    def patch(self, request: Request, customer_id: int) -> Response:
        values = self.body(s.CustomerPatchIn)
        record = customers_api.customer_update(
            tenant_id=self.tenant_id,
            customer_id=customer_id,
            if_match=self.if_match(),
            values=values,
            actor=self.actor,
        )
        return with_etag(Response(s.CustomerOut(record).data), record.etag)


class CustomerItem(CustomerGetView, CustomerPatchView):
    pass


class ContractListView(ApiView):
    scope_resource = "customers"

    @extend_schema(
        tags=["contracts"],
        operation_id="contracts_list",
        parameters=[s.ContractListQuery],
        responses=page_of(s.ContractOut),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.ContractListQuery)
        body, headers = paginate(
            request,
            q,
            lambda **page: customers_api.contract_list(tenant_id=self.tenant_id, **page, **q),
            key=lambda r: r.id,
            item=s.ContractOut,
        )
        return Response(body, headers=headers)


class ContractCreateView(ApiView):
    scope_resource = "customers"

    @extend_schema(
        tags=["contracts"],
        operation_id="contracts_create",
        request=s.ContractIn,
        responses={201: s.ContractOut},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.ContractIn)
        customer_id, token_id = data.pop("customer_id"), data.pop("token_id")
        record = customers_api.contract_create(
            tenant_id=self.tenant_id,
            customer_id=customer_id,
            token_id=token_id,
            values=data,
            actor=self.actor,
        )
        return with_etag(Response(s.ContractOut(record).data, status=201), record.etag)


class ContractCollection(ContractListView, ContractCreateView):
    pass


class ContractGetView(ApiView):
    scope_resource = "customers"

    @extend_schema(
        tags=["contracts"],
        operation_id="contracts_get",
        parameters=[_CONTRACT_ID],
        responses=s.ContractDetailOut,
    )
    def get(self, request: Request, contract_id: int) -> Response:
        record = customers_api.contract_get(tenant_id=self.tenant_id, contract_id=contract_id)
        return with_etag(Response(s.ContractDetailOut(record).data), record.etag)


class ContractPatchView(ApiView):
    scope_resource = "customers"

    @extend_schema(
        tags=["contracts"],
        operation_id="contracts_update",
        parameters=[_CONTRACT_ID],
        request=s.ContractPatchIn,
        responses=s.ContractDetailOut,
        description=(
            "Change a contract: a NEW version from `effective_from` (default: now; an earlier "
            "moment is refused) with the fields given, the rest as the latest version says; "
            "the latest version ends there. Answers the new version (its own `id`). Nothing "
            "to change: the latest version, unchanged. A version overlapping another "
            "contract of the same token is refused (409) naming it."
        ),
    )
    def patch(self, request: Request, contract_id: int) -> Response:
        values = self.body(s.ContractPatchIn)
        record = customers_api.contract_update(
            tenant_id=self.tenant_id,
            contract_id=contract_id,
            if_match=self.if_match(),
            values=values,
            actor=self.actor,
        )
        return with_etag(Response(s.ContractDetailOut(record).data), record.etag)


class ContractItem(ContractGetView, ContractPatchView):
    pass
