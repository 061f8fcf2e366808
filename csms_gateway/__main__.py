"""`python -m csms_gateway`: run one gateway node (settings from the environment)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal

import django

# Django is set up before the gateway's modules are imported: they import the apps' `api`,
# whose models need the app registry (the same order as config/asgi.py).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from csms_gateway.server import Gateway  # noqa: E402
from csms_gateway.settings import GatewaySettings  # noqa: E402


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    settings = GatewaySettings.from_env()

    async def run() -> None:
        gateway = Gateway(settings)
        await gateway.start()
        gc.freeze()  # long-lived start-up objects leave the collector's scans
        logging.getLogger("csms_gateway").info(
            "OCPP gateway listening on %s ports %s (subprotocols %s)",
            settings.host,
            gateway.ports,
            ", ".join(settings.subprotocols),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if gateway.meter is not None:
            loop.add_signal_handler(signal.SIGUSR1, gateway.meter.dump)
        await stop.wait()
        await gateway.stop()

    asyncio.run(run())


if __name__ == "__main__":
    main()
