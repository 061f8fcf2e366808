from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from apps.parties.models import AuditEntry, Operator, Party
from config.celery import app as celery_app
from demo.data import load

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        m._meta.label: m._default_manager.count()
        for m in apps.get_models()
        if m._meta.app_label
        in {"parties", "locations", "tokens", "tariffs", "customers", "charging"}
    }


def test_demo_data_has_two_cpos_two_emsps_and_loads_idempotently() -> None:
    from csms_gateway.simulator import DEMO_ID_TAGS
    from demo.data import SIMULATOR_ID_TAGS

    assert SIMULATOR_ID_TAGS == DEMO_ID_TAGS
    first = load(password="demo-password-for-tests")
    after_first = _counts()
    second = load(password="demo-password-for-tests")
    # Last month's sessions (demo/history.py) are fed once: 12 per CPO tenant.
    assert (first.pop("past sessions"), second.pop("past sessions")) == (24, 0)
    assert first == second
    again = _counts()
    # Nothing new but the audit log: each load's token writes, by "demo data"; the first load
    # also creates the contracts (audited; unchanged by the second: no new version), takes the
    # 4 tenants into the marketplace and adds 2 partner rows (once), and sets up billing once
    # (demo/billing.py): 4 retail packages, 8 billing rules, 2 CPO contracts, the 10
    # simulator cards' contracts, and a site host payee on one station of each CPO (created,
    # assigned).
    assert after_first.pop("parties.AuditEntry") == 20 + 10 + 4 + 2 + (4 + 8 + 2 + 10 + 2 + 2)
    assert again.pop("parties.AuditEntry") == 64 + 20
    assert again == after_first
    assert set(AuditEntry.objects.values_list("actor_name", "action")) == {
        ("demo data", "token.create"),
        ("demo data", "token.update"),
        ("demo data", "contract.create"),
        ("demo data", "operator.marketplace_set"),
        ("demo data", "retail_package.create"),
        ("demo data", "billing_rule.create"),
        ("demo data", "cpo_contract.create"),
        ("demo data", "partner.create"),
        ("demo data", "payee.create"),
        ("demo data", "payee.assign"),
    }
    assert after_first["parties.Operator"] == 4
    assert set(Operator.objects.values_list("marketplace", flat=True)) == {True}
    # 2 CPOs (each also its own eMSP), 2 eMSPs; one roaming eMSP both CPOs know as a partner.
    assert after_first["parties.Party"] == 8
    assert (
        sorted(Party.objects.filter(kind="PARTNER").values_list("country_code", "party_id", "role"))
        == [("DE", "RMG", "EMSP")] * 2
    )
    assert after_first["locations.ChargeStation"] == 8
    assert after_first["locations.Evse"] == 16
    assert after_first["tokens.Token"] == 20  # 5 per eMSP, the simulator's 5 per CPO
    assert after_first["tariffs.TariffVersion"] == 4  # station tariffs, site host rates
    assert after_first["parties.Membership"] == 4


def test_healthz_reports_database_and_broker(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok", "vendor": connection.vendor}
    assert body["broker"]["status"] == "ok"


def test_healthz_says_503_when_the_broker_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 9 on loopback (discard) has nothing listening: the broker is unreachable.
    for key in ("broker_url", "broker_read_url"):
        monkeypatch.setattr(celery_app.conf, key, "redis://127.0.0.1:9/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["broker"]["status"] == "error"
    assert body["database"]["status"] == "ok"


def test_demo_station_passwords_are_reset_and_written_for_the_simulator(tmp_path) -> None:
    import json
    import stat

    from apps.common.secrets import verify_secret
    from apps.locations import api as locations_api
    from demo.data import station_credentials_reset

    load(password="demo-password-for-tests")
    path = station_credentials_reset(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = json.loads(path.read_text())
    assert sorted(first) == [
        f"{p}-0{n}-0{s}" for p in ("GFX", "VYL") for n in (1, 2) for s in (1, 2)
    ]
    for identity, password in first.items():
        auth = locations_api.charge_station_auth(identity=identity)
        assert auth is not None and verify_secret(password, auth.password_hash)
    second = json.loads(station_credentials_reset(tmp_path).read_text())
    assert all(second[i] != first[i] for i in first)  # reset, not reused
