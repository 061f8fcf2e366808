"""`/healthz`: database and broker status as JSON, for load balancers and `make run`.

It is the one endpoint without authentication: it says only whether each dependency answers
and which kind it is, nothing about tenants, hosts or credentials.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from config.celery import app as celery_app


def _database_status() -> dict[str, object]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return {"status": "error", "vendor": connection.vendor, "error": type(exc).__name__}
    return {"status": "ok", "vendor": connection.vendor}


def _broker_status() -> dict[str, object]:
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "error": type(exc).__name__}
    return {"status": "ok", "transport": str(transport)}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database_status()
    broker = _broker_status()
    healthy = database["status"] == "ok" and broker["status"] == "ok"
    body = {"status": "ok" if healthy else "error", "database": database, "broker": broker}
    return JsonResponse(body, status=200 if healthy else 503)
