"""Eureka's REST API spoken to one server: the bottom of every HTTP client stack.

Builds each request (path, query, headers, encoded body), hands it to a
:class:`~eureka_embed.client.transport.Transport`, and decodes the answer with the codec.
Every status comes back as a response; only a failed exchange or an unreadable success body
raises (a :class:`~eureka_embed.errors.TransportError`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote, urlencode

from eureka_embed import __version__
from eureka_embed.client.contract import EurekaHttpClient
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import InvalidResponse
from eureka_embed.client.response import EurekaResponse
from eureka_embed.client.transport import HttpRequest, HttpResponse, Transport
from eureka_embed.clock import Clock, system_clock
from eureka_embed.codec import (
    DecodedInstances,
    WireFormat,
    decode_application,
    decode_applications,
    decode_instance,
    encode_instance,
)
from eureka_embed.errors import DecodeError
from eureka_embed.model import Application, Applications, InstanceInfo, InstanceStatus
from eureka_embed.protocol import REPLICATION_HEADER

__all__ = ["RestEurekaHttpClient"]

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = f"eureka-embed/{__version__}"
# The identity headers Eureka's clients send, by which servers tell clients apart (a server's
# rate limiter may exempt its own kinds). The version is the one Eureka's client sends.
IDENTITY_NAME_HEADER = "DiscoveryIdentity-Name"
IDENTITY_VERSION_HEADER = "DiscoveryIdentity-Version"
IDENTITY_ID_HEADER = "DiscoveryIdentity-Id"
CLIENT_IDENTITY = "DefaultClient"
SERVER_IDENTITY = "DefaultServer"
IDENTITY_VERSION = "1.4"
# Enough of an error body to show the server's reason without holding a whole HTML page.
_MAX_ERROR_TEXT = 2000
# How long a server holds a watch that names no wait.
_SERVER_DEFAULT_WAIT_S = 30.0


class RestEurekaHttpClient(EurekaHttpClient):
    """One Eureka server over HTTP. JSON by default; ``wire_format=WireFormat.XML`` on request.

    ``compact`` asks for Eureka's compact instance form on reads (``X-Eureka-Accept``); ``gzip``
    asks for compressed answers. ``replication`` marks every request as a peer node's (the
    server applies such writes without replicating them again). ``clock`` stands for "now" in
    decoded answers that lack a lastDirtyTimestamp. The client owns ``transport`` and closes
    it on shutdown.

    Every request carries Eureka's identity headers: ``DiscoveryIdentity-Name`` (DefaultClient,
    or DefaultServer for a peer's replication), ``-Version``, and ``-Id`` when ``identity_id``
    is given (Eureka's client sends its instance's IP address).
    """

    def __init__(
        self,
        endpoint: EurekaEndpoint,
        transport: Transport,
        *,
        wire_format: WireFormat = WireFormat.JSON,
        compact: bool = False,
        gzip: bool = True,
        replication: bool = False,
        clock: Clock | None = None,
        identity_id: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.transport = transport
        self.wire_format = wire_format
        self.clock = clock if clock is not None else system_clock
        headers = {"Accept": wire_format.content_type, "User-Agent": USER_AGENT}
        if gzip:
            headers["Accept-Encoding"] = "gzip"
        if compact:
            headers["X-Eureka-Accept"] = "compact"
        if replication:
            headers[REPLICATION_HEADER] = "true"
        headers[IDENTITY_NAME_HEADER] = SERVER_IDENTITY if replication else CLIENT_IDENTITY
        headers[IDENTITY_VERSION_HEADER] = IDENTITY_VERSION
        if identity_id:
            headers[IDENTITY_ID_HEADER] = identity_id
        authorization = endpoint.authorization
        if authorization is not None:
            headers["Authorization"] = authorization
        self._headers = headers
        self._closed = False
        # The last full registry's instances: a fetch builds objects only for what changed.
        self._last_registry = DecodedInstances()

    def __repr__(self) -> str:
        return f"RestEurekaHttpClient({self.endpoint.url!r}, {self.wire_format.name})"

    # ------------------------------------------------------------------ writes

    def register(self, instance: InstanceInfo) -> EurekaResponse[None]:
        body = encode_instance(instance, self.wire_format)
        answer = self._send("POST", f"apps/{_segment(instance.app.upper())}", body=body)
        return self._without_entity(answer)

    def cancel(self, app: str, instance_id: str) -> EurekaResponse[None]:
        answer = self._send("DELETE", _instance_path(app, instance_id))
        return self._without_entity(answer)

    def send_heartbeat(
        self,
        app: str,
        instance_id: str,
        *,
        instance: InstanceInfo | None = None,
        status: InstanceStatus | None = None,
        last_dirty_timestamp: int | None = None,
        overridden_status: InstanceStatus | None = None,
    ) -> EurekaResponse[InstanceInfo]:
        if instance is not None:
            status = status if status is not None else instance.status
            if last_dirty_timestamp is None:
                last_dirty_timestamp = instance.last_dirty_timestamp
        query = _query(
            status=status,
            lastDirtyTimestamp=last_dirty_timestamp,
            overriddenstatus=overridden_status,
        )
        answer = self._send("PUT", _instance_path(app, instance_id), query=query)
        if answer.status == 409 and answer.body.strip():
            return self._decoded(answer, self._read_instance)  # the server's newer copy
        if answer.status == 200 and answer.body.strip():
            # Some servers echo the instance; the renewal stands even if the echo is unreadable.
            try:
                return self._decoded(answer, self._read_instance)
            except InvalidResponse:
                log.debug("ignoring an unreadable body on a renewed heartbeat")
        return self._without_entity(answer)

    def status_update(
        self,
        app: str,
        instance_id: str,
        status: InstanceStatus,
        *,
        last_dirty_timestamp: int | None = None,
    ) -> EurekaResponse[None]:
        query = _query(value=status, lastDirtyTimestamp=last_dirty_timestamp)
        answer = self._send("PUT", _instance_path(app, instance_id) + "/status", query=query)
        return self._without_entity(answer)

    def delete_status_override(
        self,
        app: str,
        instance_id: str,
        *,
        status: InstanceStatus | None = None,
        last_dirty_timestamp: int | None = None,
    ) -> EurekaResponse[None]:
        query = _query(value=status, lastDirtyTimestamp=last_dirty_timestamp)
        answer = self._send("DELETE", _instance_path(app, instance_id) + "/status", query=query)
        return self._without_entity(answer)

    # ------------------------------------------------------------------ reads

    def get_applications(self, regions: Sequence[str] = ()) -> EurekaResponse[Applications]:
        return self._read("apps/", self._read_full_registry, regions)

    def get_delta(
        self,
        regions: Sequence[str] = (),
        *,
        index: int | None = None,
        wait_s: float | None = None,
    ) -> EurekaResponse[Applications]:
        if index is None:
            return self._read("apps/delta", self._read_applications, regions)
        if index < 0:
            raise ValueError("a watch index is never negative")
        if wait_s is not None and not 0 < wait_s < math.inf:
            raise ValueError("a watch wait must be a positive number of seconds")
        watch = {"index": str(index)}
        if wait_s is not None:
            watch["wait"] = _duration(wait_s)
        # Without a wait the server holds the answer for its default, 30 s.
        hold_s = wait_s if wait_s is not None else _SERVER_DEFAULT_WAIT_S
        return self._read(
            "apps/delta", self._read_applications, regions, watch=watch, hold_s=hold_s
        )

    def get_vip(self, vip: str, regions: Sequence[str] = ()) -> EurekaResponse[Applications]:
        return self._read(f"vips/{_segment(vip)}", self._read_applications, regions)

    def get_secure_vip(
        self, svip: str, regions: Sequence[str] = ()
    ) -> EurekaResponse[Applications]:
        return self._read(f"svips/{_segment(svip)}", self._read_applications, regions)

    def get_application(self, app: str) -> EurekaResponse[Application]:
        return self._read(f"apps/{_segment(app)}", self._read_application)

    def get_instance(self, app: str, instance_id: str) -> EurekaResponse[InstanceInfo]:
        return self._read(_instance_path(app, instance_id), self._read_instance)

    def get_instance_by_id(self, instance_id: str) -> EurekaResponse[InstanceInfo]:
        return self._read(f"instances/{_segment(instance_id)}", self._read_instance)

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self.transport.close()

    # ------------------------------------------------------------------ plumbing

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        hold_s: float = 0.0,
    ) -> HttpResponse:
        url = self.endpoint.url + path
        if query:
            url += "?" + urlencode(query, safe=",")
        headers = self._headers
        if body is not None:
            headers = {**headers, "Content-Type": self.wire_format.content_type}
        started = time.perf_counter()
        answer = self.transport.send(HttpRequest(method, url, headers, body, hold_s))
        if log.isEnabledFor(logging.DEBUG):
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.debug("%s %s -> %d (%.1f ms)", method, url, answer.status, elapsed_ms)
        return answer

    def _read(
        self,
        path: str,
        reader: Callable[[bytes, WireFormat], T],
        regions: Sequence[str] = (),
        *,
        watch: Mapping[str, str] | None = None,
        hold_s: float = 0.0,
    ) -> EurekaResponse[T]:
        query = {"regions": ",".join(regions)} if regions else {}
        if watch:
            query.update(watch)
        answer = self._send("GET", path, query=query, hold_s=hold_s)
        if answer.status != 200:
            return self._without_entity(answer)
        return self._decoded(answer, reader)

    def _decoded(
        self, answer: HttpResponse, reader: Callable[[bytes, WireFormat], T]
    ) -> EurekaResponse[T]:
        fmt = _body_format(answer)
        try:
            entity = reader(answer.body, fmt)
        except DecodeError as exc:
            raise InvalidResponse(
                f"{self.endpoint.url}: unreadable {fmt.name} answer: {exc.reason}"
            ) from exc
        return EurekaResponse(answer.status, entity, answer.headers)

    @staticmethod
    def _without_entity(answer: HttpResponse) -> EurekaResponse[T]:
        text = ""
        if answer.status >= 300 and answer.body:
            text = answer.body[:_MAX_ERROR_TEXT].decode("utf-8", errors="replace")
        return EurekaResponse(answer.status, None, answer.headers, text)

    def _read_instance(self, body: bytes, fmt: WireFormat) -> InstanceInfo:
        # What a server sends back was validated when it was registered.
        return decode_instance(body, fmt, now_ms=self.clock.now_ms(), registration=False)

    def _read_application(self, body: bytes, fmt: WireFormat) -> Application:
        return decode_application(body, fmt, now_ms=self.clock.now_ms())

    def _read_applications(self, body: bytes, fmt: WireFormat) -> Applications:
        return decode_applications(body, fmt, now_ms=self.clock.now_ms())

    def _read_full_registry(self, body: bytes, fmt: WireFormat) -> Applications:
        now = self.clock.now_ms()
        return decode_applications(body, fmt, now_ms=now, reuse=self._last_registry)


def _segment(value: str) -> str:
    """One path segment; ids such as ``host:app:8080`` are percent-encoded, as servers accept."""
    return quote(value, safe="")


def _instance_path(app: str, instance_id: str) -> str:
    return f"apps/{_segment(app.upper())}/{_segment(instance_id)}"


def _query(**params: str | int | InstanceStatus | None) -> dict[str, str]:
    return {
        name: value.value if isinstance(value, InstanceStatus) else str(value)
        for name, value in params.items()
        if value is not None
    }


def _duration(seconds: float) -> str:
    """A watch's wait as servers read it: ``30s`` when whole, else milliseconds (``1500ms``)."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def _body_format(answer: HttpResponse) -> WireFormat:
    """The format the server actually answered in: its Content-Type, else a look at the body.

    Servers behind gateways sometimes answer XML to a JSON request, or drop the header.
    """
    content_type = (answer.headers.get("content-type") or "").lower()
    if "json" in content_type:
        return WireFormat.JSON
    if "xml" in content_type:
        return WireFormat.XML
    return WireFormat.XML if answer.body.lstrip()[:1] == b"<" else WireFormat.JSON
