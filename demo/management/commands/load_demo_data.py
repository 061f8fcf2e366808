from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from demo.data import demo_password, load, station_credentials_reset


class Command(BaseCommand):
    help = "Load the demo tenants, stations, tokens and tariffs (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        password = demo_password(settings.DATA_DIR)
        counts = load(password=password)
        credentials = station_credentials_reset(settings.DATA_DIR)
        self.stdout.write(
            "demo data loaded: "
            + ", ".join(f"{n} {what}" for what, n in counts.items())
            + f"\ndemo login: admin@demo.local / {password}"
            + f"\ndemo station passwords (reset): {credentials}"
        )
