"""uvicorn's httptools protocol, writing an answer's headers and body in one socket write.

uvicorn writes the status line and headers when the app sends ``http.response.start`` and the
body when it sends ``http.response.body``: two ``transport.write`` calls, two ``send``
syscalls per answer. With 5,000 watchers woken by one change that is 10,000 syscalls, and
sampled with py-spy they were a third of the server's time (README, "Waking 5,000 watchers").
:class:`OneWriteHttpToolsProtocol` gives each request's cycle a transport that holds the
header block and sends it joined with the first body write; everything else is uvicorn's own
code (keep-alive, pipelining, flow control, limits, timeouts).

The held headers are never kept past the loop's current turn: should an app send its start and
then wait before its body (a stream), they are written on their own, as uvicorn would. A
``100 Continue`` (written before the response starts) is never held.

Only :class:`~eureka_embed.asgi_server.UvicornServer` (``serve --server uvicorn``) uses it;
an application serving the ASGI app on its own uvicorn keeps uvicorn's protocol.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["OneWriteHttpToolsProtocol"]


class _HeadersJoinBody:
    """The transport a cycle writes through: its first write after the response started (the
    header block) waits for the next one, or the end of the loop's turn, or any other use."""

    __slots__ = ("_cycle", "_held", "_loop", "_transport")

    def __init__(
        self, transport: asyncio.Transport, cycle: RequestResponseCycle, loop: Any
    ) -> None:
        self._transport = transport
        self._cycle = cycle
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            # uvloop sends both in one writev, without joining them (a body may be megabytes).
            self._transport.writelines((held, data))
        elif self._cycle.response_started and not self._cycle.response_complete:
            # The header block: the body comes next, in the same turn when the app sends it
            # right away (ours does).
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)  # a 100 Continue, or after the answer

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # Anything else uvicorn might ask of the transport sees the headers written first.
        self.flush()
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose answers each go out in one write (see the module)."""

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        # None or unchanged: uvicorn took the request elsewhere (an upgrade), not a new cycle.
        if cycle is not None and cycle is not before and cycle.transport is self.transport:
            joined = _HeadersJoinBody(self.transport, cycle, self.loop)
            cycle.transport = joined  # type: ignore[assignment]  # all of it cycles use
