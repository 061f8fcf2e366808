"""The Django admin as one more interface over the write path: what platform staff change
there is audited like a change from the portal or the API (the signed-in user as the actor,
the changed fields before and after, in the change's transaction).

The admin edits rows directly (it is the staff's repair tool, not an operator's screen): the
apps' services stay the path for operators and integrations. `AuditedAdmin` makes sure such
a repair is never silent.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest

from apps.common.contracts import Actor
from apps.parties.access import audit
from apps.parties.models import Operator


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet | list | tuple | set):
        return [_plain(v) for v in value]
    return value


def _tenant_of(obj: models.Model) -> int | None:
    if isinstance(obj, Operator):
        return int(obj.pk)
    tenant_id = getattr(obj, "tenant_id", None)
    return int(tenant_id) if tenant_id is not None else None


def _fields(obj: models.Model, names: list[str]) -> dict[str, Any]:
    return {n: _plain(getattr(obj, n, None)) for n in names if hasattr(obj, n)}


def _all(obj: models.Model) -> list[str]:
    return [f.attname for f in obj._meta.concrete_fields]


def _record(request: HttpRequest, obj: models.Model, verb: str, before: Any, after: Any) -> None:
    tenant_id = _tenant_of(obj)
    if tenant_id is None:  # platform-wide rows (users) have no tenant's audit log
        return
    meta = obj._meta
    audit(
        tenant_id,
        Actor.user(int(request.user.pk)) if request.user.pk else Actor.system("admin"),
        f"{meta.model_name}.admin_{verb}",
        str(meta.model_name),
        str(obj.pk),
        before=before,
        after=after,
    )


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletes (its inlines' too) write an audit entry."""

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        changed = list(form.changed_data)
        with transaction.atomic():
            before = None
            if change and obj.pk is not None:
                old = type(obj)._default_manager.filter(pk=obj.pk).first()
                before = _fields(old, changed) if old is not None else None
            super().save_model(request, obj, form, change)
            if change and not changed:
                return
            _record(request, obj, "update" if change else "create", before, _fields(obj, changed))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            _record(request, obj, "delete", _fields(obj, _all(obj)), None)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for obj in queryset:
                _record(request, obj, "delete", _fields(obj, _all(obj)), None)
            super().delete_queryset(request, queryset)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseFormSet, change: bool
    ) -> None:
        with transaction.atomic():
            deleted = [
                (
                    f.instance,
                    _fields(f.instance, [x.attname for x in f.instance._meta.concrete_fields]),
                )
                for f in getattr(formset, "deleted_forms", [])
                if f.instance.pk is not None
            ]
            super().save_formset(request, form, formset, change)
            for obj in getattr(formset, "new_objects", []):
                _record(request, obj, "create", None, _fields(obj, _all(obj)))
            for obj, changed in getattr(formset, "changed_objects", []):
                _record(request, obj, "update", None, _fields(obj, list(changed)))
            for obj, before in deleted:
                _record(request, obj, "delete", before, None)
