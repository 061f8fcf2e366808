"""A CDR is written once: the model refuses changes everywhere, PostgreSQL refuses them for
every client, and a correction is a new credit CDR."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, models, transaction

from apps.charging import api as charging_api
from apps.charging.models import Cdr
from apps.common.contracts import Actor
from apps.common.errors import Conflict, ImmutableRecordError
from apps.parties.models import AuditEntry
from tests.factories import CdrFactory

pytestmark = pytest.mark.django_db
BILLING = Actor.system("billing")


def test_model_refuses_save_of_an_existing_cdr() -> None:
    cdr = CdrFactory()
    cdr.total_cost_excl_vat = Decimal("0.01")
    with pytest.raises(ImmutableRecordError, match="append-only"):
        cdr.save()
    assert Cdr.objects.get(pk=cdr.pk).total_cost_excl_vat == Decimal("2.5000")


def test_model_refuses_delete() -> None:
    cdr = CdrFactory()
    with pytest.raises(ImmutableRecordError):
        cdr.delete()
    assert Cdr.objects.filter(pk=cdr.pk).exists()


def test_queryset_refuses_update_delete_and_bulk_update() -> None:
    cdr = CdrFactory()
    with pytest.raises(ImmutableRecordError):
        Cdr.objects.filter(pk=cdr.pk).update(total_cost_excl_vat=0)
    with pytest.raises(ImmutableRecordError):
        Cdr.objects.filter(pk=cdr.pk).delete()
    with pytest.raises(ImmutableRecordError):
        Cdr.objects.bulk_update([cdr], ["total_cost_excl_vat"])
    assert Cdr.objects.get(pk=cdr.pk).total_cost_excl_vat == Decimal("2.5000")


@pytest.mark.postgres
def test_postgres_trigger_rejects_update_from_any_client() -> None:
    cdr = CdrFactory()
    # Raw SQL, as another client (psql, a migration, a careless script) would send it.
    with pytest.raises(IntegrityError, match="UPDATE on charging_cdr: rows of this table are"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE charging_cdr SET total_cost_excl_vat = 0 WHERE id = %s", [cdr.pk]
            )
    # A plain QuerySet bypasses the model's refusal; the trigger still stops it.
    with pytest.raises(IntegrityError, match="append-only"):
        with transaction.atomic():
            models.QuerySet(Cdr).filter(pk=cdr.pk).update(total_cost_excl_vat=0)
    assert Cdr.objects.get(pk=cdr.pk).total_cost_excl_vat == Decimal("2.5000")


@pytest.mark.postgres
def test_postgres_trigger_rejects_delete_from_any_client() -> None:
    cdr = CdrFactory()
    with pytest.raises(IntegrityError, match="DELETE on charging_cdr: rows of this table are"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM charging_cdr WHERE id = %s", [cdr.pk])
    assert Cdr.objects.filter(pk=cdr.pk).exists()


@pytest.mark.postgres
def test_postgres_trigger_also_guards_tariff_versions() -> None:
    from tests.factories import TariffVersionFactory

    version = TariffVersionFactory()
    with pytest.raises(IntegrityError, match="UPDATE on tariffs_tariffversion"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE tariffs_tariffversion SET version = 99 WHERE id = %s", [version.pk]
            )


def test_a_session_has_at_most_one_original_cdr() -> None:
    first = CdrFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CdrFactory(session=first.session, party=first.party)
    assert Cdr.objects.filter(session=first.session).count() == 1


def test_credit_cdr_negates_every_amount_and_leaves_the_original_alone() -> None:
    original = CdrFactory()
    credit_id = charging_api.cdr_credit(
        tenant_id=original.tenant_id, cdr_id=original.pk, ocpi_id="CREDIT-1", actor=BILLING
    )
    credit = Cdr.objects.get(pk=credit_id)
    assert credit.kind == "CREDIT"
    assert credit.credits_id == original.pk
    assert credit.total_cost_excl_vat == Decimal("-2.5000")
    assert credit.total_cost_incl_vat == Decimal("-3.0300")
    assert credit.total_energy_kwh == Decimal("-10.0000")
    assert credit.total_time_cost_excl_vat is None
    assert credit.data["credit_reference_id"] == original.ocpi_id
    original.refresh_from_db()
    assert original.total_cost_excl_vat == Decimal("2.5000")
    # Audited with the actor, in the credit's transaction.
    (entry,) = AuditEntry.objects.all()
    assert (entry.tenant_id, entry.actor_name, entry.action, entry.object_type) == (
        original.tenant_id,
        "billing",
        "cdr.credit",
        "cdr",
    )
    assert entry.object_id == str(credit_id)
    assert entry.after == {"ocpi_id": "CREDIT-1", "credits": original.ocpi_id}


def test_a_cdr_is_credited_once_and_a_credit_is_never_credited() -> None:
    original = CdrFactory()
    credit_id = charging_api.cdr_credit(
        tenant_id=original.tenant_id, cdr_id=original.pk, ocpi_id="CREDIT-1", actor=BILLING
    )
    with pytest.raises(Conflict, match="already been credited"):
        charging_api.cdr_credit(
            tenant_id=original.tenant_id, cdr_id=original.pk, ocpi_id="CREDIT-2", actor=BILLING
        )
    with pytest.raises(Conflict, match="is a credit CDR"):
        charging_api.cdr_credit(
            tenant_id=original.tenant_id, cdr_id=credit_id, ocpi_id="C-3", actor=BILLING
        )
    assert Cdr.objects.count() == 2
    assert AuditEntry.objects.count() == 1  # refusals change nothing and audit nothing


def test_credit_of_another_tenants_cdr_is_not_found() -> None:
    from apps.common.errors import NotFound
    from tests.factories import OperatorFactory

    cdr = CdrFactory()
    other = OperatorFactory()
    with pytest.raises(NotFound):
        charging_api.cdr_credit(tenant_id=other.pk, cdr_id=cdr.pk, ocpi_id="X", actor=BILLING)
    assert Cdr.objects.count() == 1
