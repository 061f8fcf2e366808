"""Helpers the apps' services share. Rules stay in each app; this only translates errors."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from apps.common.errors import PreconditionFailed, ValidationFailed, problems_from_django


def validated_save(instance: models.Model, **save_kwargs: Any) -> None:
    """Run the model's field validators and constraints, then save.

    Bad input raises `ValidationFailed` naming every field and reason; nothing is written.
    """
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(
            f"invalid {type(instance).__name__}", problems=problems_from_django(exc)
        ) from None
    instance.save(**save_kwargs)


def upsert(
    model: type[models.Model], *, lookup: dict[str, Any], values: dict[str, Any]
) -> models.Model:
    """Create or update the row identified by `lookup`, validating before writing."""
    instance = model._default_manager.select_for_update().filter(**lookup).first()
    if instance is None:
        instance = model(**lookup)
    for field, value in values.items():
        setattr(instance, field, value)
    validated_save(instance)
    return instance


def version_tag(instance: models.Model) -> str:
    """An opaque version of a row for optimistic concurrency (served as the HTTP ETag).

    It changes whenever the row is saved (`updated_at` is `auto_now`)."""
    return version_tag_of(instance.pk, getattr(instance, "updated_at", None))


def version_tag_of(pk: Any, updated_at: Any) -> str:
    stamp = int(updated_at.timestamp() * 1_000_000) if updated_at else 0
    return f"{pk}-{stamp:x}"


def check_version(instance: models.Model, expected: str | None) -> None:
    """Refuse the write when the caller's expected version is not the current one.

    Call after `select_for_update()`, so two writers with the same version serialise and the
    second one sees the first one's new version. `expected=None` means "no precondition"."""
    if expected is None:
        return
    current = version_tag(instance)
    if expected != current:
        raise PreconditionFailed(
            f"{type(instance).__name__} {instance.pk} has changed: its version is {current!r}, "
            f"not {expected!r}; read it again and retry"
        )
