"""CDRs roaming CPO partners send an eMSP tenant (OCPI, issue 19): written as CDRs with no
local session, so the billing engines rate them like local ones (ADR 0041): the wholesale
line is the CPO's price, a cost of the eMSP tenant (`buyer_tenant` = itself), and retail
charges the driver on top of it.

The write is idempotent by (CPO party, CDR id): the same CDR again returns the CDR already
stored (the unique (party, ocpi_id) decides, in a savepoint: no look-up before the
INSERT). A CDR whose token is not one of the tenant's own eMSP tokens is still written (no
retail: the engines flag nothing they cannot rate; the roaming app flags it).
"""

from __future__ import annotations

import json
from decimal import Decimal

import simplejson
from django.conf import settings
from django.db import IntegrityError, transaction

from apps.charging import jobs
from apps.charging.contracts import CdrKind, RoamingCdrIn, TokenSource
from apps.charging.models import Cdr
from apps.charging.services.batch import cdrs_attribute_contracts
from apps.charging.services.webhooks import WebhookOutbox
from apps.common.contracts import Actor
from apps.common.errors import NotFound, Problem, ValidationFailed
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.tokens import api as tokens_api
from apps.tokens.contracts import TokenRef

_TOTALS = ("cost", "fixed_cost", "energy_cost", "time_cost", "parking_cost", "reservation_cost")
_EXACT_KEYS = {
    "cost": "total_cost",
    "fixed_cost": "total_fixed_cost",
    "energy_cost": "total_energy_cost",
    "time_cost": "total_time_cost",
    "parking_cost": "total_parking_cost",
    "reservation_cost": "total_reservation_cost",
}
_ZERO = Decimal(0)


def _problems(cdr: RoamingCdrIn) -> list[Problem]:
    out = []
    if "cost" not in cdr.totals:
        out.append(Problem("total_cost", "required"))
    if cdr.end < cdr.start:
        out.append(Problem("end_date_time", "before start_date_time"))
    if len(cdr.currency) != 3:
        out.append(Problem("currency", f"{cdr.currency!r} is not an ISO 4217 code"))
    if not cdr.ocpi_id:
        out.append(Problem("id", "required"))
    return out


def roaming_cdr_record(*, cdr: RoamingCdrIn, actor: Actor) -> tuple[int, bool]:
    """Store a partner's CDR for rating; returns (CDR id, created). Raises ValidationFailed
    when it cannot be rated at all (no total, end before start, ...): the caller keeps the
    partner's document and flags it."""
    problems = _problems(cdr)
    if problems:
        raise ValidationFailed("the CDR cannot be billed", problems=tuple(problems))
    # The CPO party and the tenant's own eMSP identities (the token's) in one query.
    party, own = parties_api.party_and_own_parties(
        tenant_id=cdr.tenant_id, pk=cdr.cpo_party_pk, own_role=PartyRole.EMSP
    )
    if party is None or party.role != PartyRole.CPO:
        raise NotFound(f"no CPO party {cdr.cpo_party_pk} in this tenant")
    credits = None
    if cdr.credit_reference_id:
        credits = Cdr.objects.filter(
            party_id=party.id, ocpi_id__iexact=cdr.credit_reference_id, kind=CdrKind.ORIGINAL.value
        ).first()
        if credits is None:
            raise ValidationFailed(
                "the credit CDR credits an unknown CDR",
                problems=(
                    Problem(
                        "credit_reference_id", f"no CDR {cdr.credit_reference_id!r} of this CPO"
                    ),
                ),
            )
    token = _own_token(cdr.tenant_id, cdr.token_uid, cdr.token_contract_id, {p.id for p in own})
    row = Cdr(
        tenant_id=cdr.tenant_id,
        party_id=party.id,
        ocpi_id=cdr.ocpi_id,
        kind=(CdrKind.CREDIT if credits is not None else CdrKind.ORIGINAL).value,
        credits=credits,
        session=None,
        start_date_time=cdr.start,
        end_date_time=cdr.end,
        currency=cdr.currency,
        total_energy_kwh=cdr.energy_kwh,
        total_time_hours=cdr.time_hours,
        total_parking_time_hours=cdr.parking_hours,
        token_id=None if token is None else token.id,
        token_source=TokenSource.OWN.value if token is not None else "",
        emsp_party_id=None if token is None else token.party_id,
        emsp_tenant_id=None if token is None else cdr.tenant_id,
        hcc="",
        # JSON numbers as the local CDRs hold them (the exact body stays with the roaming
        # app's received copy); Decimals are written with every digit.
        data=json.loads(simplejson.dumps(cdr.data, use_decimal=True)),
        annotations={
            "time_zone": cdr.time_zone,
            "roaming": {"direction": "IN", **cdr.source},
            # The CPO's own figures, where the engines read a CDR's exact price.
            "pricing": {"exact": _exact(cdr)},
        },
    )
    for name in _TOTALS:
        excl, incl = cdr.totals.get(name, (None, None))
        setattr(row, f"total_{name}_excl_vat", excl)
        setattr(row, f"total_{name}_incl_vat", incl)
    cdrs_attribute_contracts([row])
    try:
        with transaction.atomic():
            row.save()
            parties_api.audit(
                cdr.tenant_id,
                actor,
                "cdr.roaming_receive",
                "cdr",
                row.pk,
                after={"ocpi_id": cdr.ocpi_id, "cpo": f"{party.country_code}*{party.party_id}"},
            )
            outbox = WebhookOutbox()
            outbox.cdr_created(tenant_id=row.tenant_id, cdr_id=row.pk, at=row.created_at)
            outbox.emit()
    except IntegrityError:  # the same CDR stored before, or concurrently
        pk = Cdr.objects.filter(party_id=party.id, ocpi_id=cdr.ocpi_id).values_list("pk", flat=True)
        return pk.get(), False
    if settings.RATING_ENABLED:
        ids = [row.pk]
        transaction.on_commit(lambda: jobs.cdrs_rate_enqueue(ids))
    return row.pk, True


def _own_token(tenant_id: int, uid: str, contract_id: str, own: set[int]) -> TokenRef | None:
    """The tenant's token of one of its own eMSP identities (`own`: their pks) with this uid
    (case-insensitive, as OCPI compares CiString ids), else with this contract id (2.1.1
    CDRs carry only the token's auth_id)."""
    found = tokens_api.tokens_by_uid_ci(uid=uid) if uid else []
    if not found and contract_id:
        found = tokens_api.tokens_by_contract_id_ci(contract_id=contract_id)
    for t in found:
        if t.tenant_id == tenant_id and t.party_id in own:
            return t
    return None


def _exact(cdr: RoamingCdrIn) -> dict[str, dict[str, str | None]]:
    """annotations["pricing"]["exact"] in the pricing core's shape: every category, missing
    ones zero; what the engines price a roaming CDR's wholesale line with."""
    out = {}
    for name in _TOTALS:
        excl, incl = cdr.totals.get(name, (_ZERO, None))
        out[_EXACT_KEYS[name]] = {
            "excl_vat": str(excl),
            "incl_vat": None if incl is None else str(incl),
        }
    return out
