"""A tenant's invoicing settings (who it is on its documents, its number prefixes, its
timezone and grace period) and the billing profiles of its counterparties (ADR 0036).
Every change is audited with the actor, in its transaction."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.db import transaction

from apps.common.contracts import Actor
from apps.common.errors import NotFound, Problem, ValidationFailed
from apps.customers import api as customers_api
from apps.invoicing import arithmetic
from apps.invoicing.contracts import (
    INVOICING_SETTINGS_FIELDS,
    BillingProfileRef,
    CounterpartyKind,
    Frequency,
    InvoicingSettingsRef,
)
from apps.invoicing.models import LANGUAGES, BillingProfile, InvoicingSettings
from apps.invoicing.periods import timezone_problem
from apps.invoicing.selectors.runs import profile_ref
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.rating import api as rating_api

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE_CODES = {code for code, _ in LANGUAGES}
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PREFIXES = (
    "prefix_customer_invoice",
    "prefix_emsp_invoice",
    "prefix_self_billing",
    "prefix_credit_note",
)
_INT_FIELDS = {"grace_days": (0, 60), "payment_terms_days": (0, 365)}


def _ref(s: InvoicingSettings, *, saved: bool) -> InvoicingSettingsRef:
    return InvoicingSettingsRef(
        tenant_id=s.tenant_id,
        saved=saved,
        **{name: getattr(s, name) for name in INVOICING_SETTINGS_FIELDS},
    )


def invoicing_settings_get(*, tenant_id: int) -> InvoicingSettingsRef:
    """The tenant's settings; the defaults (Europe/Amsterdam, 5 days' grace, INV / EMSP /
    SB / CN with the year) when it has saved none."""
    row = InvoicingSettings.objects.for_tenant(tenant_id).first()
    if row is None:
        return _ref(InvoicingSettings(tenant_id=tenant_id), saved=False)
    return _ref(row, saved=True)


def _settings_problems(values: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    country = values["country"]
    if country and not _COUNTRY.match(country):
        problems.append(Problem("$.country", "an ISO 3166-1 alpha-2 code in capitals, e.g. NL"))
    why = arithmetic.vat_number_problem(values["vat_number"])
    if why:
        problems.append(Problem("$.vat_number", why))
    why = timezone_problem(values["timezone"])
    if why:
        problems.append(Problem("$.timezone", why))
    if values["default_language"] not in _LANGUAGE_CODES:
        problems.append(
            Problem("$.default_language", f"one of {', '.join(sorted(_LANGUAGE_CODES))}")
        )
    for name, (low, high) in _INT_FIELDS.items():
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            problems.append(Problem(f"$.{name}", f"a whole number from {low} to {high}"))
    if not isinstance(values["year_in_prefix"], bool):
        problems.append(Problem("$.year_in_prefix", "true or false"))
    seen: dict[str, str] = {}
    for name in _PREFIXES:
        prefix = values[name]
        if not prefix:
            problems.append(Problem(f"$.{name}", "must not be empty"))
        elif len(prefix) > 16 or not _PREFIX.match(prefix):
            problems.append(Problem(f"$.{name}", "up to 16 letters, digits, '-' or '_' (e.g. INV)"))
        elif prefix.upper() in seen:
            problems.append(
                Problem(f"$.{name}", f"the same as {seen[prefix.upper()]}: each type its own")
            )
        else:
            seen[prefix.upper()] = name
    return problems


@transaction.atomic
def invoicing_settings_update(
    *, tenant_id: int, actor: Actor, now: datetime | None = None, **fields: Any
) -> InvoicingSettingsRef:
    """Change some of the settings (the others keep their value). Refuses, naming each
    field: a bad country, VAT number or timezone, an empty prefix or two types with the
    same prefix, grace or payment terms out of range."""
    unknown = sorted(set(fields) - set(INVOICING_SETTINGS_FIELDS))
    if unknown:
        raise ValidationFailed(
            "unknown invoicing settings",
            problems=tuple(Problem(f"$.{n}", "unknown") for n in unknown),
        )
    row = InvoicingSettings.objects.for_tenant(tenant_id).select_for_update().first()
    before = _ref(row, saved=True) if row is not None else None
    if row is None:
        row = InvoicingSettings(tenant_id=tenant_id)
    values = {name: getattr(row, name) for name in INVOICING_SETTINGS_FIELDS}
    for name, value in fields.items():
        values[name] = value.strip() if isinstance(value, str) else value
    values["country"] = str(values["country"]).upper()
    values["vat_number"] = str(values["vat_number"]).replace(" ", "").upper()
    problems = _settings_problems(values)
    if problems:
        raise ValidationFailed("invalid invoicing settings", problems=tuple(problems))
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    after = _ref(row, saved=True)
    parties_api.audit(
        tenant_id,
        actor,
        "invoicing_settings.update",
        "invoicing_settings",
        row.pk,
        before=before,
        after=after,
    )
    return after


def counterparty_name(*, tenant_id: int, kind: CounterpartyKind | str, counterparty_id: int) -> str:
    """The name of the tenant's own customer / eMSP party / payee; NotFound when it is
    not the tenant's."""
    k = CounterpartyKind(kind)
    if k is CounterpartyKind.CUSTOMER:
        return customers_api.customer_get(tenant_id=tenant_id, customer_id=counterparty_id).name
    if k is CounterpartyKind.PAYEE:
        return rating_api.payee_get(tenant_id=tenant_id, payee_id=counterparty_id).name
    for party in parties_api.parties_of_tenant(tenant_id=tenant_id, role=PartyRole.EMSP):
        if party.id == counterparty_id:
            return party.name
    raise NotFound(f"no eMSP party {counterparty_id} in this tenant")


_FK = {
    CounterpartyKind.CUSTOMER: "customer",
    CounterpartyKind.PARTY: "party",
    CounterpartyKind.PAYEE: "payee",
}


@transaction.atomic
def billing_profile_set(
    *,
    tenant_id: int,
    actor: Actor,
    kind: CounterpartyKind | str,
    counterparty_id: int,
    frequency: Frequency | str = Frequency.MONTHLY,
    language: str = "",
    email: str = "",
    legal_name: str = "",
    vat_number: str = "",
    address: str = "",
    postal_code: str = "",
    city: str = "",
    country: str = "",
    now: datetime | None = None,
) -> BillingProfileRef:
    """Create or replace how one of the tenant's counterparties (its customer, eMSP party
    or payee) is billed: frequency, language, e-mail and address / VAT overrides."""
    problems: list[Problem] = []
    try:
        k = CounterpartyKind(kind)
    except ValueError:
        kinds = ", ".join(x.value for x in CounterpartyKind)
        raise ValidationFailed(
            "invalid billing profile", problems=(Problem("$.kind", f"one of {kinds}"),)
        ) from None
    name = counterparty_name(tenant_id=tenant_id, kind=k, counterparty_id=counterparty_id)
    if str(frequency) not in {f.value for f in Frequency}:
        problems.append(Problem("$.frequency", "one of " + ", ".join(f.value for f in Frequency)))
    if language and language not in _LANGUAGE_CODES:
        problems.append(Problem("$.language", f"one of {', '.join(sorted(_LANGUAGE_CODES))}"))
    country = country.strip().upper()
    if country and not _COUNTRY.match(country):
        problems.append(Problem("$.country", "an ISO 3166-1 alpha-2 code in capitals, e.g. NL"))
    vat_number = vat_number.replace(" ", "").upper()
    why = arithmetic.vat_number_problem(vat_number)
    if why:
        problems.append(Problem("$.vat_number", why))
    email = email.strip()
    if email and ("@" not in email or " " in email):
        problems.append(Problem("$.email", "an e-mail address"))
    if problems:
        raise ValidationFailed("invalid billing profile", problems=tuple(problems))
    fk = _FK[k]
    row = (
        BillingProfile.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(**{f"{fk}_id": counterparty_id})
        .first()
    )
    before = profile_ref(row, name) if row is not None else None
    if row is None:
        row = BillingProfile(tenant_id=tenant_id, kind=k.value, **{f"{fk}_id": counterparty_id})
    values = {
        "frequency": str(frequency),
        "language": language,
        "email": email,
        "legal_name": legal_name.strip(),
        "vat_number": vat_number,
        "address": address.strip(),
        "postal_code": postal_code.strip(),
        "city": city.strip(),
        "country": country,
    }
    for field, value in values.items():
        setattr(row, field, value)
    row.save()
    ref = profile_ref(row, name)
    parties_api.audit(
        tenant_id,
        actor,
        "billing_profile.set",
        "billing_profile",
        row.pk,
        before=before,
        after=ref,
    )
    return ref
