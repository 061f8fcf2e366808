"""The tenancy base every tenant-owned model inherits.

A tenant is an operator organisation (`parties.Operator`). The foreign key is declared by
string, so this leaf app imports no other app. `TenantQuerySet.for_tenant` is how services and
selectors read; the architecture test `tests/architecture/test_tenancy.py` checks that every
model of the domain apps carries its tenant.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

from apps.common.errors import ImmutableRecordError


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Any) -> TenantQuerySet:
        tenant_id = getattr(tenant, "pk", tenant)
        return self.filter(tenant_id=tenant_id)


class TenantOwnedModel(models.Model):
    tenant = models.ForeignKey(
        "parties.Operator", on_delete=models.PROTECT, related_name="+", db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


def choices(enum_cls: Any) -> list[tuple[str, str]]:
    """Django `choices` from a contracts enum, so the enum stays free of Django."""
    return [(m.value, m.name.replace("_", " ").capitalize()) for m in enum_cls]


def in_enum(field: str, enum_cls: Any) -> models.Q:
    """A check-constraint condition: `field` holds one of the enum's values."""
    return models.Q(**{f"{field}__in": [m.value for m in enum_cls]})


class AppendOnlyQuerySet(TenantQuerySet):
    """Refuses bulk changes to append-only rows (CDRs, tariff versions, issued invoices)."""

    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecordError(
            f"{self.model.__name__} rows are append-only: update() is not allowed; "
            "record a correction instead"
        )

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError(
            f"{self.model.__name__} rows are append-only: delete() is not allowed; "
            "record a correction instead"
        )

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise ImmutableRecordError(
            f"{self.model.__name__} rows are append-only: bulk_update() is not allowed"
        )


class AppendOnlyModel(TenantOwnedModel):
    """A tenant-owned row that is written once and never changed or deleted.

    This refuses it in Python on every database; on PostgreSQL a trigger
    (`apps.common.migration_ops.AppendOnlyTrigger`) refuses it for every client as well.
    """

    objects: ClassVar = AppendOnlyQuerySet.as_manager()  # the plugin still types the manager

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecordError(
                f"{type(self).__name__} {self.pk} is append-only and cannot be changed; "
                "record a correction instead"
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError(
            f"{type(self).__name__} {self.pk} is append-only and cannot be deleted"
        )
