"""Migration operations shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations.base import Operation

_FUNCTION = """
CREATE OR REPLACE FUNCTION platform_reject_append_only_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% on %: rows of this table are append-only; record a correction instead',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


class AppendOnlyTrigger(Operation):
    """On PostgreSQL, a trigger that rejects UPDATE and DELETE on `table` for every client.

    On other databases (the SQLite quick start) it does nothing; the model refuses changes
    there (`apps.common.models.AppendOnlyModel`). TRUNCATE stays possible for administrators
    and for test-database flushes.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, table: str) -> None:
        self.table = table

    @property
    def trigger_name(self) -> str:
        return f"{self.table}_append_only"

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(_FUNCTION, params=None)
        schema_editor.execute(
            f'CREATE TRIGGER "{self.trigger_name}" BEFORE UPDATE OR DELETE ON "{self.table}" '
            "FOR EACH ROW EXECUTE FUNCTION platform_reject_append_only_change()"
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{self.trigger_name}" ON "{self.table}"')

    def describe(self) -> str:
        return f"Reject UPDATE and DELETE on {self.table} (PostgreSQL trigger)"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [], {"table": self.table})


class PostgresOnlySQL(Operation):
    """Raw SQL (triggers, functions) run on PostgreSQL only; the SQLite quick start relies on
    the models' own checks instead. `reverse_sql` undoes it."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, sql: str, reverse_sql: str) -> None:
        self.sql = sql
        self.reverse_sql = reverse_sql

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.sql, params=None)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.reverse_sql, params=None)

    def describe(self) -> str:
        return "PostgreSQL-only SQL"
