"""`python manage.py create_api_key --tenant <slug> --scopes tokens:read,tokens:write`.

Prints the key once; only its hash is stored."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.common.contracts import Actor
from apps.common.errors import DomainError, NotFound
from apps.integrations import api as integrations_api
from apps.parties import api as parties_api


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", required=True, help="the operator's slug")
        parser.add_argument(
            "--scopes", required=True, help="comma-separated, e.g. tokens:read,tokens:write"
        )
        parser.add_argument("--name", default="", help="a label for the key")
        parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = parties_api.operator_get(slug=options["tenant"])
        except NotFound:
            slugs = parties_api.operator_slugs()
            raise CommandError(
                f"no tenant with slug {options['tenant']!r}; "
                + (f"the tenants are: {', '.join(slugs)}" if slugs else "there is no tenant yet")
            ) from None
        try:
            _, key = integrations_api.api_key_create(
                tenant_id=tenant.id,
                name=options["name"] or f"cli key for {tenant.slug}",
                scopes=options["scopes"].split(","),
                rate_limit_per_minute=options["rate_limit"],
                actor=Actor.system(f"manage.py create_api_key (system user {getpass.getuser()})"),
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(key)
