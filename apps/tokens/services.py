from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.common.contracts import Actor, HccFlag
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import check_version, validated_save, version_tag
from apps.integrations import api as integrations_api
from apps.integrations.contracts import WebhookEventIn, WebhookEventType
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.tokens import selectors
from apps.tokens.contracts import (
    BulkItemResult,
    BulkReport,
    ProfileType,
    TokenInput,
    TokenRecord,
    TokenType,
    WhitelistType,
)
from apps.tokens.models import Token

_UPDATABLE = (
    "contract_id",
    "visual_number",
    "issuer",
    "group_id",
    "valid",
    "whitelist",
    "language",
    "default_profile_type",
    "energy_contract",
)


@transaction.atomic
def token_set_valid(
    *, tenant_id: int, token_id: int, valid: bool, actor: Actor, if_match: str | None = None
) -> None:
    """Block (valid=False) or unblock a token of this tenant."""
    token = Token.objects.for_tenant(tenant_id).select_for_update().filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"no token {token_id} in this tenant")
    check_version(token, if_match)
    before = token.valid
    token.valid = valid
    token.save(update_fields=["valid", "updated_at"])
    _audit(
        tenant_id,
        actor,
        "token.unblock" if valid else "token.block",
        token.pk,
        before={"valid": before},
        after={"valid": valid},
    )
    _changed(tenant_id, [(token.pk, token.updated_at)])


def _audit(
    tenant_id: int, actor: Actor, action: str, token_id: int | str, *, before: Any, after: Any
) -> None:
    parties_api.audit(tenant_id, actor, action, "token", token_id, before=before, after=after)


_CHANGED = WebhookEventType.TOKEN_CHANGED


def _changed(tenant_id: int, written: Sequence[tuple[int, datetime]]) -> None:
    """Tell the internal consumers (the roaming app: PUT our eMSP tokens to connected CPOs,
    issue 19) that these tokens were written, as (id, updated_at): one `token.changed` event
    each, keyed by the token's version, all in one emit (one task for the consumer), queued
    after the caller's commit. One small query when nobody wants them (an internal event:
    only internal consumers can)."""
    if not written:
        return
    if not integrations_api.event_consumer_wants(tenant_id=tenant_id, type=_CHANGED.value):
        return
    integrations_api.webhook_events_emit(
        events=[
            WebhookEventIn(
                tenant_id=tenant_id,
                type=_CHANGED,
                key=f"token:{pk}:{at.isoformat()}",
                occurred_at=at,
                data={"platform_id": pk},
            )
            for pk, at in written
        ],
        now=timezone.now(),
    )


def _text(value: Any, path: str, *, max_length: int, required: bool) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(path, "must be a string")]
    if required and not value:
        return [Problem(path, "is required")]
    if len(value) > max_length:
        return [Problem(path, f"at most {max_length} characters")]
    if "\x00" in value:
        return [Problem(path, "must not contain NUL characters")]
    return []


def token_input_problems(item: TokenInput, *, path: str = "$") -> list[Problem]:
    """Every problem with one token input, with JSON paths under `path` (no database)."""
    p = f"{path}." if path != "$" else "$."
    problems = [
        *_text(item.uid, p + "uid", max_length=36, required=True),
        *_text(item.contract_id, p + "contract_id", max_length=36, required=True),
        *_text(item.issuer, p + "issuer", max_length=64, required=True),
        *_text(item.visual_number, p + "visual_number", max_length=64, required=False),
        *_text(item.group_id, p + "group_id", max_length=36, required=False),
    ]
    if item.type not in TokenType.__members__.values():
        problems.append(Problem(p + "type", f"must be one of {', '.join(TokenType)}"))
    if item.whitelist not in WhitelistType.__members__.values():
        problems.append(Problem(p + "whitelist", f"must be one of {', '.join(WhitelistType)}"))
    profile = item.default_profile_type
    if not isinstance(profile, str) or (profile and profile not in list(ProfileType)):
        problems.append(
            Problem(p + "default_profile_type", f"must be one of {', '.join(ProfileType)}")
        )
    if not isinstance(item.language, str) or (
        item.language and re.fullmatch("[A-Za-z]{2}", item.language) is None
    ):
        problems.append(Problem(p + "language", "an ISO 639-1 code of two letters"))
    if not isinstance(item.valid, bool):
        problems.append(Problem(p + "valid", "must be true or false"))
    if item.energy_contract is not None:
        ec = item.energy_contract
        if not isinstance(ec, dict):
            problems.append(
                Problem(p + "energy_contract", "must be an object (OCPI EnergyContract)")
            )
        else:
            problems += [
                Problem(f"{p}energy_contract.{k}", "unknown field")
                for k in ec
                if k not in _ENERGY_CONTRACT_FIELDS
            ]
            problems += _text(
                ec.get("supplier_name"),
                p + "energy_contract.supplier_name",
                max_length=64,
                required=True,
            )
            if ec.get("contract_id") is not None:
                problems += _text(
                    ec["contract_id"],
                    p + "energy_contract.contract_id",
                    max_length=64,
                    required=False,
                )
    return problems


_ENERGY_CONTRACT_FIELDS = ("supplier_name", "contract_id")


def _values(item: TokenInput) -> dict[str, Any]:
    values = {f: getattr(item, f) for f in _UPDATABLE}
    ec = values.get("energy_contract")
    if isinstance(ec, dict):  # an OCPI EnergyContract: its two fields, nothing else kept
        values["energy_contract"] = {
            k: ec[k] for k in _ENERGY_CONTRACT_FIELDS if ec.get(k) is not None
        }
    return values


def _party_pk(tenant_id: int, item: TokenInput, path: str) -> int:
    return parties_api.party_pk_for_tenant(
        tenant_id=tenant_id,
        country_code=item.country_code,
        party_id=item.party_id,
        role=PartyRole.EMSP,
        path=path,
    )


@transaction.atomic
def token_create(*, tenant_id: int, data: TokenInput, actor: Actor) -> TokenRecord:
    problems = token_input_problems(data)
    if problems:
        raise ValidationFailed("invalid token", problems=tuple(problems))
    party_pk = _party_pk(tenant_id, data, "$.party_id")
    if Token.objects.filter(party_id=party_pk, uid=data.uid, type=data.type).exists():
        raise Conflict(
            f"token {data.uid} ({data.type}) of {data.country_code}*{data.party_id} exists; "
            "use PUT to update it"
        )
    token = Token(tenant_id=tenant_id, party_id=party_pk, uid=data.uid, type=data.type)
    for field, value in _values(data).items():
        setattr(token, field, value)
    validated_save(token)
    record = selectors.token_get(tenant_id=tenant_id, token_id=token.pk)
    _audit(tenant_id, actor, "token.create", token.pk, before=None, after=record)
    _changed(tenant_id, [(record.id, record.last_updated)])
    return record


def token_put(
    *,
    tenant_id: int,
    data: TokenInput,
    actor: Actor,
    if_match: str | None = None,
    notify: bool = True,
) -> tuple[TokenRecord, bool]:
    """Create or replace the token identified by (issuing party, uid, type), audited as
    token.create or token.update with `actor`. Returns the token and whether it was created.

    Written by the one token upsert (`_tokens_write`). Without If-Match on PostgreSQL that
    is one statement in autocommit, its audit entry included (a data-modifying CTE), with
    the party's pk from a per-process cache: one round trip instead of six (BEGIN, party,
    SELECT FOR UPDATE, UPDATE, COMMIT; ADR 0016). With If-Match (or on SQLite) the row is
    locked and its version compared first, then written and audited in one transaction.

    `notify` (default): a `token.changed` event for the internal consumers, after the
    commit (`_changed`; one more query when nobody wants it). The OCPI receiver of a
    partner's tokens passes False: a partner's token is never pushed back."""
    problems = token_input_problems(data)
    if problems:
        raise ValidationFailed("invalid token", problems=tuple(problems))
    result: tuple[TokenRecord, bool] | None = None
    if if_match is None and connection.vendor == "postgresql":
        party_pk = _party_pk_or_not_found(tenant_id, data, cached=True)
        try:
            result = _token_put_one_statement(tenant_id, party_pk, data, actor)
        except IntegrityError:  # the cached party is gone: look it up again, the slow way
            parties_api.party_pk_cache_clear()
    if result is None:
        party_pk = _party_pk_or_not_found(tenant_id, data, cached=False)
        result = _token_put_locked(tenant_id, party_pk, data, if_match, actor)
    if notify:
        _changed(tenant_id, [(result[0].id, result[0].last_updated)])
    return result


def _party_pk_or_not_found(tenant_id: int, data: TokenInput, *, cached: bool) -> int:
    lookup = parties_api.party_pk_for_tenant_cached if cached else parties_api.party_pk_for_tenant
    try:
        return lookup(
            tenant_id=tenant_id,
            country_code=data.country_code,
            party_id=data.party_id,
            role=PartyRole.EMSP,
            path="$.party_id",
        )
    except ValidationFailed as exc:  # the party is named in the URL: not found, not invalid
        raise NotFound(exc.message) from None


def _token_put_one_statement(
    tenant_id: int, party_pk: int, data: TokenInput, actor: Actor
) -> tuple[TokenRecord, bool]:
    now = timezone.now()
    statement, params = _upsert_statement(tenant_id, [party_pk], [data], now)
    # One statement, the audit entry included, commits on its own (autocommit); inside a
    # caller's transaction it runs in a savepoint, so a failure leaves that transaction usable.
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        with connection.cursor() as cursor:
            pk, created = parties_api.audit_record_with(
                cursor=cursor,
                statement=statement,
                params=params,
                tenant_id=tenant_id,
                actor=actor,
                object_type="token",
                actions=("token.create", "token.update"),
                after={"uid": data.uid, "type": data.type, **_values(data)},
                now=now,
            )
    return _record(Written(pk, created, now), tenant_id, party_pk, data), created


@transaction.atomic
def _token_put_locked(
    tenant_id: int, party_pk: int, data: TokenInput, if_match: str | None, actor: Actor
) -> tuple[TokenRecord, bool]:
    token = (
        Token.objects.select_for_update()
        .filter(party_id=party_pk, uid=data.uid, type=data.type)
        .first()
    )
    if token is None and if_match is not None:
        raise NotFound(f"no token {data.uid} ({data.type}) to match If-Match against")
    if token is not None:
        check_version(token, if_match)
    # `token_input_problems` checked every field rule above and the row is locked: a
    # full_clean() would only repeat them with two more queries on this hot path.
    (written,) = _tokens_write(tenant_id, [party_pk], [data], now=timezone.now())
    _audit(
        tenant_id,
        actor,
        "token.create" if written.created else "token.update",
        written.id,
        before=None if token is None else _current(token),
        after={"uid": data.uid, "type": data.type, **_values(data)},
    )
    return _record(written, tenant_id, party_pk, data), written.created


def _record(written: Written, tenant_id: int, party_pk: int, data: TokenInput) -> TokenRecord:
    """The token as written from `data` (no read back: the statement returned its id)."""
    token = Token(
        pk=written.id,
        tenant_id=tenant_id,
        party_id=party_pk,
        uid=data.uid,
        type=data.type,
        updated_at=written.updated_at,
        **_values(data),
    )
    return TokenRecord(
        id=token.pk,
        country_code=data.country_code.upper(),
        party_id=data.party_id.upper(),
        uid=token.uid,
        type=TokenType(token.type),
        contract_id=token.contract_id,
        visual_number=token.visual_number,
        issuer=token.issuer,
        group_id=token.group_id,
        valid=token.valid,
        whitelist=WhitelistType(token.whitelist),
        language=token.language,
        default_profile_type=token.default_profile_type,
        energy_contract=token.energy_contract,
        last_updated=written.updated_at,
        etag=version_tag(token),
    )


@transaction.atomic
def token_update(
    *, tenant_id: int, token_id: int, if_match: str | None, values: dict[str, Any], actor: Actor
) -> TokenRecord:
    """Change some fields of a token (a PATCH). Identity fields (party, uid, type) stay."""
    token = Token.objects.for_tenant(tenant_id).select_for_update().filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"no token {token_id} in this tenant")
    check_version(token, if_match)
    unknown = sorted(set(values) - set(_UPDATABLE))
    if unknown:
        raise ValidationFailed(
            "invalid token change",
            problems=tuple(Problem(f"$.{f}", "cannot be changed") for f in unknown),
        )
    current = TokenInput(
        country_code="", party_id="", uid=token.uid, type=token.type, **_current(token)
    )
    merged = dataclasses.replace(current, **values)
    problems = token_input_problems(merged)
    if problems:
        raise ValidationFailed("invalid token", problems=tuple(problems))
    before = {f: getattr(token, f) for f in values}
    for field, value in values.items():
        setattr(token, field, value)
    validated_save(token)
    _audit(tenant_id, actor, "token.update", token.pk, before=before, after=values)
    record = selectors.token_get(tenant_id=tenant_id, token_id=token.pk)
    _changed(tenant_id, [(record.id, record.last_updated)])
    return record


def _current(token: Token) -> dict[str, Any]:
    return {f: getattr(token, f) for f in _UPDATABLE}


BULK_MAX_ITEMS = 10_000


@transaction.atomic
def token_bulk_upsert(*, tenant_id: int, items: Sequence[TokenInput], actor: Actor) -> BulkReport:
    """Create or update many tokens at once, all or nothing, as one audit entry
    (token.bulk_upsert: the counts and every token's id).

    Every item is validated first; when any is invalid, nothing is written and the report
    names each invalid item with its problems (`rejected=True`). Otherwise one
    INSERT ... ON CONFLICT DO UPDATE per 1,000 rows writes them all.
    """
    if len(items) > BULK_MAX_ITEMS:
        raise ValidationFailed(
            "too many tokens",
            problems=(Problem("$.items", f"at most {BULK_MAX_ITEMS} items per request"),),
        )
    parties: dict[tuple[str, str], int | None] = {}
    problems_by_index: dict[int, list[Problem]] = {}
    candidates: list[int | None] = []
    seen: dict[tuple[int, str, str], int] = {}
    for index, item in enumerate(items):
        path = f"$.items[{index}]"
        problems = token_input_problems(item, path=path)
        key = (str(item.country_code).upper(), str(item.party_id).upper())
        if key not in parties:
            try:
                parties[key] = _party_pk(tenant_id, item, f"{path}.party_id")
            except ValidationFailed:
                parties[key] = None
        party_pk = parties[key]
        if party_pk is None:
            problems.append(
                Problem(f"{path}.party_id", f"no EMSP party {key[0]}*{key[1]} in this tenant")
            )
        else:
            identity = (party_pk, item.uid, item.type)
            if identity in seen:
                problems.append(
                    Problem(f"{path}.uid", f"same token as items[{seen[identity]}] in this request")
                )
            seen[identity] = index
        candidates.append(party_pk)
        if problems:
            problems_by_index[index] = problems
    if problems_by_index:
        return BulkReport(
            rejected=True,
            created=0,
            updated=0,
            items=tuple(
                BulkItemResult(
                    index=i,
                    uid=str(item.uid),
                    type=str(item.type),
                    result="invalid" if i in problems_by_index else "valid",
                    id=None,
                    problems=tuple(problems_by_index.get(i, ())),
                )
                for i, item in enumerate(items)
            ),
        )
    party_pks = [pk for pk in candidates if pk is not None]  # every party was found
    written = _tokens_write(tenant_id, party_pks, items, now=timezone.now())
    results = []
    created = 0
    for index, (item, w) in enumerate(zip(items, written, strict=True)):
        created += w.created
        results.append(
            BulkItemResult(
                index=index,
                uid=item.uid,
                type=item.type,
                result="created" if w.created else "updated",
                id=w.id,
            )
        )
    _audit(
        tenant_id,
        actor,
        "token.bulk_upsert",
        f"bulk:{len(items)}",
        before=None,
        after={
            "created": created,
            "updated": len(items) - created,
            "token_ids": [w.id for w in written],
        },
    )
    _changed(tenant_id, [(w.id, w.updated_at) for w in written])  # one emit for the batch
    return BulkReport(
        rejected=False, created=created, updated=len(items) - created, items=tuple(results)
    )


# --- The one token upsert ---------------------------------------------------------------


class Written(NamedTuple):
    id: int
    created: bool
    updated_at: datetime


def _tokens_write(
    tenant_id: int, party_pks: Sequence[int], items: Sequence[TokenInput], *, now: datetime
) -> list[Written]:
    """Write token upserts: every item's updatable fields, by its identity (issuing party,
    uid, type), in input order (the caller refused duplicates). Every path that upserts a
    token comes here: the single PUT (whose PostgreSQL fast path runs the same statement
    with its audit entry, `_token_put_one_statement`), the bulk upsert and the demo data.
    The caller validates and audits.

    PostgreSQL: `_upsert_statement` per 5,000 items (one INSERT ... ON CONFLICT DO UPDATE
    ... RETURNING, the rows from unnest(arrays), no ORM SQL compilation per row: ten times
    faster than the ORM's bulk_create for 10,000 tokens). Elsewhere (SQLite): the ORM's
    bulk_create with update_conflicts, and one look-up of which identities exist."""
    if connection.vendor != "postgresql":
        return _tokens_write_portable(tenant_id, party_pks, items)
    out: list[Written] = []
    with connection.cursor() as cursor:
        for start in range(0, len(items), PG_CHUNK):
            statement, params = _upsert_statement(
                tenant_id,
                party_pks[start : start + PG_CHUNK],
                items[start : start + PG_CHUNK],
                now,
            )
            cursor.execute(statement, params)
            out.extend(Written(row[0], bool(row[1]), now) for row in cursor.fetchall())
    return out


PG_CHUNK = 5000
_PG_INSERT = """
INSERT INTO tokens_token (
    tenant_id, created_at, updated_at, party_id, uid, type, contract_id, visual_number,
    issuer, group_id, valid, whitelist, language, default_profile_type, energy_contract)
"""
_PG_ROWS = """
SELECT %(tenant)s, %(now)s, %(now)s, t.party_id, t.uid, t.type, t.contract_id,
       t.visual_number, t.issuer, t.group_id, t.valid, t.whitelist, t.language,
       t.default_profile_type, t.energy_contract::jsonb
FROM unnest(%(party)s::bigint[], %(uid)s::text[], %(type)s::text[], %(contract_id)s::text[],
            %(visual_number)s::text[], %(issuer)s::text[], %(group_id)s::text[],
            %(valid)s::boolean[], %(whitelist)s::text[], %(language)s::text[],
            %(default_profile_type)s::text[], %(energy_contract)s::text[])
     AS t(party_id, uid, type, contract_id, visual_number, issuer, group_id, valid, whitelist,
          language, default_profile_type, energy_contract)
"""
_PG_ROW = """
VALUES (%(tenant)s, %(now)s, %(now)s, %(party)s, %(uid)s, %(type)s, %(contract_id)s,
        %(visual_number)s, %(issuer)s, %(group_id)s, %(valid)s, %(whitelist)s, %(language)s,
        %(default_profile_type)s, %(energy_contract)s::jsonb)
"""
_PG_ON_CONFLICT = """
ON CONFLICT (party_id, uid, type) DO UPDATE SET
    updated_at = EXCLUDED.updated_at, contract_id = EXCLUDED.contract_id,
    visual_number = EXCLUDED.visual_number, issuer = EXCLUDED.issuer,
    group_id = EXCLUDED.group_id, valid = EXCLUDED.valid, whitelist = EXCLUDED.whitelist,
    language = EXCLUDED.language, default_profile_type = EXCLUDED.default_profile_type,
    energy_contract = EXCLUDED.energy_contract
RETURNING id, (xmax = 0) AS created
"""
_PG_UPSERT_MANY = _PG_INSERT + _PG_ROWS + _PG_ON_CONFLICT
_PG_UPSERT_ONE = _PG_INSERT + _PG_ROW + _PG_ON_CONFLICT


def _upsert_statement(
    tenant_id: int, party_pks: Sequence[int], items: Sequence[TokenInput], now: datetime
) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL statement that upserts these tokens and returns (id, created) per
    item, in input order, and its parameters. Many items: one array per column (unnest);
    one item (the single PUT, ADR 0016): the same INSERT with one VALUES row, which spares
    the hot path building and sending twelve one-element arrays."""
    params: dict[str, Any] = {"tenant": tenant_id, "now": now}
    values = [{"uid": i.uid, "type": i.type, **_values(i)} for i in items]
    for v in values:
        ec = v["energy_contract"]
        v["energy_contract"] = json.dumps(ec) if ec is not None else None
    if len(values) == 1:
        return _PG_UPSERT_ONE, {**params, "party": party_pks[0], **values[0]}
    params["party"] = list(party_pks)
    for field in ("uid", "type", *_UPDATABLE):
        params[field] = [v[field] for v in values]
    return _PG_UPSERT_MANY, params


def _tokens_write_portable(
    tenant_id: int, party_pks: Sequence[int], items: Sequence[TokenInput]
) -> list[Written]:
    existing: set[tuple[int, str, str]] = set()
    uids = [item.uid for item in items]
    for start in range(0, len(uids), 2000):
        existing.update(
            Token.objects.filter(
                party_id__in=set(party_pks), uid__in=uids[start : start + 2000]
            ).values_list("party_id", "uid", "type")
        )
    rows = [
        Token(tenant_id=tenant_id, party_id=party_pk, uid=item.uid, type=item.type, **_values(item))
        for item, party_pk in zip(items, party_pks, strict=True)
    ]
    Token.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["party", "uid", "type"],
        update_fields=[*_UPDATABLE, "updated_at"],
    )
    # bulk_create stamps each row's `updated_at` (auto_now) as it writes it.
    return [
        Written(row.pk, (row.party_id, row.uid, row.type) not in existing, row.updated_at)
        for row in rows
    ]


# -- Home-charger flags and row locks for other apps' checks (issue 17, area "cust") -------


def token_lock(*, tenant_id: int, token_ids: Sequence[int]) -> set[int]:
    """Lock this tenant's tokens among `token_ids` (ordered by id, until the transaction
    ends) and return the ids found: a service of another app that checks something per
    token (e.g. contracts never overlapping) runs its check under this lock."""
    return set(
        Token.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk__in=set(token_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def tokens_hcc_set(*, tenant_id: int, flags: dict[int, HccFlag | None], actor: Actor) -> list[int]:
    """Set the home-charger flag of many tokens of this tenant at once (None clears it).
    All or nothing: an id that is not this tenant's token is refused (NotFound naming
    them) and nothing changes. A token already so is left alone (idempotent); each changed
    token gets one audit entry. Returns the ids changed, in id order."""
    tokens = list(
        Token.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk__in=set(flags))
        .order_by("pk")
    )
    missing = set(flags) - {t.pk for t in tokens}
    if missing:
        raise NotFound(f"no token {', '.join(map(str, sorted(missing)))} in this tenant")
    changed = []
    for token in tokens:
        flag = flags[token.pk]
        new = "" if flag is None else HccFlag(flag).value
        if token.hcc == new:
            continue
        before = token.hcc
        token.hcc = new
        token.save(update_fields=["hcc", "updated_at"])
        _audit(
            tenant_id,
            actor,
            "token.hcc_set",
            token.pk,
            before={"hcc": before or None},
            after={"hcc": new or None},
        )
        changed.append(token.pk)
    return changed
