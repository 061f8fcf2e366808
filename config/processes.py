"""`make run`'s process manager: honcho (the Procfile), allowed the time a clean stop takes.

`python -m config.processes start` is `honcho -f Procfile start` with one difference: after
Ctrl-C (or SIGTERM) honcho sends every process SIGTERM and, by default, SIGKILLs whatever has
not exited 5 seconds later. Celery's worker on the embedded filesystem transport needs about
that long for a warm shutdown (it notices the stop at the end of its 2-second broker poll,
then stops its timer and pool), so on a busy machine it was killed, mid-task, with an error.
Here every process gets `STOP_SECONDS`; one that hangs is still killed then.
"""

from __future__ import annotations

import sys

import honcho.command
import honcho.manager

STOP_SECONDS = 20


def main(argv: list[str] | None = None) -> None:
    # honcho has no option for it: its manager reads this module constant when it waits.
    honcho.manager.KILL_WAIT = STOP_SECONDS
    honcho.command.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
