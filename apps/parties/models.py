from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Upper

from apps.common.models import TenantOwnedModel, choices, in_enum
from apps.parties.contracts import PartyKind, PartyRole, TenantRole

country_code_validator = RegexValidator(
    r"^[A-Z]{2}$", "An ISO 3166-1 alpha-2 country code in capitals, e.g. NL."
)
party_id_validator = RegexValidator(
    r"^[A-Z0-9]{3}$", "An OCPI party id: three capital letters or digits, e.g. TNM."
)


class Operator(models.Model):
    """A tenant: one organisation that runs its business on the platform.

    Everything an operator owns carries `tenant_id` pointing here.
    """

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    # Takes part in the platform marketplace (ADR 0027): its eMSP tokens may charge at the
    # stations of other marketplace tenants, roamed inside the platform (no OCPI), and its
    # stations accept theirs.
    marketplace = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Party(TenantOwnedModel):
    """An OCPI party (CPO, eMSP, ...) identified by country_code + party_id, as one tenant
    knows it (ADR 0027).

    `kind` OWN: one of the tenant's own identities, unique per role across the platform (the
    same company may act as CPO and eMSP under one country_code/party_id, OCPI 2.2
    credentials roles). `kind` PARTNER: a counterparty the tenant deals with, unique per role
    within the tenant; two tenants may each know the same partner, and a partner may be
    another tenant's own identity (a marketplace partner).
    """

    kind = models.CharField(
        max_length=8, choices=choices(PartyKind), default=PartyKind.OWN.value, db_default="OWN"
    )
    role = models.CharField(max_length=8, choices=choices(PartyRole))
    country_code = models.CharField(max_length=2, validators=[country_code_validator])
    party_id = models.CharField(max_length=3, validators=[party_id_validator])
    name = models.CharField(max_length=200)
    website = models.URLField(blank=True)
    # The party's default VAT rate in percent, the last level of VAT resolution
    # (tariff > CPO contract > party; BILLING.md section 3). Empty: no default.
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["country_code", "party_id", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["country_code", "party_id", "role"],
                condition=models.Q(kind="OWN"),
                name="party_own_identity_unique",
            ),
            models.UniqueConstraint(
                fields=["tenant", "country_code", "party_id", "role"],
                name="party_identity_unique_in_tenant",
            ),
            models.CheckConstraint(condition=in_enum("kind", PartyKind), name="party_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(country_code=Upper("country_code"))
                & models.Q(party_id=Upper("party_id")),
                name="party_identity_uppercase",
            ),
            models.CheckConstraint(
                condition=in_enum("role", PartyRole),
                name="party_role_valid",
            ),
        ]
        verbose_name_plural = "parties"

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} ({self.role}, {self.kind.lower()})"


class User(AbstractUser):
    """A person who signs in. Users are platform-wide; what they may do is per tenant."""

    email = models.EmailField(unique=True)

    def __str__(self) -> str:
        return self.email or self.username


class Membership(models.Model):
    """A user's role in one tenant. A user may belong to several tenants."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=choices(TenantRole))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_one_per_tenant"),
            models.CheckConstraint(
                condition=in_enum("role", TenantRole),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}: {self.role}"


class AuditEntry(TenantOwnedModel):
    """One change: who (a portal user, an API key or a task), what, the object before and
    after (JSON).

    Written by the service that makes the change, in the same transaction
    (`apps.parties.api.audit_record`), so a change without its entry cannot commit, whichever
    interface asked for it. Never updated or deleted by the application."""

    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)  # kept if the user goes
    # An API key (apps.integrations, a higher layer: its id, no foreign key) and, for actors
    # that are not users, their name: "API key ek_... (name)", a task's name.
    actor_api_key_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)  # e.g. tariff.version_add, token.block
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="audit_tenant_id"),
            models.Index(fields=["tenant", "object_type", "object_id"], name="audit_object"),
        ]


class SignInLock(models.Model):
    """Failed sign-in attempts (password or second factor) of one user name from one client
    address (an IPv6 client by its /64), platform-wide: one address guessing cannot lock the
    name for the others (apps.parties.access, docs/portal.md "Sign-in").

    Each failure makes the next attempt wait longer (`next_attempt_at`); the
    `PORTAL_LOCKOUT_FAILURES`-th within `PORTAL_LOCKOUT_SECONDS` of the previous one locks the
    pair for `PORTAL_LOCKOUT_SECONDS`. A successful sign-in from that address, or an
    administrator's unlock (all addresses), deletes the rows."""

    username = models.CharField(max_length=254)
    client = models.CharField(max_length=64, default="")
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "client"], name="sign_in_lock_unique")
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.client}: {self.failures}"
