"""One peer: its task queue, the thread that sends it in batches, and what came of them.

What a send can end in (SPEC section 5):

- the batch was answered 2xx: each item's own status is read; a Heartbeat (or a status write)
  answered 404 means the peer lacks the instance, so the full Register of our copy is queued;
  a Heartbeat answered 409 carries the peer's newer instance, which we adopt as a replicated
  registration (so it is not sent back); an item answered 503 is queued again.
- 503, or no answer within the read time-out: the peer is busy; the tasks go back to the front
  of the queue and the sender waits 1 s, doubling per failure in a row up to a bound.
- any other network failure (refused, reset, connect time-out): the same after 100 ms.
- any other status, or an unreadable answer: a permanent error; the batch is dropped and
  counted as failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import InvalidResponse, ReadTimeout
from eureka_embed.client.transport import TransportFactory
from eureka_embed.client.urllib3_transport import urllib3_transports
from eureka_embed.errors import TransportError
from eureka_embed.events import WriteAction
from eureka_embed.model import InstanceInfo
from eureka_embed.registry import Registry
from eureka_embed.replication.peer_client import PeerEurekaHttpClient, describe_status
from eureka_embed.replication.settings import ReplicationSettings
from eureka_embed.replication.task_queue import ReplicationTask, TaskQueue
from eureka_embed.replication.wire import ItemResult, ReplicationItem

__all__ = ["PeerNode", "PeerStatus"]

log = logging.getLogger(__name__)

#: Actions whose 404 means "the peer lacks the instance": our Register repairs that.
_REPAIRED_BY_REGISTER = frozenset(
    {WriteAction.HEARTBEAT, WriteAction.STATUS_UPDATE, WriteAction.DELETE_STATUS_OVERRIDE}
)


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """What the status page, the dashboard and ``/metrics`` show about one peer."""

    url: str
    #: None until the first exchange.
    reachable: bool | None
    #: Epoch ms of the last batch the peer answered 2xx.
    last_success_ms: int | None
    last_error: str | None
    queue_length: int
    #: Tasks given up unsent: the queue was full or they grew too old.
    dropped: int
    #: Tasks the peer refused for good (a permanent error, or its own error for the item).
    failed: int
    batches_sent: int
    items_sent: int
    retries: int

    def to_dict(self) -> dict[str, Any]:
        """The ``peers_status`` mapping: camelCase like the rest of ``GET status``."""
        status = "UNKNOWN" if self.reachable is None else "UP" if self.reachable else "DOWN"
        tree: dict[str, Any] = {"url": self.url, "status": status}
        if self.reachable is not None:
            tree["reachable"] = self.reachable
        if self.last_success_ms is not None:
            tree["lastSuccessAt"] = self.last_success_ms
        if self.last_error is not None:
            tree["lastError"] = self.last_error
        tree.update(
            queueLength=self.queue_length,
            dropped=self.dropped,
            failed=self.failed,
            batchesSent=self.batches_sent,
            itemsSent=self.items_sent,
            retries=self.retries,
        )
        return tree


class PeerNode:
    """Replicates to the peer at ``endpoint`` from one thread; :meth:`enqueue` from any.

    It talks to the peer through a :class:`PeerEurekaHttpClient` over a transport made by
    ``transport_factory`` (by default a urllib3 pool with the peer time-outs), and closes it on
    :meth:`stop`. ``on_back`` is called (from the sender thread) when the peer answers again
    after failing: the replicator reconciles with it then.
    """

    def __init__(
        self,
        endpoint: EurekaEndpoint,
        registry: Registry,
        *,
        settings: ReplicationSettings | None = None,
        transport_factory: TransportFactory | None = None,
        on_back: Callable[[PeerNode], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._on_back = on_back
        self.settings = settings = settings if settings is not None else ReplicationSettings()
        self._registry = registry
        self.queue = TaskQueue(
            capacity=settings.queue_capacity,
            max_batch=settings.max_batch,
            max_delay_s=settings.max_batch_delay_s,
            max_age_s=settings.max_task_age_s,
        )
        new_transport = transport_factory or urllib3_transports(
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            max_connections_per_host=2,
            ca_file=settings.ca_file,
            cert_file=settings.client_cert,
            key_file=settings.client_key,
        )
        #: The peer's REST API; the start-up copy reads the registry through it too.
        self.client = PeerEurekaHttpClient(endpoint, new_transport(endpoint), clock=registry.clock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures_in_a_row = 0
        # Written by the sender thread only; read by anyone (single values, GIL-atomic).
        self.reachable: bool | None = None
        self.last_success_ms: int | None = None
        self.last_error: str | None = None
        self.failed = 0
        self.batches_sent = 0
        self.items_sent = 0
        self.retries = 0
        self.adopted = 0

    @property
    def url(self) -> str:
        return self.endpoint.url

    def __repr__(self) -> str:
        return f"PeerNode({self.url!r})"

    def enqueue(self, item: ReplicationItem) -> None:
        self.queue.put(item)

    def status(self) -> PeerStatus:
        return PeerStatus(
            url=self.url,
            reachable=self.reachable,
            last_success_ms=self.last_success_ms,
            last_error=self.last_error,
            queue_length=len(self.queue),
            dropped=self.queue.dropped,
            failed=self.failed,
            batches_sent=self.batches_sent,
            items_sent=self.items_sent,
            retries=self.retries,
        )

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self!r} already started")
        self._thread = threading.Thread(
            target=self._run, name=f"eureka-embed-replication {self.url}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the sender after a short best-effort flush, then close the client."""
        self._stop.set()
        self.queue.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            # A send in flight may take the whole read time-out; the flush adds its own bound.
            timeout = self.settings.connect_timeout_s + self.settings.read_timeout_s
            thread.join(timeout + self.settings.stop_flush_s + 1.0)
            if thread.is_alive():
                log.warning("replication sender for %s did not stop in time", self.url)
        self.client.shutdown()

    def _run(self) -> None:
        while True:
            # An unreachable peer is probed again as soon as the retry wait is over: the first
            # answer after a partition is what starts the reconciliation with it.
            idle_s = self.settings.probe_interval_s if self.reachable is not False else 0.0
            tasks = self.queue.next_batch(idle_s)
            if self._stop.is_set():
                self._flush(tasks)
                return
            # An empty batch (nothing happened for a probe interval) checks the peer is there.
            retry_after = self.deliver(tasks)
            if retry_after is not None:
                self._stop.wait(retry_after)

    def _flush(self, tasks: list[ReplicationTask]) -> None:
        """Send what is pending once, while the peer answers and the flush time lasts."""
        deadline = time.monotonic() + self.settings.stop_flush_s
        while tasks and self.reachable is not False and time.monotonic() < deadline:
            self.deliver(tasks)
            tasks = self.queue.take_ready(flush=True) or []

    # ------------------------------------------------------------------ one exchange

    def deliver(self, tasks: Sequence[ReplicationTask]) -> float | None:
        """Send ``tasks`` as one batch and act on the answer.

        Returns how long to wait before the next send when the peer is busy or unreachable
        (the tasks are back in the queue then), else None.
        """
        try:
            response = self.client.submit_batch([task.item for task in tasks])
        except InvalidResponse as exc:
            self._permanent_failure(tasks, str(exc))
            return None
        except ReadTimeout as exc:
            return self._retry_later(tasks, str(exc), self.settings.busy_retry_s)
        except TransportError as exc:
            return self._retry_later(tasks, str(exc), self.settings.network_retry_s)
        if response.status == 503:
            return self._retry_later(
                tasks, "HTTP 503 (busy)", self.settings.busy_retry_s, answered=True
            )
        if not response.ok or response.entity is None:
            self._permanent_failure(tasks, describe_status(response.status))
            return None
        return self._delivered(tasks, response.entity)

    def _delivered(
        self, tasks: Sequence[ReplicationTask], results: Sequence[ItemResult]
    ) -> float | None:
        self._failures_in_a_row = 0
        self._mark_reachable(None)
        self.last_success_ms = self._registry.clock.now_ms()
        if not tasks:
            return None
        self.batches_sent += 1
        self.items_sent += len(tasks)
        if len(results) != len(tasks):
            log.warning(
                "%s answered %d results to a batch of %d; not reading them",
                self.url,
                len(results),
                len(tasks),
            )
            return None
        busy = []
        for task, result in zip(tasks, results, strict=True):
            if result.status_code == 503:
                busy.append(task)
            else:
                self._settle(task.item, result)
        if busy:
            self.queue.requeue(busy)
            self.retries += len(busy)
            return self.settings.busy_retry_s
        return None

    def _settle(self, item: ReplicationItem, result: ItemResult) -> None:
        """Act on one item's outcome."""
        code = result.status_code
        if result.ok:
            return
        if code == 404 and item.action is WriteAction.CANCEL:
            return  # already gone there: the cancel's goal holds
        if code == 404 and item.action in _REPAIRED_BY_REGISTER:
            local = self._registry.get_instance(item.app, item.instance_id)
            if local is not None:
                self.enqueue(ReplicationItem.register(local))
            return
        if code == 409 and item.action is WriteAction.HEARTBEAT and result.entity is not None:
            self._adopt(item, result.entity)
            return
        self.failed += 1
        log.warning(
            "%s refused replicated %s of %s/%s with %d",
            self.url,
            item.action,
            item.app,
            item.instance_id,
            code,
        )

    def _adopt(self, item: ReplicationItem, theirs: InstanceInfo) -> None:
        """The peer holds a newer copy: take it, as a replication so it does not come back."""
        if theirs.app.upper() != item.app or theirs.instance_id != item.instance_id:
            log.warning("%s answered a conflict with another instance; ignored", self.url)
            return
        ours = self._registry.get_instance(item.app, item.instance_id)
        # Gone here (cancelled or expired since): the peer's copy must not resurrect it.
        if ours is not None and theirs.last_dirty_timestamp > ours.last_dirty_timestamp:
            self._registry.register(theirs, replication=True)
            self.adopted += 1

    def _retry_later(
        self,
        tasks: Sequence[ReplicationTask],
        error: str,
        base_s: float,
        *,
        answered: bool = False,
    ) -> float:
        """Put ``tasks`` back and say how long to wait; ``answered``: the peer is up but busy."""
        self._failures_in_a_row += 1
        if answered:
            self._mark_reachable(None)
            self.last_error = error
        else:
            self._mark_reachable(error)
        self.queue.requeue(tasks)
        if tasks:
            self.retries += len(tasks)
        delay: float = base_s * 2 ** min(self._failures_in_a_row - 1, 16)
        return min(delay, self.settings.max_retry_s)

    def _permanent_failure(self, tasks: Sequence[ReplicationTask], error: str) -> None:
        self._failures_in_a_row = 0
        self._mark_reachable(None)
        self.failed += len(tasks)
        self.last_error = error
        log.error(
            "%s refused a replication batch (%s); dropped %d tasks", self.url, error, len(tasks)
        )

    def _mark_reachable(self, error: str | None) -> None:
        """Record the peer's state; log only when it changes, not on every retry."""
        reachable = error is None
        if reachable and self.reachable is False:
            log.info("peer %s is reachable again", self.url)
            if self._on_back is not None:
                # Tasks older than max_task_age_s were dropped meanwhile: what they carried
                # must come from a reconciliation, not from leases running out.
                self._on_back(self)
        elif not reachable and self.reachable is not False:
            log.warning("peer %s is unreachable, retrying: %s", self.url, error)
        self.reachable = reachable
        if error is not None:
            self.last_error = error
