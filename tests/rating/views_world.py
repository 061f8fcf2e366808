"""Rated lines and rating flags written straight with the ORM, for the read side's tests
(the rating service is tested apart): a CPO tenant, a marketplace eMSP tenant, a third
tenant, and the helpers that write lines, reversals and flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from apps.rating.models import BillingRule, BillingRuleVersion, RatedLine, RatingFlag
from tests.factories import (
    CdrFactory,
    CustomerFactory,
    EmspFactory,
    OperatorFactory,
    PartyFactory,
    TariffFactory,
    TariffVersionFactory,
)

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CENT = Decimal("0.01")


@dataclass
class Market:
    cpo_tenant: Any
    cpo: Any  # the CPO tenant's own CPO party
    own_emsp: Any  # the CPO tenant's own eMSP party (own charge)
    partner: Any  # a roaming eMSP the CPO tenant knows (partner row)
    emsp_tenant: Any  # a marketplace eMSP tenant
    emsp_party: Any  # its own eMSP identity
    emsp_as_partner: Any  # the CPO tenant's partner row for it
    other_tenant: Any
    rule: Any  # the CPO tenant's wholesale rule version
    retail_rule: Any  # the eMSP tenant's retail rule version
    tariff_version: Any
    customer: Any  # the eMSP tenant's driver


def market() -> Market:
    a = OperatorFactory(slug="cpo-a", name="CPO A")
    b = OperatorFactory(slug="emsp-b", name="eMSP B")
    c = OperatorFactory(slug="other-c", name="Other C")
    cpo = PartyFactory(tenant=a, country_code="NL", party_id="AAA", name="A charging")
    own_emsp = EmspFactory(tenant=a, country_code="NL", party_id="AAE", name="A mobility")
    partner = EmspFactory(
        tenant=a, country_code="DE", party_id="RMG", name="Roaming GmbH", kind="PARTNER"
    )
    emsp_party = EmspFactory(tenant=b, country_code="BE", party_id="BBB", name="B drive")
    emsp_as_partner = EmspFactory(
        tenant=a, country_code="BE", party_id="BBB", name="B drive", kind="PARTNER"
    )
    PartyFactory(tenant=c, country_code="FR", party_id="CCC", name="C")
    tariff = TariffFactory(party=cpo, tenant=a, ocpi_id="WHOLESALE-1", engine="WHOLESALE")
    tv = TariffVersionFactory(tariff=tariff, tenant=a, version=1)
    rule = BillingRule.objects.create(tenant=a, engine="WHOLESALE", name="Roaming default")
    rule_v = BillingRuleVersion.objects.create(
        tenant=a,
        rule=rule,
        version=2,
        effective_from=T0 - timedelta(days=30),
        tariff=tariff,
        cpo_scope="ANY",
        emsp_scope="ANY",
    )
    r_rule = BillingRule.objects.create(tenant=b, engine="RETAIL", name="B cost plus 5")
    r_rule_v = BillingRuleVersion.objects.create(
        tenant=b,
        rule=r_rule,
        version=1,
        effective_from=T0 - timedelta(days=30),
        pricing="COST_PLUS",
        markup_percent=Decimal("5"),
        cpo_scope="ANY",
        emsp_scope="ANY",
    )
    customer = CustomerFactory(party=emsp_party, tenant=b, name="Driver Dana")
    return Market(
        a, cpo, own_emsp, partner, b, emsp_party, emsp_as_partner, c, rule_v, r_rule_v, tv, customer
    )


def cdr(m: Market, *, emsp: Any, emsp_tenant: Any = None, currency: str = "EUR", **kw: Any) -> Any:
    return CdrFactory(
        tenant=m.cpo_tenant,
        session__tenant=m.cpo_tenant,
        session__connector__tenant=m.cpo_tenant,
        session__connector__evse__tenant=m.cpo_tenant,
        session__connector__evse__charge_station__tenant=m.cpo_tenant,
        session__connector__evse__charge_station__location__tenant=m.cpo_tenant,
        session__connector__evse__charge_station__location__party=m.cpo,
        party=m.cpo,
        emsp_party=emsp,
        emsp_tenant=emsp_tenant,
        currency=currency,
        **kw,
    )


def line(
    cdr: Any,
    engine: str,
    seq: int,
    *,
    tenant: Any,
    excl: str,
    vat_rate: str = "21",
    at: datetime = T0,
    currency: str | None = None,
    kwh: str = "10",
    **kw: Any,
) -> RatedLine:
    """A LINE whose total is `excl` (all energy), VAT rounded half up to the cent."""
    amount = Decimal(excl)
    vat = (amount * Decimal(vat_rate) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    fields: dict[str, Any] = {
        "tenant": tenant,
        "cdr": cdr,
        "engine": engine,
        "seq": seq,
        "currency": currency or cdr.currency,
        "rounding_mode": "ROUND_HALF_UP",
        "energy_kwh": Decimal(kwh),
        "energy_exact": amount,
        "energy": amount,
        "total_excl_vat": amount,
        "vat_rate": Decimal(vat_rate),
        "vat_source": "TARIFF",
        "vat": vat,
        "total_incl_vat": amount + vat,
        "created_at": at,
        "rated_by": "system: rating",
    }
    fields.update(kw)
    return RatedLine.objects.create(**fields)


def reversal(original: RatedLine, seq: int, *, at: datetime, reason: str) -> RatedLine:
    """The REVERSAL of `original`: the same amounts (and kWh) negated, pointing at it."""
    negated = {
        f: -getattr(original, f)
        for f in (
            "energy_kwh",
            "time_hours",
            "parking_hours",
            "fixed_exact",
            "fixed",
            "energy_exact",
            "energy",
            "time_exact",
            "time",
            "parking_exact",
            "parking",
            "reservation_exact",
            "reservation",
            "adjustment_exact",
            "adjustment",
            "total_excl_vat",
            "vat",
            "total_incl_vat",
        )
    }
    same = {
        f: getattr(original, f)
        for f in (
            "tenant_id",
            "cdr_id",
            "engine",
            "seller_party_id",
            "seller_payee_id",
            "buyer_party_id",
            "buyer_customer_id",
            "buyer_tenant_id",
            "own_charge",
            "rule_version_id",
            "tariff_version_id",
            "currency",
            "rounding_mode",
            "vat_rate",
            "vat_source",
            "hcc",
        )
    }
    return RatedLine.objects.create(
        **same,
        **negated,
        seq=seq,
        kind="REVERSAL",
        reverses=original,
        reason=reason,
        created_at=at,
        rated_by="user: re-rate",
    )


def flag(cdr: Any, engine: str, reason: str, *, tenant: Any, **kw: Any) -> RatingFlag:
    fields: dict[str, Any] = {
        "tenant": tenant,
        "cdr": cdr,
        "engine": engine,
        "reason": reason,
        "flagged_at": T0,
        "last_tried_at": T0,
        "next_retry_at": T0 + timedelta(hours=24),
    }
    fields.update(kw)
    return RatingFlag.objects.create(**fields)
