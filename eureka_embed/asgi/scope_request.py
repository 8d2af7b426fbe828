"""The :class:`~eureka_embed.http.messages.EndpointRequest` of an ASGI scope, as Falcon's
adapter would build it, for the fast paths that answer without Falcon's request object.

The query is parsed by Falcon's own parser with the app's options, and a header is looked up
as ``falcon.asgi.Request.get_header`` gives it, so an endpoint cannot tell which way a request
came.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Final

import falcon
from falcon.constants import SINGLETON_HEADERS
from falcon.util.uri import parse_query_string

from eureka_embed.http.messages import EMPTY_MAPPING, EndpointRequest

__all__ = ["scope_request"]

_SINGLETONS: Final = frozenset(name.encode() for name in SINGLETON_HEADERS)
_HEADER_NAMES: Final[dict[str, bytes]] = {}
#: What ``falcon.asgi.Request.remote_addr`` answers for a scope without a client.
_NO_CLIENT: Final = "127.0.0.1"


def _header(headers: Sequence[tuple[bytes, bytes]], name: str) -> str | None:
    """A request header as ``falcon.asgi.Request.get_header`` gives it.

    Repeated headers are joined with ``,``, except the singletons, of which the last counts.
    An endpoint looks up two or three headers among a handful, so a scan costs less than the
    dictionary Falcon builds of them all.
    """
    key = _HEADER_NAMES.get(name)
    if key is None:
        key = name.lower().encode("latin1")
        if len(_HEADER_NAMES) < 64:  # the endpoints ask for a handful of names
            _HEADER_NAMES[name] = key
    found: bytes | None = None
    for header_name, value in headers:
        if header_name == key:
            if found is None or key in _SINGLETONS:
                found = value
            else:
                found += b"," + value
    return None if found is None else found.decode("latin1")


def scope_request(
    scope: MutableMapping[str, Any],
    method: str,
    path: str,
    params: Mapping[str, str],
    options: falcon.RequestOptions,
) -> EndpointRequest | None:
    """The request ``scope`` carries, routed to ``path`` with the path fields ``params``;
    None when its query is not UTF-8 (Falcon's own answer to that, whatever it is, is due)."""
    raw_query: bytes = scope.get("query_string", b"")
    try:
        query_string = raw_query.decode()
    except UnicodeDecodeError:
        return None
    query = (
        parse_query_string(
            query_string, keep_blank=options.keep_blank_qs_values, csv=options.auto_parse_qs_csv
        )
        if query_string
        else EMPTY_MAPPING
    )
    headers = scope.get("headers", ())
    if not isinstance(headers, list):
        # ASGI allows iterables read once (falcon.testing sends iterators of iterators); an
        # endpoint looks headers up more than once.
        headers = [(name, value) for name, value in headers]
    client = scope.get("client")
    if client is not None and not isinstance(client, (tuple, list)):
        client = tuple(client)  # an iterable read once, as the headers above
    # Without one (optional in ASGI; None over a Unix socket) the address Falcon's
    # req.remote_addr gives the same request: the brute-force window must count a heartbeat
    # answered here and a request routed through Falcon under one address.
    return EndpointRequest(
        method,
        path,
        functools.partial(_header, headers),
        query,
        params,
        b"",
        client[0] if client else _NO_CLIENT,
    )
