"""Errors raised outside the endpoints (Falcon's own, a body too large) as text answers.

The endpoints answer their own refusals (:func:`eureka_embed.http.endpoints.answer`); what is
left is Falcon's routing errors (404 no route, 405, bad headers) and what the adapter raises
while reading a body. Both are answered through the same table and the same text form.
"""

from __future__ import annotations

from typing import Any

import falcon

from eureka_embed.http.responses import TEXT_PLAIN, error_response
from eureka_embed.wsgi.request_input import endpoint_request
from eureka_embed.wsgi.resources import write_response

__all__ = ["install_error_handlers", "serialize_http_error"]


def serialize_http_error(
    req: falcon.Request, resp: falcon.Response, exception: falcon.HTTPError
) -> None:
    """Falcon's own errors as one line of text; the ASGI adapter registers it too."""
    # Headers the error carries (Allow, Retry-After) are already set by Falcon.
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


def _any_error(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    write_response(resp, error_response(endpoint_request(req, params or {}), ex))


def install_error_handlers(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Register the handlers; Falcon's own HTTP errors keep their status and headers."""
    app.set_error_serializer(serialize_http_error)
    app.add_error_handler(Exception, _any_error)
