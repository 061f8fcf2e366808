"""`make run`'s process manager (`python -m config.processes`, honcho with a longer stop):
after Ctrl-C a process that needs more than honcho's default 5 seconds to stop cleanly (as
Celery's worker on the filesystem transport does) is waited for, not SIGKILLed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from config.env import BASE_DIR
from tests.conftest import wait_for

# A process that takes 6 s to stop after SIGTERM, then exits 0.
SLOW = (
    "import signal, sys, time\n"
    "def stop(*_):\n"
    "    time.sleep(6)\n"
    "    print('stopped cleanly', flush=True)\n"
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "print('ready', flush=True)\n"
    "while True:\n"
    "    time.sleep(1)\n"
)


def test_ctrl_c_waits_for_a_slow_clean_stop(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    # honcho's wait starts when the first process has stopped: `quick` stops at once.
    (tmp_path / "Procfile").write_text(
        f"slow: exec {sys.executable} -u {tmp_path / 'slow.py'}\nquick: exec sleep 600\n"
    )
    log = tmp_path / "out.log"
    with log.open("w") as out:
        manager = subprocess.Popen(
            [sys.executable, "-m", "config.processes", "-f", str(tmp_path / "Procfile"),
             "--no-colour", "start"],
            cwd=BASE_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for(lambda: "ready" in log.read_text(), timeout=30, what="the process up")
        manager.send_signal(signal.SIGINT)  # what Ctrl-C sends honcho
        assert manager.wait(30) == 130
    text = log.read_text()
    assert "stopped cleanly" in text
    assert "slow.1 stopped (rc=0)" in text
    assert "quick.1 stopped (rc=-15)" in text
    assert "SIGKILL" not in text
