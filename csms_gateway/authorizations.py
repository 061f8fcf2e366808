"""How a transaction was authorised (OCPI 2.2.1 AuthMethod), as one connection saw it.

OCPP does not say it in StartTransaction (1.x), nor in a 2.0.1 TransactionEvent(Started) that
carries no `remoteStartId`: what came before on the same connection does. A station that asks
us (Authorize) and gets Accepted, then starts with that idTag: AUTH_REQUEST. A start that
follows a remote start we sent for that idTag: COMMAND (its reference: the command's id, the
one 2.0.1 sends as `remoteStartId`; a 2.0.1 event that carries a `remoteStartId` is COMMAND
with that as its reference, whatever this memory holds). A start with neither: the station
decided itself, from its local list or its authorisation cache: WHITELIST.

The memory is per connection (the gateway node that holds the socket sends the remote commands
and answers the Authorize), bounded by `WINDOW_SECONDS`, and each start uses up what it
matched, so a second session with the same card and no new Authorize is WHITELIST. Time is the
caller's monotonic clock (`now`), so tests control it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.charging.contracts import AuthMethod

# A start more than this long after the Authorize answer or the remote start is not theirs
# (OCPP's ConnectionTimeOut, how long a station waits for the cable, is typically 30-180 s).
WINDOW_SECONDS = 600.0
_MAX_ENTRIES = 64  # per connection: a station has a few connectors


@dataclass(slots=True)
class AuthMemory:
    accepted: dict[str, float] = field(default_factory=dict)  # uid -> when we said Accepted
    # uid -> the eMSP's authorization_reference of that Accepted (OCPI real-time authorization)
    references: dict[str, str] = field(default_factory=dict)
    remote_starts: dict[str, tuple[str, float]] = field(default_factory=dict)  # uid -> ref

    def authorize_accepted(self, uid: str, now: float, reference: str = "") -> None:
        """`reference`: the eMSP's authorization_reference when it decided (OCPI real-time
        authorization): the session that follows carries it."""
        self._room(self.accepted)
        self.accepted[uid] = now
        if reference:
            self._room(self.references)
            self.references[uid] = reference
        else:
            self.references.pop(uid, None)

    def remote_start_sent(self, uid: str, reference: str, now: float) -> None:
        """Recorded before the command leaves: the station may start before its answer to
        the command reaches us."""
        self._room(self.remote_starts)
        self.remote_starts[uid] = (reference, now)

    def remote_start_refused(self, uid: str, reference: str) -> None:
        """The station rejected (or could not take) the remote start: forget it."""
        if self.remote_starts.get(uid, ("", 0.0))[0] == reference:
            del self.remote_starts[uid]

    def start(self, uid: str, now: float) -> tuple[AuthMethod, str]:
        """The method and reference of a transaction started now with `uid`."""
        remote = self.remote_starts.pop(uid, None)
        accepted = self.accepted.pop(uid, None)
        reference = self.references.pop(uid, "")
        if remote is not None and now - remote[1] <= WINDOW_SECONDS:
            return AuthMethod.COMMAND, remote[0]
        if accepted is not None and now - accepted <= WINDOW_SECONDS:
            return AuthMethod.AUTH_REQUEST, reference
        return AuthMethod.WHITELIST, ""

    @staticmethod
    def _room(entries: dict[str, Any]) -> None:
        while len(entries) >= _MAX_ENTRIES:
            del entries[next(iter(entries))]  # the oldest
