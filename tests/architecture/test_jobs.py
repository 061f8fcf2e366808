"""Services queue their app's tasks by name (apps.common.jobs): every name an app's `jobs`
module declares is a task the Celery app has registered, so a misspelt or renamed task fails
here rather than in a worker that cannot find it."""

from __future__ import annotations

import importlib
import pkgutil

import apps
from config.celery import app as celery_app


def _job_names() -> dict[str, str]:
    names = {}
    for info in pkgutil.iter_modules(apps.__path__):
        try:
            module = importlib.import_module(f"apps.{info.name}.jobs")
        except ModuleNotFoundError as exc:
            if exc.name != f"apps.{info.name}.jobs":
                raise
            continue
        for attr, value in vars(module).items():
            if attr.isupper() and isinstance(value, str):
                names[f"apps.{info.name}.jobs.{attr}"] = value
    return names


def test_every_queued_task_name_is_a_registered_task() -> None:
    celery_app.loader.import_default_modules()
    names = _job_names()
    assert {
        "apps.integrations.jobs.WEBHOOK_DELIVER",
        "apps.tariffs.jobs.TARIFF_CODE_IMPORT_RUN",
    } <= set(names)
    missing = {where: name for where, name in names.items() if name not in celery_app.tasks}
    assert missing == {}
