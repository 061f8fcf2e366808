"""`python manage.py reencrypt_secrets`: re-encrypt stored secrets with the first key of
ENCRYPTION_KEYS (step 2 of a key rotation, docs/adr/0010-secrets-at-rest.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.integrations import api as integrations_api


class Command(BaseCommand):
    help = "Re-encrypt webhook signing secrets with the first key of ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        count = integrations_api.webhook_secrets_reencrypt()
        self.stdout.write(f"re-encrypted {count} webhook signing secret(s)")
