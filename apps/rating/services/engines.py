"""The three engines on one CDR: which rule, which tariff version, what amounts, or why
not (a flag). Nothing is written here: `services.rating` compares these results with the
lines in force and writes the difference.

Order per CDR (BILLING.md section 1): wholesale (CPO tenant: the CPO sells to the eMSP),
retail (eMSP tenant: the eMSP sells to its driver; cost-plus marks the wholesale line up),
reimbursement (CPO tenant: the charger owner sells the energy to the CPO).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.common.contracts import HccFlag
from apps.rating.contracts import (
    RatingFlagReason,
    RoundingMode,
    RulePricing,
    RuleTerms,
    VatSource,
)
from apps.rating.selectors.facts import CdrFacts
from apps.rating.selectors.rule_terms import rule_indexes, rule_terms
from apps.tariffs import api as tariffs_api
from apps.tariffs.contracts import BillingEngine, TariffVersionTerms
from billing import pricing
from billing.rating import amounts
from billing.rating.amounts import Dimensions
from billing.rating.match import Match, SessionFacts

EXACT_PLACES = Decimal("0.00000001")  # RatedLine.*_exact keep 8 decimals
_PROVENANCE = frozenset({"rule_version_id", "tariff_version_id"})
_SESSION_KEYS = ("start_date_time", "end_date_time", "charging_periods")
ENGINES = (BillingEngine.WHOLESALE, BillingEngine.RETAIL, BillingEngine.REIMBURSEMENT)


@dataclass(frozen=True, slots=True)
class Priced:
    """A line an engine would write (its amounts and parties), not yet numbered."""

    engine: BillingEngine
    tenant_id: int
    fields: dict[str, Any]  # RatedLine columns (amounts, parties, rule, tariff, VAT)
    exact: Dimensions  # full precision, for a cost-plus line built on it

    def same_as(self, line: dict[str, Any]) -> bool:
        """The same money between the same parties (which rule or tariff version gave it
        is provenance: a new version with the same price changes nothing)."""
        return all(line.get(k) == v for k, v in self.fields.items() if k not in _PROVENANCE)


@dataclass(frozen=True, slots=True)
class Flagged:
    engine: BillingEngine
    tenant_id: int
    reason: RatingFlagReason
    detail: dict[str, Any] = field(default_factory=dict)


Result = Priced | Flagged


class TariffBook:
    """Rule tariffs' versions, fetched once per batch; parsed tariffs cached per process
    (a tariff version is append-only)."""

    _parsed: dict[int, pricing.Tariff] = {}

    def __init__(self, terms: Iterable[RuleTerms]) -> None:
        ids = {t.tariff_id for t in terms if t.tariff_id is not None}
        self._versions: dict[int, list[TariffVersionTerms]] = {}
        for v in tariffs_api.tariff_versions_of(tariff_ids=ids) if ids else ():
            self._versions.setdefault(v.tariff_id, []).append(v)

    def in_force(self, tariff_id: int, facts: CdrFacts) -> TariffVersionTerms | None:
        found = None
        for v in self._versions.get(tariff_id, ()):
            if v.effective_from > facts.cdr.start:
                break
            found = v
        return found

    def parsed(self, version: TariffVersionTerms) -> pricing.Tariff:
        tariff = self._parsed.get(version.id)
        if tariff is None:
            if len(self._parsed) > 10_000:
                self._parsed.clear()
            tariff = self._parsed[version.id] = pricing.parse_tariff(version.ocpi)
        return tariff


class Engines:
    """Rates a batch of CDRs: rule indexes and terms per (tenant, engine), tariffs and the
    CDRs' parsed charging periods, each read once."""

    def __init__(self, facts: list[CdrFacts]) -> None:
        self.facts = facts
        self.matches: dict[tuple[int, BillingEngine], Match] = {}
        wanted: list[tuple[int, BillingEngine, int, SessionFacts]] = []
        for f in facts:
            c = f.cdr
            if c.emsp_party_id is not None and not _roaming_in(f):
                wanted.append((c.id, BillingEngine.WHOLESALE, c.tenant_id, f.cpo))
            if c.emsp_tenant_id is not None and f.emsp is not None and _has_package(f):
                wanted.append((c.id, BillingEngine.RETAIL, c.emsp_tenant_id, f.emsp))
            if f.payee_id is not None:
                wanted.append((c.id, BillingEngine.REIMBURSEMENT, c.tenant_id, f.cpo))
        indexes = rule_indexes(keys={(t, e) for _, e, t, _ in wanted})
        for cdr_id, engine, tenant_id, session in wanted:
            self.matches[(cdr_id, engine)] = indexes[(tenant_id, engine)].match(session)
        version_ids = [m.rule.version_id for m in self.matches.values() if m.rule is not None]
        self.terms = rule_terms(version_ids=version_ids)
        self.tariffs = TariffBook(self.terms.values())
        self._sessions: dict[int, pricing.SessionInput] = {}

    @staticmethod
    def applies(f: CdrFacts) -> list[BillingEngine]:
        """The engines that rate this CDR (wholesale: the eMSP is known; retail: the eMSP
        runs on this platform; reimbursement: the station has a payee at the start)."""
        out = []
        if f.cdr.emsp_party_id is not None:
            out.append(BillingEngine.WHOLESALE)
        if f.cdr.emsp_tenant_id is not None:
            out.append(BillingEngine.RETAIL)
        if f.payee_id is not None:
            out.append(BillingEngine.REIMBURSEMENT)
        return out

    # -- the engines --------------------------------------------------------------------

    def wholesale(self, f: CdrFacts) -> Result:
        c = f.cdr
        engine = BillingEngine.WHOLESALE
        if _roaming_in(f):
            return self._partner_price(f)
        terms = self._rule(f, engine, c.tenant_id)
        if isinstance(terms, Flagged):
            return terms
        priced = self._price_tariff(f, engine, c.tenant_id, terms)
        if isinstance(priced, Flagged):
            return priced
        version, dims, adjustment, tariff_vat = priced
        return self._line(
            f,
            engine,
            c.tenant_id,
            terms,
            version,
            dims,
            adjustment,
            vat=(tariff_vat, _rate(f.cpo_contract), f.cpo_party_vat, False),
            rounding=_mode(f.cpo_contract),
            parties={
                "seller_party_id": c.party_id,
                "buyer_party_id": c.emsp_party_id,
                "buyer_tenant_id": c.emsp_tenant_id
                if c.emsp_tenant_id not in (None, c.tenant_id)
                else None,
                "own_charge": f.own_charge,
            },
        )

    def retail(self, f: CdrFacts, wholesale: Priced | None) -> Result:
        c = f.cdr
        engine = BillingEngine.RETAIL
        assert c.emsp_tenant_id is not None
        tenant_id = c.emsp_tenant_id
        if not _has_package(f):
            return Flagged(
                engine,
                tenant_id,
                RatingFlagReason.NO_PACKAGE,
                {"contract": None if f.contract is None else f.contract.contract_id},
            )
        assert f.contract is not None
        terms = self._rule(f, engine, tenant_id)
        if isinstance(terms, Flagged):
            return terms
        parties = {
            "seller_party_id": f.contract.emsp_party_id,
            "buyer_customer_id": c.customer_id or f.contract.customer_id,
        }
        if terms.pricing == RulePricing.COST_PLUS:
            if wholesale is None:
                return Flagged(
                    engine,
                    tenant_id,
                    RatingFlagReason.PRICING_FAILED,
                    {"rule": terms.rule_id, "error": "cost-plus: the CDR has no wholesale line"},
                )
            if terms.markup_per_kwh is not None and terms.markup_currency != c.currency:
                return _mismatch(engine, tenant_id, terms, terms.markup_currency, c.currency)
            dims, adjustment = amounts.cost_plus(
                wholesale.exact,
                markup_percent=terms.markup_percent,
                markup_per_kwh=terms.markup_per_kwh,
                energy_kwh=c.energy_kwh,
            )
            w = wholesale.fields
            tariff_vat = w["vat_rate"] if w["vat_source"] == VatSource.TARIFF.value else None
            return self._line(
                f,
                engine,
                tenant_id,
                terms,
                None,
                dims,
                adjustment,
                vat=(tariff_vat, _rate(f.emsp_contract), f.emsp_party_vat, False),
                rounding=_mode(f.emsp_contract),
                parties=parties,
                tariff_version_id=w["tariff_version_id"],
            )
        priced = self._price_tariff(f, engine, tenant_id, terms)
        if isinstance(priced, Flagged):
            return priced
        version, dims, adjustment, tariff_vat = priced
        return self._line(
            f,
            engine,
            tenant_id,
            terms,
            version,
            dims,
            adjustment,
            vat=(tariff_vat, _rate(f.emsp_contract), f.emsp_party_vat, False),
            rounding=_mode(f.emsp_contract),
            parties=parties,
        )

    def reimbursement(self, f: CdrFacts) -> Result:
        c = f.cdr
        engine = BillingEngine.REIMBURSEMENT
        terms = self._rule(f, engine, c.tenant_id)
        if isinstance(terms, Flagged):
            return terms
        for value, currency in (
            (terms.margin_per_session, terms.margin_per_session_currency),
            (terms.margin_per_kwh, terms.margin_per_kwh_currency),
        ):
            if value is not None and currency != c.currency:
                return _mismatch(engine, c.tenant_id, terms, currency, c.currency)
        priced = self._price_tariff(f, engine, c.tenant_id, terms)
        if isinstance(priced, Flagged):
            return priced
        version, dims, adjustment, tariff_vat = priced
        adjustment += amounts.reimbursement_margin(
            margin_per_session=terms.margin_per_session,
            margin_per_kwh=terms.margin_per_kwh,
            energy_kwh=c.energy_kwh,
        )
        return self._line(
            f,
            engine,
            c.tenant_id,
            terms,
            version,
            dims,
            adjustment,
            vat=(tariff_vat, _rate(f.cpo_contract), f.cpo_party_vat, c.hcc == HccFlag.HCC_E),
            rounding=_mode(f.cpo_contract),
            parties={"seller_payee_id": f.payee_id, "buyer_party_id": c.party_id},
        )

    def _partner_price(self, f: CdrFacts) -> Result:
        """Wholesale of a roaming partner's CDR (ADR 0041): the CPO's own price, bought by
        the eMSP tenant (`buyer_tenant` = itself: a cost, never invoiced by the platform).
        No rule: the partner prices; re-pricing it with the partner's published tariff is
        the roaming app's reconciliation. VAT: the tenant's contract with that CPO, else
        the CPO party's rate."""
        c = f.cdr
        engine = BillingEngine.WHOLESALE
        if c.exact is None:
            return Flagged(
                engine,
                c.tenant_id,
                RatingFlagReason.PRICING_FAILED,
                {"error": "the partner's CDR carries no price"},
            )
        try:
            dims, adjustment = _cdr_figures(c.exact)
        except (KeyError, TypeError, ArithmeticError) as exc:
            return Flagged(
                engine,
                c.tenant_id,
                RatingFlagReason.PRICING_FAILED,
                {"error": f"the partner's CDR price cannot be read: {exc}"},
            )
        return self._line(
            f,
            engine,
            c.tenant_id,
            None,
            None,
            dims,
            adjustment,
            vat=(None, _rate(f.cpo_contract), f.cpo_party_vat, False),
            rounding=_mode(f.cpo_contract),
            parties={
                "seller_party_id": c.party_id,
                "buyer_party_id": c.emsp_party_id,
                "buyer_tenant_id": c.tenant_id,
                "own_charge": False,
            },
        )

    # -- shared steps -------------------------------------------------------------------

    def _rule(self, f: CdrFacts, engine: BillingEngine, tenant_id: int) -> RuleTerms | Flagged:
        m = self.matches.get((f.cdr.id, engine))
        if m is None or m.rule is None:
            reason = RatingFlagReason(m.reason) if m and m.reason else RatingFlagReason.NO_RULE
            detail: dict[str, Any] = {}
            if m is not None and m.candidates:
                detail["rules"] = list(m.candidates)
            return Flagged(engine, tenant_id, reason, detail)
        return self.terms[m.rule.version_id]

    def _session(self, f: CdrFacts) -> pricing.SessionInput:
        s = self._sessions.get(f.cdr.id)
        if s is None:
            data = f.cdr.data
            if f.cdr.time_zone is not None and type(data) is dict:
                # Only what prices (ADR 0034): the pricing core's fast path then skips the
                # checks of the CDR's other fields (token, location, totals), which were
                # checked when the CDR was stored and do not change a price.
                data = {k: data[k] for k in _SESSION_KEYS if k in data}
            s = self._sessions[f.cdr.id] = pricing.parse_cdr_session(
                data, time_zone=f.cdr.time_zone
            )
        return s

    def _price_tariff(
        self, f: CdrFacts, engine: BillingEngine, tenant_id: int, terms: RuleTerms
    ) -> tuple[TariffVersionTerms, Dimensions, Decimal, Decimal | None] | Flagged:
        c = f.cdr

        def failed(error: str) -> Flagged:
            detail = {"rule": terms.rule_id, "error": error[:2000]}
            return Flagged(engine, tenant_id, RatingFlagReason.PRICING_FAILED, detail)

        if terms.pricing != RulePricing.TARIFF or terms.tariff_id is None:
            return failed(f"rule {terms.rule_id} names no tariff to price with")
        version = self.tariffs.in_force(terms.tariff_id, f)
        if version is None:
            return failed(f"tariff {terms.tariff_id} has no version in force at {c.start}")
        if version.currency != c.currency:
            return _mismatch(engine, tenant_id, terms, version.currency, c.currency)
        try:
            tariff = self.tariffs.parsed(version)
            tariff_vat = amounts.tariff_vat(tariff)
            if version.id == c.tariff_version_id and c.exact is not None:
                dims, adjustment = _cdr_figures(c.exact)  # the CDR's own price
            else:
                dims, adjustment = amounts.dimensions_of(
                    amounts.price_periods(tariff, self._session(f))
                )
        except (pricing.PricingError, amounts.MixedVatRates) as exc:
            return failed(str(exc))
        return version, dims, adjustment, tariff_vat

    def _line(
        self,
        f: CdrFacts,
        engine: BillingEngine,
        tenant_id: int,
        terms: RuleTerms | None,
        version: TariffVersionTerms | None,
        dims: Dimensions,
        adjustment: Decimal,
        *,
        vat: tuple[Decimal | None, Decimal | None, Decimal | None, bool],
        rounding: RoundingMode,
        parties: dict[str, Any],
        tariff_version_id: int | None = None,
    ) -> Result:
        c = f.cdr
        chosen = amounts.resolve_vat(
            tariff=vat[0],
            contract=vat[1],
            party=vat[2],
            hcc_exempt=vat[3] and engine == BillingEngine.REIMBURSEMENT,
        )
        if chosen is None:
            detail = {"rule": terms.rule_id} if terms is not None else {"cpo_party": c.party_id}
            return Flagged(engine, tenant_id, RatingFlagReason.NO_VAT_RATE, detail)
        a = amounts.line_amounts(
            exact=dims, adjustment=adjustment, vat=chosen, currency=c.currency, rounding=rounding
        )
        fields: dict[str, Any] = {
            "seller_party_id": None,
            "seller_payee_id": None,
            "buyer_party_id": None,
            "buyer_customer_id": None,
            "buyer_tenant_id": None,
            "own_charge": False,
            **parties,
            "rule_version_id": terms.version_id if terms is not None else None,
            "tariff_version_id": version.id if version is not None else tariff_version_id,
            "currency": c.currency,
            "rounding_mode": rounding.value,
            "energy_kwh": c.energy_kwh,
            "time_hours": c.time_hours,
            "parking_hours": c.parking_hours,
            "adjustment_exact": _exact(a.adjustment_exact),
            "adjustment": a.adjustment,
            "total_excl_vat": a.total_excl_vat,
            "vat_rate": chosen.rate,
            "vat_source": chosen.source,
            "vat_exemption_reason": chosen.exemption_reason,
            "vat": a.vat_amount,
            "total_incl_vat": a.total_incl_vat,
            "hcc": c.hcc,
        }
        for name, exact, rounded in zip(
            ("fixed", "energy", "time", "parking", "reservation"),
            a.exact.values(),
            a.rounded.values(),
            strict=True,
        ):
            fields[f"{name}_exact"] = _exact(exact)
            fields[name] = rounded
        return Priced(engine, tenant_id, fields, dims)


def _roaming_in(f: CdrFacts) -> bool:
    """A roaming CPO partner's CDR received by the eMSP tenant: no local station."""
    return f.cdr.charge_station_id is None


def _has_package(f: CdrFacts) -> bool:
    return f.contract is not None and f.contract.retail_package_id is not None


def _rate(contract: Any) -> Decimal | None:
    return None if contract is None else contract.vat_rate


def _mode(contract: Any) -> RoundingMode:
    return RoundingMode.HALF_UP if contract is None else RoundingMode(contract.rounding_mode)


def _exact(value: Decimal) -> Decimal:
    return value.quantize(EXACT_PLACES)


def _mismatch(
    engine: BillingEngine, tenant_id: int, terms: RuleTerms, rule_currency: str, cdr: str
) -> Flagged:
    return Flagged(
        engine,
        tenant_id,
        RatingFlagReason.CURRENCY_MISMATCH,
        {"rule": terms.rule_id, "rule_currency": rule_currency, "cdr_currency": cdr},
    )


_CATEGORIES = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def _cdr_figures(exact: dict[str, Any]) -> tuple[Dimensions, Decimal]:
    """The exact amounts excl. VAT the pricing core gave the CDR (annotations), and its
    min/max clamp as an adjustment."""
    dims = Dimensions(*(Decimal(exact[k]["excl_vat"]) for k in _CATEGORIES))
    diff = Decimal(exact["total_cost"]["excl_vat"]) - dims.total()
    return dims, diff if abs(diff) > Decimal("1e-12") else amounts.ZERO


def tariff_cache_clear() -> None:
    """Forget the parsed tariffs (tests whose rows reuse ids after a rollback)."""
    TariffBook._parsed.clear()
