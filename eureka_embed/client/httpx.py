"""Call services by name with httpx: transports that send ``http://orders/...`` to an instance.

::

    from eureka_embed.client.httpx import AsyncEurekaTransport, EurekaTransport

    with DiscoveryClient(config) as discovery:
        client = httpx.Client(transport=EurekaTransport(discovery))
        client.get("http://payments/api/balance")      # to one of PAYMENTS' UP instances

    async with DiscoveryClient(config) as discovery:
        async with httpx.AsyncClient(transport=AsyncEurekaTransport(discovery)) as client:
            await client.get("http://payments/api/balance")

A request whose host names an application or a VIP address in the discovery client's registry
copy goes to one of its UP instances: ``http`` on the instance's port, ``https`` on its secure
port, among the instances that have that port enabled (the port in the URL, if any, is
ignored). Any other host goes to the inner transport unchanged. The lookup reads the local
copy only, so nothing on the request path waits on the registry.

- **Choice**: an :class:`~eureka_embed.client.balancing.InstanceChooser`, round robin by
  default (random, zone preference and metadata weights in ``balancing``).
- **Retries**: GET, HEAD, OPTIONS, PUT and DELETE (``retry_methods``) are sent again, to another
  instance, after a connection error or a 502/503/504, at most ``max_retries`` times and never
  to an instance already tried for that request. Any other method is sent once, unless the
  request says ``extensions={"eureka_retry": True}`` (``False`` turns retries off for an
  idempotent one). A body that cannot be replayed (a generator) is never sent twice.
- **Cooling off**: an instance that failed so is left out for ``cooling_period_s`` (or until the
  registry shows it changed: registered again, moved); while every UP instance is cooling, they
  are tried anyway rather than failing the call unseen.
- **No instance**: a service the registry knows (or that was routed to before) with no UP
  instance raises :class:`NoInstanceAvailable` naming it, instead of a name lookup failure.

The module needs the ``httpx`` extra; its name shadows nothing, as imports are absolute.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import httpx

from eureka_embed.client.balancing import CoolingOff, InstanceChooser, RoundRobin
from eureka_embed.client.cache import CacheView
from eureka_embed.clock import Clock
from eureka_embed.model import InstanceInfo, InstanceStatus

if TYPE_CHECKING:
    from eureka_embed.client.discovery import DiscoveryClient

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRY_EXTENSION",
    "AsyncEurekaTransport",
    "EurekaTransport",
    "NoInstanceAvailable",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Answers that say "this instance cannot serve now; another may".
RETRY_STATUSES = frozenset({502, 503, 504})
#: A request extension: True retries a method that is not retried by default, False none.
RETRY_EXTENSION = "eureka_retry"
# Failures after which the same request may go to another instance: the connection failed or
# broke before an answer. A read time-out is not one: the instance may be working on it, and
# trying the next would multiply the caller's wait.
_RETRIED_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
_UP = InstanceStatus.UP
# Entries kept in the router's caches of targets and lookups before they start afresh.
_MAX_REMEMBERED = 4096
# A service's UP instances, as _Router._up finds them.
_Up = tuple[InstanceInfo, ...] | None


class NoInstanceAvailable(httpx.ConnectError):
    """The service is known to the registry, but no instance of it can take the request.

    An :class:`httpx.ConnectError`, so code that handles an unreachable host handles this too;
    ``service`` is the name the request used.
    """

    def __init__(self, service: str, reason: str, request: httpx.Request) -> None:
        super().__init__(f"{service}: {reason}", request=request)
        self.service = service


class _Router:
    """What both transports share: finding the instances of a host, choosing, cooling off."""

    def __init__(
        self,
        discovery: DiscoveryClient,
        *,
        chooser: InstanceChooser | None,
        max_retries: int,
        cooling_period_s: float,
        retry_methods: Collection[str],
        clock: Clock | None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self.discovery = discovery
        self.chooser = chooser if chooser is not None else RoundRobin()
        self.max_retries = max_retries
        self.cooling = CoolingOff(cooling_period_s, clock)
        self.retry_methods = frozenset(m.upper() for m in retry_methods)
        # Services routed to before: one whose last instance left the registry (and so the
        # copy) is still a service, whose callers get NoInstanceAvailable, not a DNS error.
        self._known: set[str] = set()
        self._targets: dict[tuple[str, str, int], tuple[httpx.URL, str]] = {}
        # Per (host, secure), what _up found in the registry copy of the moment: lookups and
        # filtering are done once per copy, not per request. A new copy starts it afresh.
        self._memo: tuple[CacheView | None, dict[tuple[str, bool], _Up]] = (None, {})

    def plan(self, request: httpx.Request) -> _Plan | None:
        """How to send ``request`` to a service; None when its host names none."""
        url = request.url
        host = url.host
        secure = url.scheme == "https"
        view = self.discovery.cache_view
        memo = self._memo
        if memo[0] is not view or len(memo[1]) >= _MAX_REMEMBERED:
            memo = self._memo = (view, {})
        key = (host, secure)
        try:
            up = memo[1][key]
        except KeyError:
            up = memo[1][key] = self._up(view, host, secure)
        if up is None:
            return None
        return _Plan(
            self, request, service=host, secure=secure, up=up, retries=self._retries(request)
        )

    def _up(self, view: CacheView, host: str, secure: bool) -> _Up:
        """The UP instances of the service ``host`` names, with the port the scheme asks for
        enabled; None when it names no service."""
        app = view.apps.get(host.upper())
        members: Sequence[InstanceInfo]
        if app is not None:
            members = app.instances
        else:
            members = view.by_vip(host, secure=secure, only_up=False)
            if not members and secure:
                members = view.by_vip(host, secure=False, only_up=False)
            if not members and host not in self._known:
                return None
        self._known.add(host)
        if secure:
            return tuple(i for i in members if i.status is _UP and i.secure_port.enabled)
        return tuple(i for i in members if i.status is _UP and i.port.enabled)

    def target(self, scheme: str, host: str, port: int) -> tuple[httpx.URL, str]:
        """``scheme://host:port`` as httpx normalises it (IDNA, default ports), and the Host
        header for it, made once per instance address: building a URL costs tens of us."""
        key = (scheme, host, port)
        found = self._targets.get(key)
        if found is None:
            if len(self._targets) >= _MAX_REMEMBERED:  # instances come and go: forget the old
                self._targets.clear()
            url = httpx.URL(scheme=scheme, host=host, port=port)
            found = self._targets[key] = (url, url.netloc.decode("ascii"))
        return found

    def _retries(self, request: httpx.Request) -> int:
        asked = request.extensions.get(RETRY_EXTENSION)
        if asked is None:
            asked = request.method in self.retry_methods
        if not asked or not isinstance(request.stream, httpx.ByteStream):
            return 0
        return self.max_retries


def _retargeted(url: httpx.URL, target: httpx.URL) -> httpx.URL:
    """``url`` sent to ``target``'s host and port, path and query kept.

    ``URL.copy_with`` parses and validates the whole URL again (about 50 us, more than the
    rest of the routing); both parts are valid already, so the parsed form is copied with the
    target's (already normalised) host and port. Should httpx change that private form, the
    public way is taken.
    """
    try:
        parsed = url._uri_reference._replace(
            host=target._uri_reference.host, port=target._uri_reference.port
        )
    except AttributeError:  # pragma: no cover - another httpx
        return url.copy_with(host=target.host, port=target.port)
    moved = httpx.URL.__new__(httpx.URL)
    moved._uri_reference = parsed
    return moved


class _Plan:
    """One request's way through a service's instances."""

    __slots__ = ("_router", "request", "retries_left", "secure", "service", "tried", "up")

    def __init__(
        self,
        router: _Router,
        request: httpx.Request,
        *,
        service: str,
        secure: bool,
        up: tuple[InstanceInfo, ...],
        retries: int,
    ) -> None:
        self._router = router
        self.request = request
        self.service = service
        self.secure = secure
        self.up = up
        self.retries_left = retries
        self.tried: list[InstanceInfo] = []

    def first(self) -> InstanceInfo:
        """The instance the request goes to first, the request aimed at it."""
        if not self.up:
            port = "secure port" if self.secure else "port"
            raise NoInstanceAvailable(
                self.service, f"no UP instance with its {port} enabled", self.request
            )
        usable = self._router.cooling.usable(self.up)
        # Every instance cooling off: try them rather than fail a call none of them was
        # asked to serve.
        return self._aim(usable or self.up)

    def after_failure(self, instance: InstanceInfo) -> InstanceInfo | None:
        """``instance`` failed the request: it cools off; the next instance to try (the
        request aimed at it), or None when no retry is left or no untried instance."""
        self._router.cooling.failed(instance)
        self.tried.append(instance)
        if self.retries_left <= 0:
            return None
        untried = [i for i in self.up if all(i is not t for t in self.tried)]
        if not untried:
            return None
        self.retries_left -= 1
        usable = self._router.cooling.usable(untried)
        return self._aim(usable or untried)

    def _aim(self, candidates: Sequence[InstanceInfo]) -> InstanceInfo:
        instance = self._router.chooser.choose(self.service, candidates)
        request = self.request
        port = instance.secure_port.port if self.secure else instance.port.port
        target, host_header = self._router.target(request.url.scheme, instance.host_name, port)
        request.url = _retargeted(request.url, target)
        request.headers["Host"] = host_header
        return instance


class EurekaTransport(httpx.BaseTransport):
    """An httpx transport that routes service names through ``discovery``'s registry copy.

    ``inner`` sends every request (default: a plain :class:`httpx.HTTPTransport`; pass one
    to set TLS verification, limits, HTTP/2); it is closed with this transport. ``clock``
    times the cooling off (tests pass a manual one).
    """

    def __init__(
        self,
        discovery: DiscoveryClient,
        *,
        inner: httpx.BaseTransport | None = None,
        chooser: InstanceChooser | None = None,
        max_retries: int = 2,
        cooling_period_s: float = 30.0,
        retry_methods: Collection[str] = IDEMPOTENT_METHODS,
        clock: Clock | None = None,
    ) -> None:
        self.inner = inner if inner is not None else httpx.HTTPTransport()
        self._router = _Router(
            discovery,
            chooser=chooser,
            max_retries=max_retries,
            cooling_period_s=cooling_period_s,
            retry_methods=retry_methods,
            clock=clock,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        plan = self._router.plan(request)
        if plan is None:
            return self.inner.handle_request(request)
        instance = plan.first()
        while True:
            try:
                response = self.inner.handle_request(request)
            except _RETRIED_ERRORS:
                following = plan.after_failure(instance)
                if following is None:
                    raise
                instance = following
                continue
            if response.status_code not in RETRY_STATUSES:
                return response
            following = plan.after_failure(instance)
            if following is None:
                return response
            response.close()
            instance = following

    def close(self) -> None:
        self.inner.close()


class AsyncEurekaTransport(httpx.AsyncBaseTransport):
    """:class:`EurekaTransport` for :class:`httpx.AsyncClient`; ``inner`` defaults to a plain
    :class:`httpx.AsyncHTTPTransport`. Never blocks the event loop: the registry lookup reads
    the discovery client's copy in memory."""

    def __init__(
        self,
        discovery: DiscoveryClient,
        *,
        inner: httpx.AsyncBaseTransport | None = None,
        chooser: InstanceChooser | None = None,
        max_retries: int = 2,
        cooling_period_s: float = 30.0,
        retry_methods: Collection[str] = IDEMPOTENT_METHODS,
        clock: Clock | None = None,
    ) -> None:
        self.inner = inner if inner is not None else httpx.AsyncHTTPTransport()
        self._router = _Router(
            discovery,
            chooser=chooser,
            max_retries=max_retries,
            cooling_period_s=cooling_period_s,
            retry_methods=retry_methods,
            clock=clock,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        plan = self._router.plan(request)
        if plan is None:
            return await self.inner.handle_async_request(request)
        instance = plan.first()
        while True:
            try:
                response = await self.inner.handle_async_request(request)
            except _RETRIED_ERRORS:
                following = plan.after_failure(instance)
                if following is None:
                    raise
                instance = following
                continue
            if response.status_code not in RETRY_STATUSES:
                return response
            following = plan.after_failure(instance)
            if following is None:
                return response
            await response.aclose()
            instance = following

    async def aclose(self) -> None:
        await self.inner.aclose()
