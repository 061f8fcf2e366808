"""Billing runs, invoicing settings and billing profiles (scope `invoices`; ADR 0036). One
service call per request; problems are problem+json naming their field."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.invoicing import api as invoicing_api
from apps.invoicing.contracts import CounterpartyKind
from restapi.base import ApiView
from restapi.idempotency import idempotent
from restapi.pagination import page_of, paginate
from restapi.serializers import invoicing_runs as s

_RUN_ID = OpenApiParameter("run_id", int, OpenApiParameter.PATH)
_TAGS = ["billing runs"]


class _Invoices(ApiView):
    scope_resource = "invoices"


class BillingRunCollection(_Invoices):
    @extend_schema(
        tags=_TAGS,
        operation_id="billing_runs_list",
        parameters=[s.BillingRunListQuery],
        responses=page_of(s.BillingRunOut),
        description="The tenant's billing runs by id, with their progress.",
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.BillingRunListQuery)
        status = q.pop("status", None)
        body, headers = paginate(
            request,
            q,
            lambda **page: invoicing_api.billing_run_list(
                tenant_id=self.tenant_id, status=status, **page
            ),
            key=lambda r: r.id,
            item=s.BillingRunOut,
        )
        return Response(body, headers=headers)

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_runs_start",
        request=s.BillingRunIn,
        responses={201: s.BillingRunOut},
        description="Start a MANUAL run over the period containing period_start: the unbilled "
        "rated lines of sessions that ended before the period's end become drafts (those of "
        "earlier periods on a LATE section). 422 while the period has not ended; 409 while "
        "a run of the period is queued or running. Poll GET /billing-runs/{id} for progress.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.BillingRunIn)
        run_id = invoicing_api.billing_run_start(
            tenant_id=self.tenant_id,
            actor=self.actor,
            frequency=data["frequency"],
            period_start=data["period_start"],
            now=timezone.now(),
        )
        run = invoicing_api.billing_run_get(tenant_id=self.tenant_id, run_id=run_id)
        return Response(s.run_out(run), status=201)


class BillingRunItem(_Invoices):
    @extend_schema(
        tags=_TAGS,
        operation_id="billing_runs_get",
        parameters=[_RUN_ID],
        responses={200: s.BillingRunDetailOut},
        description="A run's status and progress, and the documents it made.",
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = invoicing_api.billing_run_get(tenant_id=self.tenant_id, run_id=run_id)
        documents = invoicing_api.billing_run_documents(tenant_id=self.tenant_id, run_id=run_id)
        return Response(s.run_out(run, documents))


class InvoicingSettingsView(_Invoices):
    @extend_schema(
        tags=_TAGS,
        operation_id="invoicing_settings_get",
        responses={200: s.InvoicingSettingsOut},
        description="Who the tenant is on its documents, its number prefixes, timezone and "
        "grace period (the defaults until saved).",
    )
    def get(self, request: Request) -> Response:
        ref = invoicing_api.invoicing_settings_get(tenant_id=self.tenant_id)
        return Response(s.InvoicingSettingsOut(ref).data)

    @extend_schema(
        tags=_TAGS,
        operation_id="invoicing_settings_update",
        request=s.InvoicingSettingsIn,
        responses={200: s.InvoicingSettingsOut},
        description="Change the fields given (the others keep their value). 422 names each "
        "bad field: VAT number, country, timezone, empty or shared prefixes.",
    )
    def put(self, request: Request) -> Response:
        data = self.body(s.InvoicingSettingsIn)
        ref = invoicing_api.invoicing_settings_update(
            tenant_id=self.tenant_id, actor=self.actor, now=timezone.now(), **data
        )
        return Response(s.InvoicingSettingsOut(ref).data)


class BillingProfileCollection(_Invoices):
    @extend_schema(
        tags=_TAGS,
        operation_id="billing_profiles_list",
        parameters=[s.BillingProfileListQuery],
        responses=page_of(s.BillingProfileOut),
        description="How the tenant's counterparties are billed, where it differs from the "
        "defaults (monthly, the tenant's language, the counterparty's own details).",
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.BillingProfileListQuery)
        kind = q.pop("kind", None)
        body, headers = paginate(
            request,
            q,
            lambda **page: invoicing_api.billing_profile_list(
                tenant_id=self.tenant_id,
                kind=CounterpartyKind(kind) if kind else None,
                **page,
            ),
            key=lambda r: r.id,
            item=s.BillingProfileOut,
        )
        return Response(body, headers=headers)

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_profiles_set",
        request=s.BillingProfileIn,
        responses={200: s.BillingProfileOut},
        description="Create or replace the profile of one of the tenant's customers, eMSP "
        "parties or payees (404 when it is not the tenant's).",
    )
    def post(self, request: Request) -> Response:
        data = self.body(s.BillingProfileIn)
        ref = invoicing_api.billing_profile_set(
            tenant_id=self.tenant_id, actor=self.actor, now=timezone.now(), **data
        )
        return Response(s.BillingProfileOut(ref).data)
