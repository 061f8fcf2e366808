"""Sign-in support for interfaces: memberships, lockout after failed attempts, TOTP
enrolment and recovery codes (django-otp devices), and the audit log."""

from __future__ import annotations

import ipaddress
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.common.contracts import Actor
from apps.common.errors import NotFound, ValidationFailed
from apps.parties.contracts import (
    AuditRecord,
    MembershipRef,
    MfaState,
    SignInGate,
    SignInThrottle,
    TenantRole,
    TotpEnrolment,
)
from apps.parties.models import AuditEntry, Membership, SignInLock, User

TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"
RECOVERY_CODES = 10


# --- memberships -------------------------------------------------------------------------------


def memberships_of_user(*, user_id: int) -> list[MembershipRef]:
    """The tenants a user belongs to, by tenant name, active tenants only."""
    rows = (
        Membership.objects.filter(user_id=user_id, tenant__is_active=True)
        .order_by("tenant__name", "tenant_id")
        .values("tenant_id", "tenant__slug", "tenant__name", "role")
    )
    return [
        MembershipRef(
            tenant_id=r["tenant_id"],
            slug=r["tenant__slug"],
            name=r["tenant__name"],
            role=TenantRole(r["role"]),
        )
        for r in rows
    ]


def membership_set(*, user_id: int, tenant_id: int, role: TenantRole) -> None:
    Membership.objects.update_or_create(
        user_id=user_id, tenant_id=tenant_id, defaults={"role": role.value}
    )


# --- sign-in throttling -----------------------------------------------------------------------
# Per (user name, client address): someone guessing from one address slows down and locks only
# themselves, never the user signing in from elsewhere. Each failure doubles the wait before
# the next attempt (PORTAL_LOCKOUT_DELAY_SECONDS, x2, x4, ...); the page warns when one attempt
# is left; the PORTAL_LOCKOUT_FAILURES-th failure locks the pair for PORTAL_LOCKOUT_SECONDS.
# Failures older than PORTAL_LOCKOUT_SECONDS (since the last one) are forgotten. The clock is
# the caller's `now`.


def _limits() -> tuple[int, timedelta, float]:
    return (
        max(1, int(getattr(settings, "PORTAL_LOCKOUT_FAILURES", 5))),
        timedelta(seconds=int(getattr(settings, "PORTAL_LOCKOUT_SECONDS", 900))),
        float(getattr(settings, "PORTAL_LOCKOUT_DELAY_SECONDS", 1)),
    )


def client_key(address: str) -> str:
    """The throttled unit of a client address: an IPv4 address, an IPv6 /64 (one host owns a
    whole /64), or the text itself when it is not an address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


def _gate(lock: SignInLock | None, now: datetime) -> SignInGate:
    allowed, window, _ = _limits()
    fresh = SignInGate(wait_until=None, locked=False, attempts_left=allowed)
    if lock is None or lock.last_failure_at is None or now - lock.last_failure_at > window:
        return fresh
    waiting = lock.next_attempt_at if lock.next_attempt_at and lock.next_attempt_at > now else None
    if lock.failures >= allowed:  # locked, until the lock runs out: then a fresh start
        return SignInGate(wait_until=waiting, locked=True, attempts_left=0) if waiting else fresh
    return SignInGate(wait_until=waiting, locked=False, attempts_left=allowed - lock.failures)


def sign_in_check(*, username: str, client: str, now: datetime) -> SignInGate:
    """Whether an attempt may be made now: when `wait_until` is set, refuse it without checking
    the password or the code (and without counting it)."""
    lock = SignInLock.objects.filter(username=username.lower(), client=client_key(client)).first()
    return _gate(lock, now)


@transaction.atomic
def sign_in_failure_record(*, username: str, client: str, now: datetime) -> SignInGate:
    """Count one failed attempt (wrong password or wrong code) of this name from this client;
    returns the gate for the next attempt (its delay, or the lock)."""
    failures_allowed, window, delay = _limits()
    lock, _ = SignInLock.objects.select_for_update().get_or_create(
        username=username.lower(), client=client_key(client)
    )
    expired = lock.last_failure_at is None or now - lock.last_failure_at > window
    lock_over = lock.failures >= failures_allowed and (
        lock.next_attempt_at is None or lock.next_attempt_at <= now
    )
    if expired or lock_over:
        lock.failures = 0
    lock.failures += 1
    lock.last_failure_at = now
    if lock.failures >= failures_allowed:
        lock.next_attempt_at = now + window
    else:
        lock.next_attempt_at = now + timedelta(seconds=delay * 2 ** (lock.failures - 1))
    lock.save()
    return _gate(lock, now)


def sign_in_success_record(*, username: str, client: str) -> None:
    """A successful sign-in forgets this client's failures for the name (not the others')."""
    SignInLock.objects.filter(username=username.lower(), client=client_key(client)).delete()


def _member_emails(tenant_id: int) -> dict[str, int]:
    return {
        email.lower(): pk
        for pk, email in Membership.objects.filter(tenant_id=tenant_id).values_list(
            "user_id", "user__email"
        )
    }


def sign_in_throttles(*, tenant_id: int, now: datetime) -> list[SignInThrottle]:
    """The current delays and locks of this tenant's members (expired ones left out), by
    user name and client address. Nobody else's: names that are no member are not shown."""
    window = _limits()[1]
    out = []
    for lock in SignInLock.objects.filter(
        username__in=set(_member_emails(tenant_id)), last_failure_at__gt=now - window
    ).order_by("username", "client"):
        gate = _gate(lock, now)
        out.append(
            SignInThrottle(
                username=lock.username,
                client=lock.client,
                failures=lock.failures,
                last_failure_at=lock.last_failure_at,
                wait_until=gate.wait_until,
                locked=gate.locked,
            )
        )
    return out


@transaction.atomic
def sign_in_unlock(
    *, username: str, actor: Actor, tenant_id: int | None
) -> tuple[int, tuple[int, ...]]:
    """An administrator lifts every delay and lock on a user name (from every address).

    `tenant_id`: the administrator's tenant (the portal); the name must be a member's, else
    NotFound; audited there. None (`manage.py unlock_sign_in`): any name; audited in every
    tenant the user belongs to. Returns the number of (name, address) rows cleared and the
    tenants audited; an unlock with nothing locked is audited too."""
    name = username.strip().lower()
    if tenant_id is not None:
        member = _member_emails(tenant_id).get(name)
        if member is None:
            raise NotFound(f"no member {name!r} in this tenant")
        tenants: tuple[int, ...] = (tenant_id,)
    else:
        tenants = tuple(
            sorted(
                Membership.objects.filter(user__email__iexact=name).values_list(
                    "tenant_id", flat=True
                )
            )
        )
    rows = [
        {
            "client": r["client"],
            "failures": r["failures"],
            "next_attempt_at": r["next_attempt_at"],
        }
        for r in SignInLock.objects.select_for_update()
        .filter(username=name)
        .order_by("client")
        .values("client", "failures", "next_attempt_at")
    ]
    SignInLock.objects.filter(username=name).delete()
    user_id = User.objects.filter(email__iexact=name).values_list("pk", flat=True).first()
    for audited in tenants:
        audit_record(
            tenant_id=audited,
            actor=actor,
            action="sign_in.unlock",
            object_type="user",
            object_id=user_id if user_id is not None else name,
            before={"username": name, "throttles": rows},
            after={"username": name, "throttles": []},
        )
    return len(rows), tenants


# --- TOTP and recovery codes -----------------------------------------------------------------


def mfa_state(*, user_id: int) -> MfaState:
    enrolled = TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists()
    left = StaticToken.objects.filter(device__user_id=user_id, device__confirmed=True).count()
    return MfaState(enrolled=enrolled, recovery_codes_left=left)


@transaction.atomic
def mfa_totp_begin(*, user_id: int) -> TotpEnrolment:
    """Start (or restart) enrolment: a new unconfirmed TOTP device whose secret the user
    scans. An enrolled user must not replace the device this way."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"no user {user_id}")
    if TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists():
        raise ValidationFailed("two-factor authentication is already set up for this user")
    TOTPDevice.objects.filter(user_id=user_id, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode()
    return TotpEnrolment(secret_base32=secret, otpauth_uri=device.config_url)


def mfa_totp_pending(*, user_id: int) -> TotpEnrolment | None:
    device = TOTPDevice.objects.filter(user_id=user_id, confirmed=False).first()
    if device is None:
        return None
    from base64 import b32encode

    return TotpEnrolment(
        secret_base32=b32encode(device.bin_key).decode(), otpauth_uri=device.config_url
    )


@transaction.atomic
def mfa_totp_confirm(*, user_id: int, token: str) -> tuple[str, ...]:
    """Confirm enrolment with a code from the app; returns new recovery codes (shown once)."""
    device = TOTPDevice.objects.select_for_update().filter(user_id=user_id, confirmed=False).first()
    if device is None:
        raise ValidationFailed("no enrolment in progress: start again")
    if not device.verify_token(token.strip().replace(" ", "")):
        raise ValidationFailed(
            "that code is not the one your authenticator shows now: check the device's clock "
            "and enter the current 6-digit code"
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return mfa_recovery_codes_new(user_id=user_id)


@transaction.atomic
def mfa_recovery_codes_new(*, user_id: int) -> tuple[str, ...]:
    """Replace the user's recovery codes with new single-use codes (returned once)."""
    StaticDevice.objects.filter(user_id=user_id).delete()
    device = StaticDevice.objects.create(user_id=user_id, name=RECOVERY_DEVICE_NAME)
    codes = tuple(
        f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}"
        for _ in range(RECOVERY_CODES)
    )
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def mfa_reset(*, user_id: int) -> None:
    """Remove a user's second factor (an administrator's action; the user enrols again)."""
    TOTPDevice.objects.filter(user_id=user_id).delete()
    StaticDevice.objects.filter(user_id=user_id).delete()


# --- audit log -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=_default))


def _default(value: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def audit_record(
    *,
    tenant_id: int,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    before: Any = None,
    after: Any = None,
) -> int:
    """Write one audit entry. The service that makes a change calls it inside the change's
    transaction, with the caller's `actor`. `before` / `after` may be dataclasses (contracts
    records), dicts or None."""
    email = ""
    if actor.user_id is not None:
        email = User.objects.filter(pk=actor.user_id).values_list("email", flat=True).first() or ""
    entry = AuditEntry.objects.create(
        tenant_id=tenant_id,
        actor_id=actor.user_id,
        actor_email=email,
        actor_api_key_id=actor.api_key_id,
        actor_name=actor.name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=_jsonable(before),
        after=_jsonable(after),
    )
    return entry.pk


def audit(
    tenant_id: int,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | str,
    *,
    before: Any = None,
    after: Any = None,
) -> int:
    """`audit_record` in the short form the apps' services call it with."""
    return audit_record(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )


def audit_record_with(
    *,
    cursor: Any,
    statement: str,
    params: dict[str, Any],
    tenant_id: int,
    actor: Actor,
    object_type: str,
    actions: tuple[str, str],
    after: Any,
    now: datetime,
) -> tuple[int, bool]:
    """Run one data-modifying SQL `statement` that returns `(id, created)` of one row, and
    write its audit entry (action `actions[0]` if created, else `actions[1]`) in the same
    statement, as a PostgreSQL data-modifying CTE: the change and its entry commit together
    in one round trip (the token upsert's fast path, ADR 0016). Returns (id, created)."""
    email = ""
    if actor.user_id is not None:
        email = User.objects.filter(pk=actor.user_id).values_list("email", flat=True).first() or ""
    table = AuditEntry._meta.db_table
    sql = (
        f"WITH changed AS ({statement}) "
        f"INSERT INTO {table} (tenant_id, created_at, updated_at, actor_id, actor_email, "
        "actor_api_key_id, actor_name, action, object_type, object_id, after) "
        "SELECT %(audit_tenant)s, %(audit_now)s, %(audit_now)s, %(audit_user)s, "
        "%(audit_email)s, %(audit_key)s, %(audit_name)s, "
        "CASE WHEN changed.created THEN %(audit_created)s ELSE %(audit_updated)s END, "
        "%(audit_type)s, changed.id::text, %(audit_after)s::jsonb FROM changed "
        "RETURNING object_id, action = %(audit_created)s"
    )
    cursor.execute(
        sql,
        {
            **params,
            "audit_tenant": tenant_id,
            "audit_now": now,
            "audit_user": actor.user_id,
            "audit_email": email,
            "audit_key": actor.api_key_id,
            "audit_name": actor.name,
            "audit_created": actions[0],
            "audit_updated": actions[1],
            "audit_type": object_type,
            "audit_after": json.dumps(_jsonable(after)),
        },
    )
    object_id, created = cursor.fetchone()
    return int(object_id), bool(created)


def audit_list(
    *,
    tenant_id: int,
    before_id: int | None,
    limit: int,
    object_type: str | None = None,
    object_id: str | None = None,
    after_id: int | None = None,
) -> list[AuditRecord]:
    """Newest first, keyset on id: the `limit` next older than `before_id`, or the `limit`
    next newer than `after_id` (the page before a page), always newest first."""
    qs = AuditEntry.objects.for_tenant(tenant_id)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    entries = list(qs.order_by("id" if after_id is not None else "-id")[:limit])
    if after_id is not None:
        entries.reverse()
    return [
        AuditRecord(
            id=e.id,
            tenant_id=e.tenant_id,
            actor_id=e.actor_id,
            actor_email=e.actor_email,
            actor_api_key_id=e.actor_api_key_id,
            actor_name=e.actor_email or e.actor_name,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            before=e.before,
            after=e.after,
            at=e.created_at,
        )
        for e in entries
    ]
