"""The redirect layer: follow a server's 302 to the server it names, and stay there.

A Eureka server (or a front end) may answer 302 to send clients to another node. The layer
follows up to ``max_redirects`` hops, then keeps talking to the final server, so the next
requests do not bounce again. A failure forgets that target: the next request starts from the
configured endpoint again. A chain that comes back to a server already visited is a loop.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

from eureka_embed.client.contract import ClientLayer, EurekaHttpClient, Operation
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import RedirectError
from eureka_embed.client.response import EurekaResponse, RequestKind
from eureka_embed.client.retrying import EndpointClientFactory

__all__ = ["DEFAULT_MAX_REDIRECTS", "RedirectingClient", "redirect_target"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_REDIRECTS = 10

# A Location points at a resource (.../eureka/apps/ORDERS); the service URL is what precedes
# the ``apps`` segment. Eureka only accepts ``/v2/apps``; we accept any base path.
_RESOURCE_PATH = re.compile(r"^(?P<base>.*/)apps(?:/.*)?$")


def redirect_target(location: str | None, current: EurekaEndpoint) -> EurekaEndpoint:
    """The service endpoint a ``Location`` header points into.

    Credentials go along only to the same host: a redirect must not hand them to a stranger.
    """
    if not location:
        raise RedirectError(f"{current.url} answered 302 without a Location")
    parts = urlsplit(urljoin(current.url, location))
    match = _RESOURCE_PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or not parts.hostname or match is None:
        raise RedirectError(f"{current.url} redirected to an unusable location {location!r}")
    host_and_port = parts.netloc.rpartition("@")[2]
    url = urlunsplit((parts.scheme, host_and_port, match.group("base"), "", ""))
    if parts.hostname == urlsplit(current.url).hostname:
        return current.with_url(url)
    return EurekaEndpoint(url, current.zone)


class RedirectingClient(ClientLayer):
    """One configured endpoint, with its redirects followed and the final target remembered."""

    def __init__(
        self,
        endpoint: EurekaEndpoint,
        factory: EndpointClientFactory,
        *,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
    ) -> None:
        if max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        self.endpoint = endpoint
        self._factory = factory
        self._max_redirects = max_redirects
        self._lock = threading.Lock()
        self._target: tuple[EurekaEndpoint, EurekaHttpClient] | None = None

    @property
    def target(self) -> str:
        """URL of the server requests go to now: the remembered target, else the endpoint."""
        target = self._target
        return target[0].url if target is not None else self.endpoint.url

    def _execute(self, kind: RequestKind, operation: Operation[T]) -> EurekaResponse[T]:
        remembered = self._target
        if remembered is not None:
            endpoint, client = remembered
        else:
            endpoint, client = self.endpoint, self._factory(self.endpoint)
        visited = {endpoint.url}
        hops = 0
        try:
            while True:
                response = operation(client)
                if response.status != 302:
                    break
                if hops == self._max_redirects:
                    raise RedirectError(
                        f"{kind}: more than {self._max_redirects} redirects from {self.endpoint}"
                    )
                target = redirect_target(response.location, endpoint)
                if target.url in visited:
                    raise RedirectError(f"{kind}: redirect loop from {endpoint} to {target}")
                visited.add(target.url)
                hops += 1
                log.info("%s: %s redirects to %s", kind, endpoint, target)
                client.shutdown()
                endpoint, client = target, self._factory(target)
        except Exception:
            client.shutdown()
            self._forget(client)
            raise
        if remembered is None or client is not remembered[1]:
            self._remember(endpoint, client)
        return response

    def _remember(self, endpoint: EurekaEndpoint, client: EurekaHttpClient) -> None:
        with self._lock:
            previous, self._target = self._target, (endpoint, client)
        if previous is not None and previous[1] is not client:
            previous[1].shutdown()

    def _forget(self, client: EurekaHttpClient) -> None:
        with self._lock:
            if self._target is not None and self._target[1] is client:
                self._target = None

    def shutdown(self) -> None:
        with self._lock:
            target, self._target = self._target, None
        if target is not None:
            target[1].shutdown()
