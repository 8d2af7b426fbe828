"""Errors to HTTP: domain errors become 4xx/503 answers, anything unexpected a bare 500.

Responders raise; these handlers, registered once on the app, decide the answer (no try/except
in every responder). Every error body is ``text/plain``: a reason a person can read in a client
log, never a traceback (that goes to the server log).
"""

from __future__ import annotations

import logging
from typing import Any, Final

import falcon

from eureka_embed.errors import EurekaError, InstanceNotFound, InvalidInput, StorageUnavailable

__all__ = ["RETRY_AFTER_SECONDS", "TEXT_PLAIN", "install_error_handlers"]

log = logging.getLogger("eureka_embed.wsgi")

TEXT_PLAIN: Final = "text/plain; charset=utf-8"

#: Peers retry a 503 after 1 s regardless; a client that honours the header waits a little more,
#: which is kinder to a store that is recovering.
RETRY_AFTER_SECONDS: Final = 5


def _write(resp: falcon.Response, status: int, reason: str) -> None:
    resp.status = status
    resp.content_type = TEXT_PLAIN
    resp.text = reason + "\n"


def _serialize_http_error(
    req: falcon.Request, resp: falcon.Response, exception: falcon.HTTPError
) -> None:
    # Falcon's own errors (404 no route, 405, 413, bad headers) as text, like ours. Headers the
    # error carries (Allow, Retry-After) are already set by Falcon.
    reason = exception.title or str(exception.status)
    description = exception.description
    if description is None:
        if exception.status_code == 404:
            description = f"no resource at {req.path}"
        elif exception.status_code == 405:
            description = f"{req.method} is not allowed on {req.path}"
    if description:
        reason = f"{reason}: {description}"
    resp.content_type = TEXT_PLAIN
    resp.text = reason + "\n"


def _invalid_input(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    assert isinstance(ex, InvalidInput)
    _write(resp, 400, ex.reason)


def _not_found(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    assert isinstance(ex, InstanceNotFound)
    _write(resp, 404, ex.reason)


def _unavailable(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    assert isinstance(ex, StorageUnavailable)
    log.warning("%s %s: store unavailable: %s", req.method, req.path, ex.reason)
    _write(resp, 503, ex.reason)
    resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))


def _eureka_error(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    # A StorageError or another failure we raised on purpose: its reason is safe to send.
    assert isinstance(ex, EurekaError)
    log.error("%s %s failed: %s", req.method, req.path, ex.reason, exc_info=ex)
    _write(resp, 500, ex.reason)


def _unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    log.error("%s %s failed with an unexpected error", req.method, req.path, exc_info=ex)
    _write(resp, 500, "internal server error (the server log has the details)")


def install_error_handlers(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Register the handlers; Falcon picks the most specific one for each exception."""
    app.set_error_serializer(_serialize_http_error)
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(EurekaError, _eureka_error)
    app.add_error_handler(InvalidInput, _invalid_input)
    app.add_error_handler(InstanceNotFound, _not_found)
    app.add_error_handler(StorageUnavailable, _unavailable)
