"""Eureka's REST API, independent of any web framework's calling style.

A framework adapter (:mod:`eureka_embed.wsgi` for Falcon WSGI) is thin on top of this package:

- :mod:`.messages`: :class:`EndpointRequest` in, :class:`EndpointResponse` out.
- :mod:`.endpoints`: :class:`Services`, :class:`Endpoints` (one method per endpoint),
  :func:`eureka_routes` (route template -> method -> handler), :func:`answer` (a handler's
  answer, refusals included).
- :mod:`.body`: the body limit and Content-Encoding; :mod:`.outcomes`: outcomes and errors as
  statuses, shared with the in-process client and the replication receiver.
- :mod:`.negotiation`, :mod:`.payloads`, :mod:`.payload_cache`, :mod:`.responses`,
  :mod:`.server_status`, :mod:`.dashboard`, :mod:`.metrics`: what the endpoints are made of.

This module imports nothing, so the registry's other parts can use :mod:`.outcomes` without
pulling in the endpoints.
"""
