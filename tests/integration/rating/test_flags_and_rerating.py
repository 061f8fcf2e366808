"""Exactly one rule or a flag; flags retried on a schedule and dropped after the window
(time passed in, never slept); rating twice writes nothing twice; re-rating writes a
reversal and a new line whose sum is the difference; each tenant rates (and re-rates) only
its own engines."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from apps.charging import api as charging_api
from apps.common.contracts import Actor
from apps.common.errors import NotFound, ValidationFailed
from apps.parties.models import AuditEntry
from apps.rating import api as rating_api
from apps.rating.contracts import RatingOutcome
from apps.rating.models import RatedLine, RatingFlag
from tests.factories import UserFactory
from tests.integration.rating import builders as b

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
D = Decimal
DAY = timedelta(days=1)


def _wholesale_world(**kw: Any) -> tuple[b.World, Any]:
    w = b.world(cpo_vat="21", package=False, **kw)
    tv = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25")])
    return w, tv


def _flags(cdr: Any) -> dict[str, tuple[str, str, int]]:
    return {f.engine: (f.reason, f.status, f.attempts) for f in RatingFlag.objects.filter(cdr=cdr)}


def test_no_rule_opens_one_flag_and_rating_again_opens_no_second() -> None:
    w, _ = _wholesale_world()
    cdr = b.cdr(w)

    first = rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)
    second = rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0 + timedelta(hours=1))

    assert first == RatingOutcome(lines_written=0, flags_opened=2, skipped=0)
    assert second == RatingOutcome(lines_written=0, flags_opened=0, skipped=2)
    assert _flags(cdr) == {"WHOLESALE": ("NO_RULE", "OPEN", 1), "RETAIL": ("NO_PACKAGE", "OPEN", 1)}
    flag = RatingFlag.objects.get(cdr=cdr, engine="WHOLESALE")
    assert (flag.flagged_at, flag.next_retry_at, flag.tenant_id) == (
        b.T0,
        b.T0 + DAY,
        w.cpo_tenant.pk,
    )


def test_two_rules_that_both_match_flag_ambiguous_naming_them() -> None:
    w, tv = _wholesale_world()
    one = b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    two = b.rule(
        w.cpo_tenant,
        "WHOLESALE",
        tariff_version=tv,
        cpo_scope="STATION",
        cpo_scope_value=str(w.station.pk),
    )
    b.rule(  # another station's rule does not count
        w.cpo_tenant,
        "WHOLESALE",
        tariff_version=tv,
        cpo_scope="STATION",
        cpo_scope_value=str(w.station.pk + 1000),
    )
    cdr = b.cdr(w)

    rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)

    flag = RatingFlag.objects.get(cdr=cdr, engine="WHOLESALE")
    assert (flag.reason, flag.detail) == ("AMBIGUOUS_RULES", {"rules": [one.rule_id, two.rule_id]})
    assert not RatedLine.objects.filter(cdr=cdr).exists()


def test_rating_twice_gives_the_same_lines_and_no_second_line() -> None:
    w, tv = _wholesale_world()
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    cdrs = [b.cdr(w, kwh=str(k)) for k in (1, 2, 3)]
    ids = [c.pk for c in cdrs]

    rating_api.cdrs_rate(cdr_ids=ids, actor=ACTOR, now=b.T0)
    before = list(RatedLine.objects.order_by("pk").values())
    again = rating_api.cdrs_rate(cdr_ids=ids + ids, actor=ACTOR, now=b.T0 + DAY)

    assert again.lines_written == 0
    assert list(RatedLine.objects.order_by("pk").values()) == before
    assert [x["seq"] for x in before] == [1, 1, 1]
    assert [x["total_excl_vat"] for x in before] == [D("0.25"), D("0.50"), D("0.75")]


def test_flag_retried_daily_then_resolved_once_the_rule_exists() -> None:
    w, tv = _wholesale_world()
    cdr = b.cdr(w)
    rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)

    not_due = rating_api.flags_retry(actor=ACTOR, now=b.T0 + DAY - timedelta(seconds=1))
    assert not_due == RatingOutcome()
    assert _flags(cdr)["WHOLESALE"] == ("NO_RULE", "OPEN", 1)

    rating_api.flags_retry(actor=ACTOR, now=b.T0 + DAY)
    flag = RatingFlag.objects.get(cdr=cdr, engine="WHOLESALE")
    assert (flag.status, flag.attempts, flag.last_tried_at, flag.next_retry_at) == (
        "OPEN",
        2,
        b.T0 + DAY,
        b.T0 + 2 * DAY,
    )

    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    done = rating_api.flags_retry(actor=ACTOR, now=b.T0 + 2 * DAY)

    assert done.lines_written == 1
    flag.refresh_from_db()
    assert (flag.status, flag.closed_at, flag.next_retry_at) == ("RESOLVED", b.T0 + 2 * DAY, None)
    (line,) = RatedLine.objects.filter(cdr=cdr)
    assert (line.engine, line.total_excl_vat, line.created_at) == (
        "WHOLESALE",
        D("2.50"),
        b.T0 + 2 * DAY,
    )
    # the retail flag (no package) is still open: each engine's flag is its own
    assert _flags(cdr)["RETAIL"] == ("NO_PACKAGE", "OPEN", 3)


@override_settings(RATING_RETRY_DAYS=3, RATING_RETRY_INTERVAL_HOURS=24)
def test_a_flag_still_failing_after_the_retry_window_is_dropped_and_stays_visible() -> None:
    w, tv = _wholesale_world()
    cdr = b.cdr(w)
    rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)
    for day in (1, 2):
        rating_api.flags_retry(actor=ACTOR, now=b.T0 + day * DAY)
    assert _flags(cdr)["WHOLESALE"] == ("NO_RULE", "OPEN", 3)

    rating_api.flags_retry(actor=ACTOR, now=b.T0 + 3 * DAY)

    flag = RatingFlag.objects.get(cdr=cdr, engine="WHOLESALE")
    assert (flag.status, flag.attempts, flag.closed_at, flag.next_retry_at) == (
        "DROPPED",
        4,
        b.T0 + 3 * DAY,
        None,
    )
    # dropped: no more retries, and rating again (the sweep) does not pick it up
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    assert rating_api.flags_retry(actor=ACTOR, now=b.T0 + 9 * DAY).lines_written == 0
    assert rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0 + 9 * DAY).skipped == 2
    assert not RatedLine.objects.filter(cdr=cdr).exists()
    # the flagged queue can still re-rate it by hand: then it is resolved
    out = rating_api.cdr_rerate(
        tenant_id=w.cpo_tenant.pk, cdr_id=cdr.pk, actor=ACTOR, reason="rule added", now=b.T0
    )
    assert out.lines_written == 1
    flag.refresh_from_db()
    assert flag.status == "RESOLVED"


def test_rerating_writes_a_reversal_and_a_new_line_whose_sum_is_the_difference() -> None:
    w, tv = _wholesale_world()
    rv = b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    cdr = b.cdr(w, kwh="10")
    rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)
    # the price was wrong: a new version of the rule, for sessions from before this one
    dearer = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.31")])
    b.rule_version(rv.rule, tariff_version=dearer, effective_from=b.EPOCH + DAY)

    equal_reason = "nothing changed"
    out = rating_api.cdr_rerate(
        tenant_id=w.cpo_tenant.pk,
        cdr_id=cdr.pk,
        actor=Actor.user(UserFactory().pk),
        reason="price fix",
        now=b.T0 + DAY,
    )

    assert out.lines_written == 2
    first, reversal, new = RatedLine.objects.filter(cdr=cdr, engine="WHOLESALE").order_by("seq")
    assert [x.seq for x in (first, reversal, new)] == [1, 2, 3]
    assert (reversal.kind, reversal.reverses_id) == ("REVERSAL", first.pk)
    assert reversal.reason == "price fix"
    assert (new.kind, new.reverses_id, new.reason) == ("LINE", None, "price fix")
    negated = ("energy", "energy_exact", "total_excl_vat", "vat", "total_incl_vat", "energy_kwh")
    for field in negated:
        assert getattr(reversal, field) == -getattr(first, field)
    assert reversal.vat_rate == first.vat_rate
    assert (first.total_incl_vat, new.total_incl_vat) == (D("3.03"), D("3.75"))
    total = sum(x.total_incl_vat for x in (first, reversal, new))
    assert total == new.total_incl_vat
    assert reversal.total_incl_vat + new.total_incl_vat == D("0.72")  # the difference

    # re-rating with an equal result writes nothing
    same = rating_api.cdr_rerate(
        tenant_id=w.cpo_tenant.pk, cdr_id=cdr.pk, actor=ACTOR, reason=equal_reason, now=b.T0
    )
    assert same.lines_written == 0
    assert RatedLine.objects.filter(cdr=cdr).count() == 3
    assert AuditEntry.objects.filter(action="rating.rerate", tenant=w.cpo_tenant).count() == 1


def test_rerate_needs_a_reason_and_a_cdr_the_tenant_rated() -> None:
    w, tv = _wholesale_world()
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    cdr = b.cdr(w)
    stranger = b.world()
    with pytest.raises(ValidationFailed):
        rating_api.cdr_rerate(tenant_id=w.cpo_tenant.pk, cdr_id=cdr.pk, actor=ACTOR, reason=" ")
    with pytest.raises(NotFound):
        rating_api.cdr_rerate(
            tenant_id=stranger.cpo_tenant.pk, cdr_id=cdr.pk, actor=ACTOR, reason="x"
        )
    assert not RatedLine.objects.exists()


def test_marketplace_cpo_tenant_rates_wholesale_and_emsp_tenant_rates_retail() -> None:
    """A marketplace tenant's driver at another tenant's station: the CPO tenant's
    wholesale line names the eMSP tenant as buyer; the retail line is the eMSP tenant's,
    from its own rules (its retail package), and only it re-rates it."""
    w = b.world(marketplace=True, cpo_vat="21", emsp_vat="21")
    tv = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.30")])
    b.rule(
        w.cpo_tenant,
        "WHOLESALE",
        tariff_version=tv,
        emsp_scope="EMSP_PARTY",
        emsp_scope_value=str(w.emsp_party.pk),
    )
    # a CPO-tenant retail rule must not be used for the eMSP tenant's driver
    b.rule(w.cpo_tenant, "RETAIL", pricing="COST_PLUS", markup_percent=D("50"))
    assert w.package is not None
    retail_rule = b.rule(
        w.emsp_tenant,
        "RETAIL",
        pricing="COST_PLUS",
        markup_percent=D("20"),
        emsp_scope="RETAIL_PACKAGE",
        emsp_scope_value=str(w.package.pk),
    )
    cdr = b.cdr(w, kwh="10")

    rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)

    ws = RatedLine.objects.get(cdr=cdr, engine="WHOLESALE")
    assert (ws.tenant_id, ws.buyer_tenant_id, ws.buyer_party_id, ws.own_charge) == (
        w.cpo_tenant.pk,
        w.emsp_tenant.pk,
        w.emsp_party.pk,
        False,
    )
    assert (ws.total_excl_vat, ws.vat, ws.total_incl_vat) == (D("3.00"), D("0.63"), D("3.63"))
    rt = RatedLine.objects.get(cdr=cdr, engine="RETAIL")
    assert (rt.tenant_id, rt.rule_version_id, rt.seller_party_id, rt.buyer_customer_id) == (
        w.emsp_tenant.pk,
        retail_rule.pk,
        w.emsp_own_party.pk,
        w.customer.pk,
    )
    assert (rt.total_excl_vat, rt.vat_source, rt.total_incl_vat) == (
        D("3.60"),
        "PARTY",
        D("4.36"),
    )
    # the CPO tenant re-rates its engines only; the eMSP tenant its retail line only
    cpo_out = rating_api.cdr_rerate(
        tenant_id=w.cpo_tenant.pk, cdr_id=cdr.pk, actor=ACTOR, reason="check", now=b.T0
    )
    emsp_out = rating_api.cdr_rerate(
        tenant_id=w.emsp_tenant.pk, cdr_id=cdr.pk, actor=ACTOR, reason="check", now=b.T0
    )
    assert (cpo_out.skipped, emsp_out.skipped) == (1, 1)
    assert RatedLine.objects.filter(cdr=cdr).count() == 2


def test_the_sweep_rates_cdrs_no_engine_looked_at_and_leaves_the_others() -> None:
    w, tv = _wholesale_world()
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    rated, missed = b.cdr(w, kwh="1"), b.cdr(w, kwh="2")
    rating_api.cdrs_rate(cdr_ids=[rated.pk], actor=ACTOR, now=b.T0)
    written = {c.pk: c.created_at for c in (rated, missed)}

    out = rating_api.cdrs_sweep_unrated(actor=ACTOR, now=max(written.values()) + timedelta(hours=1))

    assert RatedLine.objects.filter(cdr=missed, engine="WHOLESALE").count() == 1
    assert RatedLine.objects.filter(cdr=rated).count() == 1
    assert out.lines_written == 1


def test_a_credited_cdr_has_its_lines_reversed_and_is_never_rated_again() -> None:
    """A credit CDR cancels its original: the original's lines in force are reversed (the
    sum is zero), its open flags resolved, and nothing rates it again; all once."""
    w, tv = _wholesale_world()
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    cdr = b.cdr(w, kwh="10")
    rating_api.cdrs_rate(cdr_ids=[cdr.pk], actor=ACTOR, now=b.T0)
    assert _flags(cdr) == {"RETAIL": ("NO_PACKAGE", "OPEN", 1)}
    credit_id = charging_api.cdr_credit(
        tenant_id=w.cpo_tenant.pk, cdr_id=cdr.pk, ocpi_id="CREDIT-1", actor=ACTOR
    )

    out = rating_api.cdrs_rate(cdr_ids=[credit_id], actor=ACTOR, now=b.T0 + DAY)

    assert out.lines_written == 1
    line, reversal = RatedLine.objects.filter(cdr=cdr, engine="WHOLESALE").order_by("seq")
    assert (reversal.kind, reversal.reverses_id, reversal.seq) == ("REVERSAL", line.pk, 2)
    assert reversal.reason == "credited by CDR CREDIT-1"
    assert line.total_incl_vat == D("3.03") and reversal.total_incl_vat == D("-3.03")
    assert _flags(cdr) == {"RETAIL": ("NO_PACKAGE", "RESOLVED", 1)}
    assert not RatedLine.objects.filter(cdr_id=credit_id).exists()
    # Redelivered, swept, re-rated: nothing more.
    again = rating_api.cdrs_rate(cdr_ids=[credit_id, cdr.pk], actor=ACTOR, now=b.T0 + 2 * DAY)
    rerated = rating_api.cdr_rerate(
        tenant_id=w.cpo_tenant.pk, cdr_id=cdr.pk, actor=ACTOR, reason="x", now=b.T0 + 2 * DAY
    )
    assert again.lines_written == rerated.lines_written == 0
    assert RatedLine.objects.filter(cdr=cdr).count() == 2
    assert RatingFlag.objects.filter(cdr=cdr, status="OPEN").count() == 0
