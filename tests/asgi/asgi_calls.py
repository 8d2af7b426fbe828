"""Requests handed to an ASGI app as a server hands them over, and what it sent back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from eureka_embed.asgi.app import EurekaAsgiApp

__all__ = ["Call", "call_app"]


@dataclass(frozen=True)
class Call:
    """One request as an ASGI server hands it over (``path`` percent-decoded, as servers do)."""

    path: str
    query: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    method: str = "PUT"
    root_path: str = ""
    body: bytes = b""
    #: Whether the fast path should answer it (else Falcon does, in both apps).
    fast: bool = True
    raw_path: bytes | None = field(default=None)


async def call_app(app: EurekaAsgiApp, call: Call) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.sleep(3600)  # the client waits for the answer
        delivered = True
        return {"type": "http.request", "body": call.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path = call.path
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": call.method,
        "scheme": "http",
        "path": path,
        "raw_path": call.raw_path if call.raw_path is not None else path.encode(),
        "query_string": call.query,
        "root_path": call.root_path,
        "headers": [(b"host", b"registry.test"), *call.headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8761),
    }
    await app(scope, receive, send)
    return sent
