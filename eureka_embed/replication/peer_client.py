"""A peer node's REST API as replication speaks it: the client, marked, plus the batch call.

Every request carries the replication header, so the peer applies what it receives without
forwarding it again; :meth:`PeerEurekaHttpClient.submit_batch` is Eureka's
``POST peerreplication/batch/``, :meth:`~PeerEurekaHttpClient.asg_status_update` its
``HttpReplicationClient.statusUpdate(asgName, ASGStatus)``. Requests, authentication, status
handling and decoding are the REST client's own, so replication and service clients fail and
report alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from eureka_embed.asg_status import AsgStatus
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.response import EurekaResponse
from eureka_embed.client.rest import RestEurekaHttpClient
from eureka_embed.client.transport import Transport
from eureka_embed.clock import Clock
from eureka_embed.codec import WireFormat
from eureka_embed.replication.wire import (
    BATCH_PATH,
    ItemResult,
    ReplicationItem,
    asg_status_path,
    decode_results,
    encode_batch,
)

__all__ = ["PeerEurekaHttpClient", "describe_status"]

_REFUSALS = {
    401: "the peer refused this node's credentials (the user and password in its --peer URL)",
    403: "the peer's user for this node lacks the peer role",
    429: "the peer is refusing this node's credentials after too many failed logins",
}


def describe_status(status: int) -> str:
    """``HTTP <status>``, and for an authentication refusal what to fix, for a peer's status."""
    reason = _REFUSALS.get(status)
    return f"HTTP {status}" if reason is None else f"HTTP {status}: {reason}"


class PeerEurekaHttpClient(RestEurekaHttpClient):
    """The REST client to one peer, every request marked as a replication (JSON, gzip)."""

    def __init__(
        self, endpoint: EurekaEndpoint, transport: Transport, *, clock: Clock | None = None
    ) -> None:
        # The batch format is JSON only, as Eureka's peers speak it.
        super().__init__(
            endpoint, transport, wire_format=WireFormat.JSON, replication=True, clock=clock
        )

    def __repr__(self) -> str:
        return f"PeerEurekaHttpClient({self.endpoint.url!r})"

    def submit_batch(self, items: Sequence[ReplicationItem]) -> EurekaResponse[list[ItemResult]]:
        """Send ``items`` as one batch; a 2xx answer's entity is its results, one per item.

        An empty batch is a probe: it tells whether the peer is there.

        :raises ~eureka_embed.errors.TransportError: no answer (a
            :class:`~eureka_embed.client.errors.ReadTimeout` when the peer is slow), or an
            unreadable one (:class:`~eureka_embed.client.errors.InvalidResponse`, also for a
            2xx answer that is not a result list).
        """
        answer = self._send("POST", BATCH_PATH, body=encode_batch(items))
        if not 200 <= answer.status < 300:
            return self._without_entity(answer)
        return self._decoded(answer, self._read_results)

    def asg_status_update(self, asg_name: str, status: AsgStatus) -> EurekaResponse[None]:
        """``PUT asg/{asg_name}/status?value=``: the state of an ASG, sent on its own as Eureka's
        peers send it (named apart from the instance ``status_update`` it sits beside).

        :raises ~eureka_embed.errors.TransportError: no answer.
        """
        answer = self._send("PUT", asg_status_path(asg_name), query={"value": status.value})
        return self._without_entity(answer)

    def _read_results(self, body: bytes, fmt: WireFormat) -> list[ItemResult]:
        return decode_results(body, now_ms=self.clock.now_ms())
