from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "apps.rating"
    label = "rating"
    verbose_name = "billing rules and rated lines"
