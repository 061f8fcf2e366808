"""EN 16931 sum rules (BR-CO-10 to BR-CO-17) as properties, checked independently of
apps.invoicing.arithmetic: for random lines (corrections, several rates, exempt and reverse
charge lines, currencies with 0 and 2 decimals), the breakdown and totals of `document_totals`,
of finalized documents as stored, and of partial credit notes as stored.

- sum of line nets = net total (BR-CO-10); each group's taxable = the sum of its lines;
- each group's VAT = round(taxable x rate / 100) half up to the minor unit (BR-CO-17);
- VAT total = sum of the groups' VAT (BR-CO-14); total = net total + VAT total (BR-CO-15);
- exempt and reverse-charge groups are 0 % with an exemption reason (BR-E-10, BR-AE-10)."""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common.contracts import Actor
from apps.invoicing import api as invoicing_api
from apps.invoicing.arithmetic import TaxedLine, document_totals, line_vat_category
from apps.invoicing.models import Document, DocumentLine, VatBreakdown
from tests.factories import OperatorFactory
from tests.invoicing.documents_world import AFTER_GRACE, draft

ACTOR = Actor.system("test: properties")
RATES = ["21", "9", "19", "7", "20", "5.5", "0"]
MINOR = {"EUR": Decimal("0.01"), "JPY": Decimal("1")}

net_cents = st.integers(min_value=-20_000, max_value=200_000)
spec = st.tuples(net_cents, st.sampled_from(RATES), st.booleans())  # exempt when rate 0
doc_spec = st.tuples(
    st.lists(spec, min_size=1, max_size=12),
    st.sampled_from(["EUR", "JPY"]),
    st.booleans(),  # reverse charge
)


def _lines(specs: list[tuple[int, str, bool]], currency: str) -> list[tuple[str, str, str]]:
    q = MINOR[currency]
    return [
        (str((Decimal(c) * q).quantize(q)), rate, "HCC_E home" if exempt else "")
        for c, rate, exempt in specs
    ]


def _expect(
    lines: list[tuple[Decimal, str, Decimal, str]], currency: str
) -> tuple[dict[tuple[str, Decimal], tuple[Decimal, Decimal]], Decimal, Decimal, Decimal]:
    """The breakdown and totals by the rules, from (net, category, rate, reason) lines."""
    q = MINOR[currency]
    taxable: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    for net, category, rate, reason in lines:
        if category in ("E", "AE"):
            assert rate == 0 and reason, "an exempt line carries 0 % and its reason"
        taxable[(category, rate)] += net
    groups = {
        key: (t, (t * key[1] / 100).quantize(q, rounding=ROUND_HALF_UP))
        for key, t in taxable.items()
    }
    net_total = sum((net for net, *_ in lines), Decimal(0))
    vat_total = sum((v for _, v in groups.values()), Decimal(0))
    return groups, net_total, vat_total, net_total + vat_total


@settings(max_examples=200, deadline=None)
@given(doc_spec)
def test_document_totals_satisfy_the_sum_rules(
    example: tuple[list[tuple[int, str, bool]], str, bool],
) -> None:
    specs, currency, reverse = example
    taxed = []
    for net, rate, reason in _lines(specs, currency):
        cat, r, why = line_vat_category(
            vat_rate=Decimal(rate), exemption_reason=reason, reverse_charge=reverse
        )
        taxed.append(TaxedLine(net=Decimal(net), category=cat, rate=r, exemption_reason=why))
    totals = document_totals(taxed, currency)
    groups, net_total, vat_total, total = _expect(
        [(t.net, t.category.value, t.rate, t.exemption_reason) for t in taxed], currency
    )
    assert {(g.category.value, g.rate): (g.taxable, g.vat) for g in totals.groups} == groups
    assert (totals.net_total, totals.vat_total, totals.total) == (net_total, vat_total, total)
    assert all(g.exemption_reason for g in totals.groups if g.category.value in ("E", "AE"))
    if reverse:
        assert {g.category.value for g in totals.groups} == {"AE"}


def _stored(doc_id: int) -> tuple[Any, list[tuple[Decimal, str, Decimal, str]], dict[Any, Any]]:
    doc = Document.objects.get(pk=doc_id)
    lines = [
        (ln.net, ln.vat_category, ln.vat_rate, ln.exemption_reason)
        for ln in DocumentLine.objects.filter(document_id=doc_id, active=True)
    ]
    breakdown = {
        (b.category, b.rate): (b.taxable, b.vat)
        for b in VatBreakdown.objects.filter(document_id=doc_id)
    }
    return doc, lines, breakdown


def _check_stored(doc_id: int) -> None:
    doc, lines, breakdown = _stored(doc_id)
    assert doc.status == "FINALIZED" and doc.number
    groups, net_total, vat_total, total = _expect(lines, doc.currency)
    assert breakdown == groups
    assert (doc.net_total, doc.vat_total, doc.total) == (net_total, vat_total, total)
    assert doc.line_count == len(lines)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(doc_spec, st.data())
def test_finalized_documents_and_their_credit_notes_satisfy_the_sum_rules(
    example: tuple[list[tuple[int, str, bool]], str, bool], data: st.DataObject
) -> None:
    specs, currency, reverse = example
    with transaction.atomic():  # each example on its own: rolled back
        tenant = OperatorFactory(slug="properties")
        doc = draft(tenant, _lines(specs, currency), currency=currency, reverse_charge=reverse)
        invoicing_api.document_finalize(
            tenant_id=tenant.pk, document_id=doc.pk, actor=ACTOR, now=AFTER_GRACE
        )
        _check_stored(doc.pk)
        line_ids = list(
            DocumentLine.objects.filter(document=doc)
            .order_by("position")
            .values_list("id", flat=True)
        )
        chosen = data.draw(st.lists(st.sampled_from(line_ids), min_size=1, unique=True))
        note = invoicing_api.credit_note_create(
            tenant_id=tenant.pk, document_id=doc.pk, actor=ACTOR, reason="p", line_ids=chosen
        )
        _check_stored(note)
        rest = [pk for pk in line_ids if pk not in chosen]
        if rest:
            _check_stored(
                invoicing_api.credit_note_create(
                    tenant_id=tenant.pk, document_id=doc.pk, actor=ACTOR, reason="rest"
                )
            )
        # Every line is credited once: the credit notes' nets add up to the original's.
        credited = sum(
            Document.objects.filter(credits=doc).values_list("net_total", flat=True), Decimal(0)
        )
        assert credited == Document.objects.get(pk=doc.pk).net_total
        transaction.set_rollback(True)
