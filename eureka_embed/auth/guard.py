"""The one place a request is let through or refused: :class:`AccessGuard`.

Both adapters (and the ASGI heartbeat path, which calls the same route handlers) get their
routes from :class:`~eureka_embed.http.api.EurekaApi`, which wraps each handler with
:meth:`AccessGuard.route` when given ``auth``: the check runs before the endpoint, inside the
same call, so every way a request can reach an endpoint passes through it. Watchable reads are
checked before they wait too (through the route's ``view_of``, which the adapters call before
holding a watch), so a refused client is not held for 30 s first.

Answers: missing credentials where anonymous is not enough, or wrong ones: 401 with
``WWW-Authenticate: Basic realm="eureka"``; a known identity without the right: 403 with the
reason; a throttled address: 429 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final, TypeAlias

from eureka_embed.auth.basic import BasicAuth, Challenge, Throttled
from eureka_embed.auth.roles import ANONYMOUS, Access, Identity, refusal_reason
from eureka_embed.http.endpoints import Route
from eureka_embed.http.messages import EndpointRequest, EndpointResponse, Handler
from eureka_embed.http.outcomes import HttpRefusal, Outcome
from eureka_embed.http.params import is_replication
from eureka_embed.http.responses import refusal
from eureka_embed.storage.view_index import View

__all__ = ["AccessGuard", "AuthCheck", "AuthOption", "access_of"]

AuthCheck: TypeAlias = Callable[[EndpointRequest], Identity | None]
"""A host application's own check: who sent the request (None: nobody it knows).

It is called for every request, heartbeats included, and under ASGI on the event loop for the
requests answered there: a check that does I/O calls :func:`eureka_embed.blocking.may_block`
first, and is then run again in the adapter's thread pool (see :mod:`eureka_embed.blocking`).
"""

AuthOption: TypeAlias = BasicAuth | AuthCheck
"""What ``create_app(auth=...)`` takes."""

CHALLENGE_HEADERS: Final = (("WWW-Authenticate", 'Basic realm="eureka"'),)

#: Writes by route template (below a base path) and method; the application is in the path.
_WRITES: Final = {
    ("apps/{app}", "POST"),
    ("apps/{app}/{instance_id}", "PUT"),
    ("apps/{app}/{instance_id}", "DELETE"),
    ("apps/{app}/{instance_id}/status", "PUT"),
    ("apps/{app}/{instance_id}/status", "DELETE"),
    ("apps/{app}/{instance_id}/metadata", "PUT"),
}
_REPLICATE: Final = {("peerreplication/batch", "POST")}
#: Operators' actions that peers replicate one by one.
_OPERATE: Final = {("asg/{asg_name}/status", "PUT")}
#: Probes stay open: an orchestrator has no credentials.
_OPEN: Final = frozenset({"healthz", "readyz"})


def access_of(template: str, method: str) -> Access:
    """What a request to ``template`` (below a base path, or ``/`` and ``/metrics``) needs.

    A route this table does not know needs ``admin``: a new endpoint is closed until it is
    placed here.
    """
    relative = template.strip("/")
    if relative in _OPEN:
        return Access.OPEN
    if (relative, method) in _WRITES:
        return Access.WRITE
    if (relative, method) in _REPLICATE:
        return Access.REPLICATE
    if (relative, method) in _OPERATE:
        return Access.OPERATE
    if method in ("GET", "HEAD"):
        return Access.READ
    return Access.ADMIN


class AccessGuard:
    """Decides every request of an app given ``auth`` (a :class:`BasicAuth` or a check)."""

    def __init__(self, auth: AuthOption) -> None:
        self.auth = auth
        self._basic = auth if isinstance(auth, BasicAuth) else None

    def refusal(self, request: EndpointRequest, access: Access) -> Outcome | None:
        """Why ``request`` is refused (401, 403 or 429), or None to let it through."""
        # On every heartbeat: the Basic check is called here, not through another method.
        basic = self._basic
        if basic is not None:
            found = basic.authenticate(request.header("authorization"), request.client)
        else:
            assert not isinstance(self.auth, BasicAuth)
            checked = self.auth(request)
            found = ANONYMOUS if checked is None else checked
        if isinstance(found, Throttled):
            return Outcome(
                429,
                "too many failed logins from this address; try again later",
                (("Retry-After", str(found.retry_after_s)),),
            )
        if isinstance(found, Challenge):
            return Outcome(401, found.reason, CHALLENGE_HEADERS)
        reason = refusal_reason(
            found, access, request.params.get("app"), replication=is_replication(request)
        )
        if reason is None:
            return None
        if self._is_anonymous(found):
            return Outcome(401, f"credentials required: {reason}", CHALLENGE_HEADERS)
        return Outcome(403, reason)

    def _is_anonymous(self, identity: Identity) -> bool:
        if self._basic is not None:
            return identity is self._basic.anonymous
        return identity is ANONYMOUS

    def route(self, route: Route, template: str) -> Route:
        """``route`` with every handler checked first; ``template`` as :func:`access_of`
        reads it."""
        handlers = {
            method: self._guarded(handler, access_of(template, method))
            for method, handler in route.handlers.items()
        }
        view_of = route.view_of
        if view_of is not None:
            view_of = self._guarded_view(view_of, access_of(template, "GET"))
        return replace(route, handlers=handlers, view_of=view_of)

    def _guarded(self, handler: Handler, access: Access) -> Handler:
        check = self.refusal

        def guarded(request: EndpointRequest) -> EndpointResponse:
            refused = check(request, access)
            return handler(request) if refused is None else refusal(refused)

        return guarded

    def _guarded_view(
        self, view_of: Callable[[EndpointRequest], View], access: Access
    ) -> Callable[[EndpointRequest], View]:
        check = self.refusal

        def guarded(request: EndpointRequest) -> View:
            # Only a watch waits before its handler runs (and checks): refuse it before that.
            if request.query_value("index") is not None:
                refused = check(request, access)
                if refused is not None:
                    raise HttpRefusal(refused)  # the adapter answers it, as a bad index
            return view_of(request)

        return guarded
