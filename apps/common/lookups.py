"""`field__any=ids`: membership in a list of ids as ONE parameter on PostgreSQL.

`field__in=ids` makes one placeholder per id: for the rating engines' batches of 500 to
1,000 ids, preparing each value (Django) and splitting the query at every placeholder
(psycopg's client-side binding) cost more CPU than the query itself (ADR 0034). On
PostgreSQL `__any` is `field = ANY(%s)` with the list as one array parameter; elsewhere it
is the usual `IN (...)`. The values are used as they are (ints, strings): no per-value
preparation, so pass plain values of the column's type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject, Lookup
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        rhs = self.rhs
        if not isinstance(rhs, Iterable) or isinstance(rhs, str | bytes):
            raise TypeError("__any takes an iterable of values")
        return [v for v in dict.fromkeys(rhs) if v is not None]

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        if not self.rhs:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        marks = ", ".join(["%s"] * len(self.rhs))
        return f"{lhs} IN ({marks})", [*lhs_params, *self.rhs]

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        if not self.rhs:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # `token_id__any`: the foreign key's column
