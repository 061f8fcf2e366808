from django.apps import AppConfig


class ChargingConfig(AppConfig):
    name = "apps.charging"
    label = "charging"
