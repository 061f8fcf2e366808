from django.apps import AppConfig

from apps.common import lookups

__all__ = ["CommonConfig", "lookups"]  # importing `lookups` registers the `__any` lookup


class CommonConfig(AppConfig):
    name = "apps.common"
    label = "common"
