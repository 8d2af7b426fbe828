"""wasp-eureka (from PyPI, asyncio and aiohttp) against a Eureka server, step by step.

Usage: ``python wasp_client_scenario.py EUREKA_ROOT_URL``; ``test_wasp_eureka.py`` drives it
through stdin, one command a line, and reads one JSON line back per command:

- ``register`` registers WASP-ORDERS (instance ``wasp-1:wasp-orders:8080``, with metadata);
- ``renew``, ``deregister``, ``status VALUE`` (a status override), ``remove-status``,
  ``metadata KEY VALUE`` call the library's method of that name;
- ``apps``, ``app``, ``instance`` (by app and id) and ``instance-by-id``, ``vip`` fetch;
- ``stop`` closes the library's HTTP session and ends.

Each answer is ``{"event": COMMAND, "result": ...}`` with what the library returned, or an
``error`` event with the exception's type, message and, for the library's own EurekaException,
the HTTP status.

A child process, because the library opens an aiohttp ``ClientSession`` at import time: it must
be imported inside a running event loop, and its module-wide session is never reopened.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import json
import sys
from typing import Any

APP = "wasp-orders"
INSTANCE_ID = "wasp-1:wasp-orders:8080"
PORT = 8080


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def command() -> list[str]:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.split() or ["stop"]  # end of input: stop


async def run(root_url: str) -> None:
    # Imported here, not at the top: its module-level ClientSession needs a running loop.
    wasp = importlib.import_module("wasp_eureka.client")
    session = wasp._SESSION
    client = wasp.EurekaClient(
        APP,
        PORT,
        "127.0.0.1",
        hostname="localhost",
        eureka_url=root_url,
        loop=asyncio.get_running_loop(),
        instance_id=INSTANCE_ID,
        health_check_url=f"http://127.0.0.1:{PORT}/health",
    )
    steps = {
        "register": lambda: client.register(metadata={"zone": "zone-a"}, lease_duration=30),
        "renew": client.renew,
        "deregister": client.deregister,
        "remove-status": client.remove_status_override,
        "apps": client.get_apps,
        "app": client.get_app,
        "instance": client.get_app_instance,
        "instance-by-id": client.get_instance,
        "vip": client.get_by_vip,
    }
    try:
        emit("started")
        while (words := await command())[0] != "stop":
            name, args = words[0], words[1:]
            try:
                if name == "status":
                    result = await client.set_status_override(wasp.StatusType(args[0]))
                elif name == "metadata":
                    result = await client.update_meta(args[0], args[1])
                else:
                    result = await steps[name]()
            except Exception as exc:
                status = getattr(exc, "status", None)
                emit(
                    "error",
                    step=name,
                    type=f"{type(exc).__module__}.{type(exc).__qualname__}",
                    message=str(exc),
                    status=None if status is None else int(status),
                )
            else:
                emit(name, result=result)
    finally:
        await session.close()
        atexit.unregister(session.close)  # the library's own hook would leave a coroutine
    emit("stopped")


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1]))
