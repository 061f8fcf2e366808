"""Export files stored in chunks (ADR 0039, issue 18): a file larger than
EXPORT_FILE_CHUNK_BYTES round-trips byte-identical through the post and the downloads (service,
portal, REST API), with its size and SHA-256 exact and exactly ceil(size / chunk) chunk rows; a
post that fails after its chunks were written leaves no batch, file or chunk and no gap in the
batch numbers; another tenant cannot download them."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.urls import reverse
from rest_framework.test import APIClient

from apps.common.contracts import Actor
from apps.common.errors import NotFound
from apps.integrations import api as integrations_api
from apps.invoicing import api
from apps.invoicing.models import (
    CdrRecord,
    ExportBatch,
    ExportedLine,
    ExportFile,
    ExportFileChunk,
)
from apps.invoicing.services import finance as finance_service
from tests.factories import MembershipFactory, UserFactory
from tests.invoicing.finance_world import ACTOR, MARCH, POSTED, world
from tests.portal.world import signed_in_client

pytestmark = pytest.mark.django_db
CHUNK = 64
KINDS = ("JOURNAL_CSV", "JOURNAL_JSON", "RECORDS_JSONL")


def _post(tenant_id: int, **kw: Any) -> finance_service.ExportResult:
    return api.export_batch_post(
        tenant_id=tenant_id, period_start=MARCH[0], period_end=MARCH[1], actor=ACTOR, **kw
    )


def _api_client(tenant: Any) -> APIClient:
    _, key = integrations_api.api_key_create(
        tenant_id=tenant.pk,
        name="finance",
        scopes=["finance:read", "finance:write"],
        actor=Actor.system("tests"),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _portal_client(tenant: Any) -> Any:
    user = UserFactory(username=f"finance@{tenant.slug}.test", email=f"finance@{tenant.slug}.test")
    MembershipFactory(user=user, tenant=tenant, role="finance")
    return signed_in_client(user)


def test_a_file_larger_than_a_chunk_round_trips_byte_identical(settings: Any) -> None:
    w = world()
    a = w.m.cpo_tenant
    # The dry run in one chunk per file (the default 8 MiB) ...
    dry = _post(a.pk, dry_run=True, now=POSTED)
    assert ExportFileChunk.objects.count() == 0
    # ... and the post in chunks of 64 bytes: the same bytes.
    settings.EXPORT_FILE_CHUNK_BYTES = CHUNK
    posted = _post(a.pk, now=POSTED)
    assert posted.batch is not None and posted.files == dry.files
    batch_id = posted.batch.id
    sizes = {f.kind: f.size for f in posted.files}
    assert all(size > 2 * CHUNK for size in sizes.values())  # each file spans several chunks
    bodies = {}
    for f in posted.files:
        chunks = list(
            ExportFileChunk.objects.filter(batch_id=batch_id, kind=f.kind)
            .order_by("seq")
            .values_list("seq", "content")
        )
        assert len(chunks) == -(-f.size // CHUNK)  # ceil(size / chunk), exactly
        assert [seq for seq, _ in chunks] == list(range(len(chunks)))
        assert all(len(c) == CHUNK for _, c in chunks[:-1]) and 0 < len(chunks[-1][1]) <= CHUNK
        opened = api.export_file_open(tenant_id=a.pk, batch_id=batch_id, kind=f.kind)
        pieces = list(opened.chunks)
        assert len(pieces) == len(chunks)  # one piece per chunk row, never joined
        body = b"".join(pieces)
        assert len(body) == f.size == opened.size
        assert hashlib.sha256(body).hexdigest() == f.sha256 == opened.sha256
        bodies[f.kind] = body
    row = ExportFile.objects.get(batch_id=batch_id, kind="RECORDS_JSONL")
    body = bodies["RECORDS_JSONL"]
    assert (row.size, row.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    records = [json.loads(x) for x in gzip.decompress(bodies["RECORDS_JSONL"]).splitlines()]
    assert [r["cdr_id"] for r in records] == sorted(posted.preview.cdr_ids)  # type: ignore[union-attr]
    assert json.loads(bodies["JOURNAL_JSON"])["batch"]["number"] == 1
    # The REST API and the portal stream the same bytes, chunk by chunk, with exact headers.
    rest, portal = _api_client(a), _portal_client(a)
    for kind in KINDS:
        r = rest.get(f"/api/v1/export-batches/{batch_id}/files/{kind}")
        p = portal.get(reverse("portal:finance_batch_file", args=[a.slug, batch_id, kind]))
        for resp in (r, p):
            assert resp.status_code == 200 and resp.streaming
            pieces = list(resp.streaming_content)
            assert len(pieces) == -(-sizes[kind] // CHUNK)
            assert b"".join(pieces) == bodies[kind]
            assert int(resp["Content-Length"]) == sizes[kind]
            assert resp["ETag"] == f'"{hashlib.sha256(bodies[kind]).hexdigest()}"'
            assert resp["Content-Disposition"].startswith('attachment; filename="export-000001-')
        assert r["X-Content-SHA256"] == hashlib.sha256(bodies[kind]).hexdigest()
    # Posting again: the same batch, the same chunks, nothing written.
    chunks_before = ExportFileChunk.objects.count()
    again = _post(a.pk, now=POSTED)
    assert again.existing and again.files == posted.files
    assert ExportFileChunk.objects.count() == chunks_before


def test_a_failed_post_leaves_no_batch_file_or_chunk(settings: Any, monkeypatch: Any) -> None:
    w = world()
    a = w.m.cpo_tenant.pk
    settings.EXPORT_FILE_CHUNK_BYTES = CHUNK
    before = (CdrRecord.objects.count(), ExportedLine.objects.count())
    seen: dict[str, int] = {}

    def failing_audit(*args: Any, **kw: Any) -> None:  # the last step of the post
        seen["chunks"] = ExportFileChunk.objects.count()
        seen["files"] = ExportFile.objects.count()
        raise RuntimeError("the database went away")

    monkeypatch.setattr(finance_service, "_audit", failing_audit)
    with pytest.raises(RuntimeError):
        _post(a, now=POSTED)
    assert seen["files"] == 3 and seen["chunks"] > 3  # it failed after writing them
    assert ExportBatch.objects.count() == 0
    assert ExportFile.objects.count() == 0 and ExportFileChunk.objects.count() == 0
    assert (CdrRecord.objects.count(), ExportedLine.objects.count()) == before
    monkeypatch.undo()
    res = _post(a, now=POSTED)
    assert res.batch is not None and res.batch.number == 1  # no gap in the series
    assert ExportFileChunk.objects.count() == seen["chunks"]


def test_another_tenant_cannot_download_the_files(settings: Any) -> None:
    w = world()
    a, c = w.m.cpo_tenant, w.m.other_tenant
    settings.EXPORT_FILE_CHUNK_BYTES = CHUNK
    res = _post(a.pk, now=POSTED)
    assert res.batch is not None
    batch_id = res.batch.id
    rest, portal = _api_client(c), _portal_client(c)
    for kind in KINDS:
        with pytest.raises(NotFound):
            api.export_file_open(tenant_id=c.pk, batch_id=batch_id, kind=kind)
        assert rest.get(f"/api/v1/export-batches/{batch_id}/files/{kind}").status_code == 404
        url = reverse("portal:finance_batch_file", args=[c.slug, batch_id, kind])
        assert portal.get(url).status_code == 404


def test_under_asgi_the_download_is_an_async_stream_of_the_chunks(settings: Any) -> None:
    """Django joins a synchronous iterator in memory before serving it under ASGI (uvicorn,
    the web process): there the views must hand it an asynchronous one."""
    w = world()
    a = w.m.cpo_tenant
    settings.EXPORT_FILE_CHUNK_BYTES = CHUNK
    res = _post(a.pk, now=POSTED)
    assert res.batch is not None
    _, key = integrations_api.api_key_create(
        tenant_id=a.pk, name="asgi", scopes=["finance:read"], actor=Actor.system("tests")
    )
    rest, portal = AsyncClient(), AsyncClient()
    portal.cookies = _portal_client(a).cookies

    async def get(client: AsyncClient, url: str) -> tuple[Any, list[bytes]]:
        bearer = {"Authorization": f"Bearer {key}"} if client is rest else {}
        resp = await client.get(url, headers=bearer)
        assert resp.status_code == 200, url
        assert resp.is_async  # an async iterator: nothing joined
        return resp, [piece async for piece in resp.streaming_content]

    for f in res.files:
        expected = b"".join(
            api.export_file_open(tenant_id=a.pk, batch_id=res.batch.id, kind=f.kind).chunks
        )
        for client, url in (
            (portal, reverse("portal:finance_batch_file", args=[a.slug, res.batch.id, f.kind])),
            (rest, f"/api/v1/export-batches/{res.batch.id}/files/{f.kind}"),
        ):
            resp, pieces = async_to_sync(get)(client, url)
            assert resp.status_code == 200 and int(resp["Content-Length"]) == f.size
            assert len(pieces) == -(-f.size // CHUNK) and b"".join(pieces) == expected
            assert hashlib.sha256(b"".join(pieces)).hexdigest() == f.sha256
