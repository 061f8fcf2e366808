"""`python manage.py ocpi_tokens_push --tenant <slug> [<connection_id>]`: owe a CPO partner
(without an id: every registered CPO partner of the tenant) a PUT of every token of the
tenant's own eMSP identities (the catch-up after registering, and the
trigger until tokens are pushed on every change). Prints how many pushes were queued."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import NotFound
from apps.parties import api as parties_api
from apps.roaming import api as roaming_api


class Command(BaseCommand):
    help = "Queue a push of all our eMSP tokens to one (or every) CPO partner connection."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", required=True, help="the operator's slug")
        parser.add_argument("connection_id", type=int, nargs="?", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = parties_api.operator_get(slug=options["tenant"])
            ids = (
                [options["connection_id"]]
                if options["connection_id"] is not None
                else [cid for cid, _ in roaming_api.emsp_cpo_connections(tenant_id=tenant.id)]
            )
            queued = sum(
                roaming_api.tokens_push_all(tenant_id=tenant.id, connection_id=cid) for cid in ids
            )
        except NotFound as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{queued} token pushes queued")
