"""The universal record: canonical bytes, versions only on change, immutable rows (the
PostgreSQL trigger), and what each tenant sees of a CDR."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from apps.invoicing import api
from apps.invoicing.models import CdrRecord
from apps.invoicing.services.records import canonical
from tests.invoicing.finance_world import world

pytestmark = pytest.mark.django_db


def test_canonical_json_is_sorted_with_decimals_and_datetimes_as_strings() -> None:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    value = {"b": Decimal("1.50"), "a": [1, "x", at], "c": {"z": None, "y": "é"}}
    assert canonical(value) == (
        '{"a":[1,"x","2026-03-01T12:00:00Z"],"b":"1.50","c":{"y":"é","z":null}}'.encode()
    )


def test_stored_record_hash_is_the_hash_of_its_canonical_bytes() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    api.cdr_records_store(tenant_id=a, cdr_ids=[w.home.pk])
    row = CdrRecord.objects.get(tenant_id=a, cdr_id=w.home.pk)
    assert row.version == 1
    assert row.sha256 == hashlib.sha256(canonical(row.payload)).hexdigest()
    built = api.cdr_record_build(tenant_id=a, cdr_id=w.home.pk)
    assert canonical(built) == canonical(row.payload)
    assert [e["engine"] for e in built["engines"]] == ["WHOLESALE", "REIMBURSEMENT"]
    assert json.loads(canonical(built))["cdr"]["total_energy"] == "4.0000"


def test_records_cannot_be_changed_or_deleted() -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    api.cdr_records_store(tenant_id=a, cdr_ids=[w.roaming.pk])
    row = CdrRecord.objects.get(tenant_id=a)
    with pytest.raises(Exception, match="append-only"):
        row.save()
    if connection.vendor != "postgresql":
        pytest.skip("the trigger that refuses every client's UPDATE / DELETE is PostgreSQL's")
    table = CdrRecord._meta.db_table
    for sql in (f"UPDATE {table} SET sha256 = 'x'", f"DELETE FROM {table}"):
        with pytest.raises((InternalError, IntegrityError)), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(sql)
    assert CdrRecord.objects.get(tenant_id=a).sha256 == row.sha256


def test_records_of_many_chunks_read_links_and_versions_once_and_match_single_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch's document links and stored versions are one statement each, however many
    chunks its CDRs make (per chunk, PostgreSQL's plan for them depended on statistics the
    billing run's fresh rows do not have yet); each CDR still gets its own record."""
    from django.test.utils import CaptureQueriesContext

    from apps.invoicing.services import records

    w = world()
    a = w.m.cpo_tenant.pk
    ids = [w.roaming.pk, w.market_cdr.pk, w.own.pk, w.home.pk]
    monkeypatch.setattr(records, "CHUNK", 1)  # four chunks
    for expected_version in (1, 1):  # the second store finds every record unchanged
        with CaptureQueriesContext(connection) as q:
            versions = api.cdr_records_store(tenant_id=a, cdr_ids=ids)
        assert versions == dict.fromkeys(ids, expected_version)
        sqls = [x["sql"] for x in q.captured_queries]
        assert sum("invoicing_documentline" in s for s in sqls) == 1
        assert sum("FROM " in s and "invoicing_cdrrecord" in s for s in sqls) == 1
    assert CdrRecord.objects.filter(tenant_id=a).count() == 4
    for cid in ids:
        row = CdrRecord.objects.get(tenant_id=a, cdr_id=cid)
        assert canonical(row.payload) == canonical(api.cdr_record_build(tenant_id=a, cdr_id=cid))
