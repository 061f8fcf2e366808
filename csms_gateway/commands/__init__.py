"""Remote commands, CSMS → station.

The platform names commands once, protocol-neutrally (`apps.locations.contracts`: RemoteStart,
Reset, SetChargingProfile, ...). Here each OCPP version maps them: `MAPPINGS[version][kind]`
gives the OCPP action, a builder (neutral command → payload) and a parser (the station's
answer → a neutral status, the station's own word, and a typed answer). Adding a version or a
command is adding a row; `execute` does the rest for all of them:

    neutral command ──build──▶ payload ──validate (OCPP schema, strict)──▶ CALL ──▶ station
    RelayReply ◀──parse── CALLRESULT (validated) / CALLERROR / timeout / connection closed

`Outbound` is the outbound side of one station connection: one outstanding CALL at a time
(later commands wait in line, FIFO), answers matched by message id. Inbound CALLs from the
station are handled independently (server.py), so neither direction blocks the other.

One module per OCPP version (`v15`, `v16`, `v201`: the version's table and its builders and
parsers), what they share in `common`, the tables together and `build` in `tables`, the
connection's side in `outbound`. Callers import from this package.
"""

from csms_gateway.commands.common import STATUS_WORDS, Invalid, Mapping, Parsed, accepted, by_status
from csms_gateway.commands.outbound import Outbound, execute
from csms_gateway.commands.tables import MAPPINGS, ONLY_201, build
from csms_gateway.commands.v15 import V15
from csms_gateway.commands.v16 import V16
from csms_gateway.commands.v201 import V201

__all__ = [
    "MAPPINGS",
    "ONLY_201",
    "STATUS_WORDS",
    "V15",
    "V16",
    "V201",
    "Invalid",
    "Mapping",
    "Outbound",
    "Parsed",
    "accepted",
    "build",
    "by_status",
    "execute",
]
