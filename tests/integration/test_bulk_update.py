"""`apps.common.bulk.update_where`, both ways (executemany; one UPDATE ... FROM (VALUES ...)),
and `update_rows` (by primary key): the same rows end up the same; a column of NULLs keeps
its type; a second match column leaves rows that no longer match alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.common.bulk import update_rows, update_where
from apps.locations.models import ChargeStation
from tests.factories import ChargeStationFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("one_statement", [False, True])
@pytest.mark.parametrize("convert", [False, True])
def test_update_where_sets_each_row_its_values(one_statement: bool, convert: bool) -> None:
    a, b, c = ChargeStationFactory(), ChargeStationFactory(), ChargeStationFactory()
    ChargeStation.objects.filter(pk=b.pk).update(last_boot_at=AT, connection_id="old")
    before = ChargeStation.objects.get(pk=c.pk)
    update_where(
        ChargeStation,
        set_fields=["connectivity", "gateway_node", "last_seen_at", "last_boot_at"],
        where_fields=["id"],
        rows=[("online", "node-a", AT, None, a.pk), ("offline", "", AT, None, b.pk)],
        stamp=False,
        one_statement=one_statement,
        convert=convert,
    )
    rows = {
        r[0]: r[1:]
        for r in ChargeStation.objects.values_list(
            "pk", "connectivity", "gateway_node", "last_seen_at", "last_boot_at"
        )
    }
    assert rows[a.pk] == ("online", "node-a", AT, None)
    assert rows[b.pk] == ("offline", "", AT, None)  # a column of NULLs: still a timestamp
    after = ChargeStation.objects.get(pk=c.pk)
    assert (after.connectivity, after.last_seen_at) == (before.connectivity, before.last_seen_at)
    assert ChargeStation.objects.get(pk=a.pk).updated_at == a.updated_at  # stamp=False


@pytest.mark.parametrize("one_statement", [False, True])
def test_a_second_match_column_leaves_rows_that_moved_on(one_statement: bool) -> None:
    a, b = ChargeStationFactory(), ChargeStationFactory()
    ChargeStation.objects.filter(pk=a.pk).update(connection_id="c1", connectivity="online")
    ChargeStation.objects.filter(pk=b.pk).update(connection_id="c2", connectivity="online")
    update_where(
        ChargeStation,
        set_fields=["connectivity", "connection_id"],
        where_fields=["id", "connection_id"],
        rows=[("offline", "", a.pk, "c1"), ("offline", "", b.pk, "an older connection")],
        stamp=False,
        one_statement=one_statement,
    )
    assert ChargeStation.objects.get(pk=a.pk).connectivity == "offline"
    assert ChargeStation.objects.get(pk=b.pk).connectivity == "online"


def test_update_where_stamps_updated_at_unless_told_not_to() -> None:
    a = ChargeStationFactory()
    update_where(
        ChargeStation, set_fields=["vendor"], where_fields=["id"], rows=[("V", a.pk)], stamp=True
    )
    assert ChargeStation.objects.get(pk=a.pk).updated_at > a.updated_at


def test_update_rows_writes_the_objects_fields_by_primary_key() -> None:
    a, b = ChargeStationFactory(), ChargeStationFactory()
    a.vendor, a.last_boot_at, b.vendor = "VA", AT, "VB"
    update_rows(ChargeStation, [a, b], ["vendor", "last_boot_at"])
    assert list(
        ChargeStation.objects.filter(pk__in=[a.pk, b.pk])
        .order_by("pk")
        .values_list("vendor", "last_boot_at")
    ) == [("VA", AT), ("VB", None)]
