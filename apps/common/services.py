"""Helpers the apps' services share. Rules stay in each app; this only translates errors."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from apps.common.errors import ValidationFailed, problems_from_django


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
