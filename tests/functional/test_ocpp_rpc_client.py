"""Journeys driven by an independently written client: the npm package `ocpp-rpc` in strict
mode validates every reply of the gateway against the official OCPP schemas."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.env import BASE_DIR
from tests.conftest import RunningGateway
from tests.journey_fixtures import assert_journey_cdr, cdr_for

JS = BASE_DIR / "tests" / "js"
pytestmark = [
    pytest.mark.usefixtures("worker_process"),
    pytest.mark.skipif(
        os.environ.get("CI") != "true"
        and (shutil.which("node") is None or not (JS / "node_modules" / "ocpp-rpc").exists()),
        reason="needs node and `npm ci --prefix tests/js` (make test does it)",
    ),
]


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_strict_ocpp_rpc_client_session_ends_as_a_priced_cdr(
    gateway: RunningGateway,
    station: dict[str, Any],
    protocol: str,
) -> None:
    st = station["station"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    run = subprocess.run(
        [
            "node",
            "journey.mjs",
            gateway.ws_url.rstrip("/"),
            st.identity,
            station["password"],
            protocol,
            str(int(t0.timestamp())),
        ],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["replies"]["boot"]["status"] == "Accepted"
    cdr = cdr_for(st.pk, out["transactionId"])
    assert_journey_cdr(cdr)
    assert cdr.start_date_time == t0
