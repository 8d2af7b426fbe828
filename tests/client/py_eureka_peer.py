"""py_eureka_client (from PyPI) as the other side of the interop tests, one role per process.

Usage::

    python py_eureka_peer.py find EUREKA_URL APP
        fetch the registry and print the UP instances of APP as one JSON line
    python py_eureka_peer.py register EUREKA_URL APP PORT
        register APP, print {"registered": instance_id}, then on a "stop" line (or end of
        input) cancel, print {"stopped": true} and exit

A process of its own because the library keeps module-wide state and a heartbeat timer that
``stop`` does not end; ``os._exit`` ends it with the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from typing import Any

import py_eureka_client.logger  # type: ignore[import-untyped, unused-ignore]
from py_eureka_client.eureka_client import EurekaClient  # type: ignore[import-untyped, unused-ignore]


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def find(eureka_url: str, app: str) -> None:
    client = EurekaClient(eureka_server=eureka_url, should_register=False, should_discover=True)
    await client.start()
    found: list[Any] = []
    deadline = time.monotonic() + 10
    while not found and time.monotonic() < deadline:
        application = client.applications.get_application(app.upper())
        found = list(application.up_instances) if application else []
        if not found:
            await asyncio.sleep(0.1)
    say(
        instances=[
            {"instanceId": i.instanceId, "ipAddr": i.ipAddr, "port": i.port.port} for i in found
        ]
    )


async def register(eureka_url: str, app: str, port: int) -> None:
    client = EurekaClient(
        eureka_server=eureka_url,
        app_name=app,
        instance_host="127.0.0.1",
        instance_ip="127.0.0.1",
        instance_port=port,
        renewal_interval_in_secs=1,
        duration_in_secs=30,
        should_discover=False,
    )
    await client.start()
    say(registered=f"127.0.0.1:{app.lower()}:{port}")
    while (await asyncio.to_thread(sys.stdin.readline)).strip() not in ("stop", ""):
        pass
    await client.stop()
    say(stopped=True)


def main() -> int:
    # The library logs to stdout by default, which carries our JSON lines.
    py_eureka_client.logger.set_handler(logging.StreamHandler(sys.stderr))
    role, eureka_url, app = sys.argv[1:4]
    if role == "find":
        asyncio.run(find(eureka_url, app))
    else:
        asyncio.run(register(eureka_url, app, int(sys.argv[4])))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
