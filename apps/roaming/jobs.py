"""The roaming app's task names (apps.common.jobs, ADR 0026). Names start with `roaming.`:
the `roaming` queue takes them (CELERY_TASK_ROUTES)."""

from __future__ import annotations

PURGE_EXCHANGE_BODIES = "roaming.purge_exchange_bodies"  # beat: blank old log bodies
PUSH_DRAIN = "roaming.push_drain"  # send one connection's due pushes, in order
PUSHES_DUE = "roaming.pushes_due"  # beat: queue the drains whose time came
COMMAND_RUN = "roaming.command_run"  # cpo-receiver: send a received OCPI command to its station
# area "emsp"
EMSP_PULL = "roaming.emsp_pull"  # pull one module from one CPO partner (incremental or full)
EMSP_PULL_ALL = "roaming.emsp_pull_all"  # beat: queue a pull of every (connection, module)
# a CPO behind a hub is CONNECTED again: re-pull its locations and tariffs (HubClientInfo)
EMSP_PARTY_RESYNC = "roaming.emsp_party_resync"
# area "cpo": the events the integrations app queues for us (its internal consumer), and
# the beat sync of changed published locations.
OCPI_EVENTS = "roaming.ocpi_events"
CPO_LOCATIONS_SYNC = "roaming.cpo_locations_sync"
