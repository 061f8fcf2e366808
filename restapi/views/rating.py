"""Rated lines per CDR and per period, and the wholesale settlement report (scope
`rated_lines`, read only)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.errors import NotFound
from apps.rating import api as rating_api
from apps.rating.contracts import SettlementSide
from restapi.base import ApiView
from restapi.json import DecimalJSONRenderer
from restapi.pagination import Rendered, page_of, paginate
from restapi.serializers import rating as s


class _Lines(Rendered):
    render = staticmethod(s.rated_line_object)


class CdrRatedLinesView(ApiView):
    scope_resource = "rated_lines"

    @extend_schema(
        tags=["rated lines"],
        operation_id="cdrs_rated_lines",
        parameters=[OpenApiParameter("cdr_id", int, OpenApiParameter.PATH)],
        responses=s.CdrRatedLinesOut,
        description=(
            "A CDR's rated lines per engine, with the sum in force per currency and the "
            "engine's rating flags. The CDR's CPO tenant sees wholesale and reimbursement "
            "(and retail when it is the eMSP too); a marketplace eMSP tenant sees the "
            "wholesale lines it pays (without the CPO's rule) and its retail lines; 404 for "
            "any other tenant."
        ),
    )
    def get(self, request: Request, cdr_id: int) -> Response:
        views = rating_api.cdr_rated_views(tenant_id=self.tenant_id, cdr_id=cdr_id)
        if not views.views:
            raise NotFound(f"no CDR {cdr_id} in your tenant")
        return Response(
            {
                "cdr_id": cdr_id,
                "engines": [
                    {
                        "engine": v.engine,
                        "lines": [s.rated_line_object(x) for x in v.lines],
                        "totals": [s.total_object(t) for t in v.totals],
                        "flags": [s.flag_object(f) for f in v.flags],
                    }
                    for v in views.views
                ],
            }
        )


class RatedLineListView(ApiView):
    scope_resource = "rated_lines"

    @extend_schema(
        tags=["rated lines"],
        operation_id="rated_lines_list",
        parameters=[s.RatedLineListQuery],
        responses=page_of(s.RatedLineOut),
        description=(
            "The rated lines your tenant may see, in the order they were written (keyset "
            "cursor): its own, and the marketplace wholesale lines it buys. `from` / `to` "
            "select by when a line was rated (created_at, [from, to)), so a re-rating's "
            "reversal appears in the period it was written."
        ),
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.RatedLineListQuery)
        q["created_from"], q["created_before"] = q.pop("from", None), q.pop("to", None)
        body, headers = paginate(
            request,
            q,
            lambda **page: rating_api.rated_line_rows(tenant_id=self.tenant_id, **page, **q),
            key=lambda r: r.id,
            item=_Lines,
        )
        return Response(body, headers=headers)


class SettlementReportView(ApiView):
    scope_resource = "rated_lines"
    renderer_classes = [DecimalJSONRenderer, s.SettlementCsvRenderer]

    @extend_schema(
        tags=["rated lines"],
        operation_id="settlement_report",
        parameters=[s.SettlementQuery],
        responses={
            (200, "application/json"): s.SettlementOut,
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="header line, then one line per row (amounts in the minor unit)",
            ),
        },
        description=(
            "Wholesale lines rated in [from, to) per counterparty (RECEIVABLE: the eMSPs that "
            "pay your tenant; PAYABLE: the CPOs your tenant pays on the marketplace) and "
            "currency, reversals included; own-charge rows apart and in no total; totals per "
            "currency, never across currencies. CSV with `Accept: text/csv` or `?format=csv`."
        ),
    )
    def get(self, request: Request) -> Response:
        raw = self.query(s.SettlementQuery)
        report = rating_api.settlement_report(
            tenant_id=self.tenant_id,
            period_from=raw["from"],
            period_to=raw["to"],
            party_id=raw.get("emsp"),
            side=SettlementSide(raw["side"]),
        )
        if request.accepted_renderer.format == "csv":
            stamp = f"{report.period_from:%Y%m%d}-{report.period_to:%Y%m%d}"
            return Response(
                s.settlement_csv(report),
                headers={"Content-Disposition": f'attachment; filename="settlement-{stamp}.csv"'},
            )
        return Response(s.settlement_object(report))
