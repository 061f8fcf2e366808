"""Billing rules (scope `billing`): list, create, get, new version, retire, copy, the overlap
check of a draft and the "which rule would match" tester. One service call per request; a
draft that overlaps other rules is refused with 409 naming them unless `confirm_overlaps`."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.errors import Conflict
from apps.rating import api as rating_api
from apps.tariffs.contracts import BillingEngine
from restapi.base import ApiView
from restapi.idempotency import idempotent
from restapi.pagination import page_of, paginate
from restapi.problems import problem, problems_as_errors
from restapi.serializers import billing as s

_RULE_ID = OpenApiParameter("rule_id", int, OpenApiParameter.PATH)
_TAGS = ["billing rules"]
_OVERLAP = OpenApiResponse(
    description="the draft may cover sessions other rules cover; `errors` names them "
    "(path `$.confirm_overlaps`): send again with confirm_overlaps true to save anyway"
)


def _refused(exc: Conflict, request: Request) -> Response:
    """409 with the overlapping rules (or the other conflict) as `errors`."""
    errors = problems_as_errors(exc.problems) if exc.problems else None
    return problem(
        409, "Conflict", exc.message, code=exc.code, instance=request.path, errors=errors
    )


class BillingRuleListView(ApiView):
    scope_resource = "billing"

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_rules_list",
        parameters=[s.BillingRuleListQuery],
        responses=page_of(s.BillingRuleOut),
        description="The tenant's billing rules with their versions, by id. Active only "
        "unless include_retired: a rule is retired when its version in force now is.",
    )
    def get(self, request: Request) -> Response:
        q = self.query(s.BillingRuleListQuery)
        engine = q.pop("engine", None)
        include_retired = q.pop("include_retired", False)
        now = timezone.now()
        body, headers = paginate(
            request,
            q,
            lambda **page: rating_api.billing_rule_list(
                tenant_id=self.tenant_id,
                at=now,
                engine=BillingEngine(engine) if engine else None,
                include_retired=include_retired,
                **page,
            ),
            key=lambda r: r.id,
            item=s.RuleItems,
        )
        return Response(body, headers=headers)


class BillingRuleCreateView(ApiView):
    scope_resource = "billing"

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_rules_create",
        request=s.BillingRuleIn,
        responses={201: s.BillingRuleOut, 409: _OVERLAP},
        description="A new rule with its first version, from effective_from (default now; "
        "it may lie in the past, e.g. to rate flagged CDRs). Problems name their field.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.body(s.BillingRuleIn)
        now = timezone.now()
        try:
            record = rating_api.billing_rule_create(
                tenant_id=self.tenant_id,
                engine=BillingEngine(data["engine"]),
                name=data["name"],
                terms=s.terms_of(data),
                effective_from=data.get("effective_from") or now,
                actor=self.actor,
                now=now,
                reason=data["reason"],
                confirm_overlaps=data["confirm_overlaps"],
            )
        except Conflict as exc:
            return _refused(exc, request)
        return Response(s.rule_out(record), status=201)


class BillingRuleCollection(BillingRuleListView, BillingRuleCreateView):
    pass


class BillingRuleItem(ApiView):
    scope_resource = "billing"

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_rules_get",
        parameters=[_RULE_ID],
        responses={200: s.BillingRuleOut},
    )
    def get(self, request: Request, rule_id: int) -> Response:
        record = rating_api.billing_rule_get(
            tenant_id=self.tenant_id, rule_id=rule_id, at=timezone.now()
        )
        return Response(s.rule_out(record))


class BillingRuleVersionView(ApiView):
    scope_resource = "billing"

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_rules_version_create",
        parameters=[_RULE_ID],
        request=s.BillingRuleVersionIn,
        responses={201: s.BillingRuleOut, 409: _OVERLAP},
        description="New terms from effective_from (default now, after the latest version's "
        "start): sessions that start before keep the version they had.",
    )
    @idempotent
    def post(self, request: Request, rule_id: int) -> Response:
        data = self.body(s.BillingRuleVersionIn)
        now = timezone.now()
        try:
            record = rating_api.billing_rule_version_add(
                tenant_id=self.tenant_id,
                rule_id=rule_id,
                terms=s.terms_of(data),
                effective_from=data.get("effective_from") or now,
                actor=self.actor,
                now=now,
                reason=data["reason"],
                confirm_overlaps=data["confirm_overlaps"],
            )
        except Conflict as exc:
            return _refused(exc, request)
        return Response(s.rule_out(record), status=201)


class BillingRuleRetireView(ApiView):
    scope_resource = "billing"

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_rules_retire",
        parameters=[_RULE_ID],
        request=s.BillingRuleRetireIn,
        responses={200: s.BillingRuleOut},
        description="The rule covers no session that starts at or after effective_from "
        "(default now). 409 when it is retired already.",
    )
    @idempotent
    def post(self, request: Request, rule_id: int) -> Response:
        data = self.body(s.BillingRuleRetireIn)
        now = timezone.now()
        record = rating_api.billing_rule_retire(
            tenant_id=self.tenant_id,
            rule_id=rule_id,
            effective_from=data.get("effective_from") or now,
            actor=self.actor,
            now=now,
            reason=data["reason"],
        )
        return Response(s.rule_out(record))


class BillingRuleCopyView(ApiView):
    scope_resource = "billing"

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_rules_copy",
        parameters=[_RULE_ID],
        request=s.BillingRuleCopyIn,
        responses={201: s.BillingRuleOut, 409: _OVERLAP},
        description="A new rule of the same engine with the terms of this rule's version in "
        "force now, each term given in the body replacing the source's. An unchanged copy "
        "overlaps its source: 409 unless confirm_overlaps.",
    )
    @idempotent
    def post(self, request: Request, rule_id: int) -> Response:
        data = self.body(s.BillingRuleCopyIn)
        now = timezone.now()
        source = rating_api.billing_rule_get(tenant_id=self.tenant_id, rule_id=rule_id, at=now)
        changes: dict[str, Any] = {k: v for k, v in data.items() if k in s.TERM_FIELDS}
        terms = s.terms_of({**s.terms_dict(source.current.terms), **changes})
        try:
            record = rating_api.billing_rule_copy(
                tenant_id=self.tenant_id,
                rule_id=rule_id,
                name=data["name"],
                effective_from=data.get("effective_from") or now,
                actor=self.actor,
                now=now,
                terms=terms,
                reason=data["reason"],
                confirm_overlaps=data["confirm_overlaps"],
            )
        except Conflict as exc:
            return _refused(exc, request)
        return Response(s.rule_out(record), status=201)


class BillingRuleOverlapsView(ApiView):
    scope_resource = "billing"

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_rules_overlaps",
        request=s.BillingRuleOverlapsIn,
        responses={200: s.RuleOverlapsOut},
        description="The active rule versions of the engine that may cover a session the "
        "draft covers (a conservative check: it may name an overlap that no real session "
        "reaches, never misses one). Nothing is stored.",
    )
    def post(self, request: Request) -> Response:
        data = self.body(s.BillingRuleOverlapsIn)
        found = rating_api.billing_rule_overlaps(
            tenant_id=self.tenant_id,
            engine=BillingEngine(data["engine"]),
            terms=s.terms_of(data),
            effective_from=data.get("effective_from") or timezone.now(),
            rule_id=data.get("rule_id"),
        )
        return Response(s.overlaps_out(found))


class BillingRuleTestView(ApiView):
    scope_resource = "billing"

    @extend_schema(
        tags=_TAGS,
        operation_id="billing_rules_test",
        request=s.BillingRuleTestIn,
        responses={200: s.RuleTestOut},
        description="Which rule of each engine would rate a session at this station with this "
        "token starting at `at`, or why none would (NO_RULE, AMBIGUOUS_RULES with the rules "
        "in candidates); the session facts it matched on. Nothing is stored.",
    )
    def post(self, request: Request) -> Response:
        data = self.body(s.BillingRuleTestIn)
        engine = data.get("engine")
        results = rating_api.billing_rule_test(
            tenant_id=self.tenant_id,
            station_id=data["station_id"],
            token_id=data["token_id"],
            at=data["at"],
            engine=BillingEngine(engine) if engine else None,
        )
        return Response(s.tester_out(results))
