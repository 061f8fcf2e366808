"""`python manage.py unlock_sign_in <e-mail> [--actor <admin e-mail>]`.

Lifts every delay and lock on a user name's portal sign-in (from every client address),
audited in each tenant the user belongs to, with the actor when given."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.common.contracts import Actor
from apps.parties import api as parties_api


class Command(BaseCommand):
    help = "Unlock a user's portal sign-in after failed attempts (audited)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email", help="the user name (e-mail) to unlock")
        parser.add_argument(
            "--actor", default="", help="your own e-mail address, recorded in the audit log"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        via = f"manage.py unlock_sign_in (system user {getpass.getuser()})"
        actor = Actor.system(via)
        if options["actor"]:
            user = get_user_model().objects.filter(email__iexact=options["actor"]).first()
            if user is None:
                raise CommandError(f"--actor {options['actor']!r}: no such user")
            actor = Actor(user_id=user.pk, name=via)
        cleared, tenants = parties_api.sign_in_unlock(
            username=options["email"], actor=actor, tenant_id=None
        )
        audited = f"audited in {len(tenants)} tenant(s)" if tenants else "no tenant to audit in"
        self.stdout.write(
            f"{options['email']}: {cleared} locked or delayed address(es) cleared; {audited}."
        )
