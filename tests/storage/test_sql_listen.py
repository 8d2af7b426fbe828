"""PostgreSQL LISTEN/NOTIFY between SqlStores sharing one database (storage/sql_listen.py).

The stores here poll the change log only once a minute, so a waiter that wakes within seconds
was woken by a notification (or by the catch-up a listener runs when it reconnects).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from eureka_embed.errors import InvalidInput
from eureka_embed.registry import Registry
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlSync, SqlTimeouts, create_store_engine, sync_of
from eureka_embed.storage.sql_listen import Announcer, ChangeListener, channel_name, find_channel
from tests.databases import FlakyDatabase, server_database_url
from tests.registry.helpers import instance
from tests.server.support import wait_for
from tests.storage.freezing_proxy import freezing_proxy

#: Long enough that only a notification explains a prompt wake.
NO_POLL = 60.0
#: Generous: a wake is expected in milliseconds; this only bounds a failing test.
WAKE_TIMEOUT = 10.0

LISTENER_THREAD = "eureka-sql-listener"


@pytest.fixture
def pg_url() -> str:
    url = server_database_url("postgresql")
    engine = sa.create_engine(url)
    try:
        from eureka_embed.storage import migrate

        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def open_store(pg_url: str) -> Iterator[Callable[..., SqlStore]]:
    made: list[SqlStore] = []

    def factory(target: str | sa.Engine | None = None, **options: Any) -> SqlStore:
        options.setdefault("sync_interval", NO_POLL)
        store = SqlStore(pg_url if target is None else target, **options)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


def listening(store: SqlStore) -> int:
    """Wait until ``store`` LISTENs; its listener's backend pid."""
    listener = store._listener
    assert listener is not None, "the store runs no listener"
    pid = wait_for(lambda: listener.backend_pid, timeout=WAKE_TIMEOUT, what="the listener")
    return int(pid)


def shows(store: SqlStore, instance_id: str) -> bool:
    return any(r.instance_id == instance_id for r in store.snapshot().records)


def terminate(url: str, pid: int) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.pg_terminate_backend(pid))).scalar() is True
    finally:
        engine.dispose()


def listener_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == LISTENER_THREAD]


def test_a_write_through_one_store_wakes_a_waiter_on_the_other(
    open_store: Callable[..., SqlStore],
) -> None:
    node_a, node_b = open_store(), open_store()
    listening(node_b)
    registry_a = Registry(node_a)
    for n in range(50):
        seen = node_b.latest_sequence()
        registry_a.register(instance(n))
        woke = node_b.wait_for_change(seen, timeout=WAKE_TIMEOUT)
        assert woke > seen, f"write {n} did not wake the other store"
        assert shows(node_b, instance(n).instance_id)  # its snapshot has the write
    assert node_b.latest_sequence() == node_a.latest_sequence()


def test_a_write_wakes_every_waiter_of_the_other_store(
    open_store: Callable[..., SqlStore],
) -> None:
    node_a, node_b = open_store(), open_store()
    listening(node_b)
    seen = node_b.latest_sequence()
    woken: list[int] = []
    waiters = [
        threading.Thread(target=lambda: woken.append(node_b.wait_for_change(seen, WAKE_TIMEOUT)))
        for _ in range(5)
    ]
    for waiter in waiters:
        waiter.start()
    Registry(node_a).register(instance(1))
    for waiter in waiters:
        waiter.join(WAKE_TIMEOUT + 5)
    assert len(woken) == 5
    assert all(sequence > seen for sequence in woken)


def test_a_killed_listener_reconnects_and_catches_up_on_what_it_missed(
    pg_url: str, open_store: Callable[..., SqlStore]
) -> None:
    flaky = FlakyDatabase(pg_url)
    try:
        node_a, node_b = open_store(), open_store(flaky.engine)
        pid = listening(node_b)
        registry_a = Registry(node_a)

        flaky.down = True  # the listener cannot come back yet
        terminate(pg_url, pid)
        wait_for(lambda: node_b._listener and node_b._listener.backend_pid is None, what="loss")
        seen = node_b.latest_sequence()
        registry_a.register(instance(1))  # sent while nobody of node b listens
        assert node_b.wait_for_change(seen, timeout=0.5) == seen  # so node b cannot know yet

        flaky.down = False
        assert node_b.wait_for_change(seen, timeout=WAKE_TIMEOUT) > seen  # caught up on return
        assert shows(node_b, instance(1).instance_id)
        assert listening(node_b) != pid

        seen = node_b.latest_sequence()
        registry_a.register(instance(2))  # and notifications wake it again
        assert node_b.wait_for_change(seen, timeout=WAKE_TIMEOUT) > seen
        assert shows(node_b, instance(2).instance_id)
        node_b.close()
    finally:
        flaky.dispose()


def test_a_terminated_listener_connection_is_replaced_and_wakes_again(
    pg_url: str, open_store: Callable[..., SqlStore]
) -> None:
    node_a, node_b = open_store(), open_store()
    pid = listening(node_b)
    registry_a = Registry(node_a)
    seen = node_b.latest_sequence()
    terminate(pg_url, pid)
    registry_a.register(instance(1))  # during the gap or after it: it arrives either way
    assert node_b.wait_for_change(seen, timeout=WAKE_TIMEOUT) > seen
    wait_for(lambda: shows(node_b, instance(1).instance_id), timeout=WAKE_TIMEOUT, what="i1")
    new_pid = listening(node_b)
    assert new_pid != pid
    seen = node_b.latest_sequence()
    registry_a.register(instance(2))
    assert node_b.wait_for_change(seen, timeout=WAKE_TIMEOUT) > seen
    assert shows(node_b, instance(2).instance_id)


def test_a_listener_behind_a_stalled_path_notices_and_reconnects_once_it_flows(
    pg_url: str, open_store: Callable[..., SqlStore]
) -> None:
    """A path that swallows bytes without closing anything: only the listener's ping notices."""
    url = sa.make_url(pg_url)
    assert url.host is not None
    with freezing_proxy((url.host, url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).update_query_dict(
            {"connect_timeout": "2", "statement_timeout": "1"}
        )
        node_a = open_store()
        node_b = open_store(proxied.render_as_string(hide_password=False), listen=False)
        assert node_b._announcer is not None
        listener = ChangeListener(
            node_b.engine,
            node_b._announcer,
            SqlTimeouts(connect=2, statement=1),
            latest=node_b.latest_sequence,
            catch_up=node_b._sync_changes,
            ping_after_s=0.2,
        )
        listener.start()
        try:
            pid = wait_for(lambda: listener.backend_pid, what="the listener")
            proxy.freeze()
            seen = node_b.latest_sequence()
            Registry(node_a).register(instance(1))  # its notification is stuck in the proxy
            wait_for(lambda: listener.backend_pid is None, what="the ping to fail")
            proxy.resume()
            assert node_b.wait_for_change(seen, timeout=WAKE_TIMEOUT) > seen
            assert shows(node_b, instance(1).instance_id)
            assert wait_for(lambda: listener.backend_pid, what="a new connection") != pid
        finally:
            proxy.resume()
            listener.stop()


def test_close_stops_a_listening_store_promptly(open_store: Callable[..., SqlStore]) -> None:
    store = open_store()
    listening(store)
    assert listener_threads()
    started = time.monotonic()
    store.close()
    assert time.monotonic() - started < 2.0
    assert not listener_threads()


def test_close_stops_a_listener_waiting_to_reconnect_promptly(
    pg_url: str, open_store: Callable[..., SqlStore]
) -> None:
    flaky = FlakyDatabase(pg_url)
    try:
        store = open_store(flaky.engine)
        pid = listening(store)
        flaky.down = True
        terminate(pg_url, pid)
        wait_for(lambda: store._listener and store._listener.backend_pid is None, what="loss")
        time.sleep(1.0)  # several refused attempts: it is backing off now
        started = time.monotonic()
        store.close()
        assert time.monotonic() - started < 2.0
        assert not listener_threads()
    finally:
        flaky.dispose()


def test_listen_false_in_the_url_leaves_only_the_poll(
    pg_url: str, open_store: Callable[..., SqlStore]
) -> None:
    node_a = open_store(listen=False)  # the argument, like the URL option
    polling_only = open_store(f"{pg_url}?listen=false")
    polling_fast = open_store(f"{pg_url}?listen=false&sync_interval=0.2", sync_interval=None)
    assert not listener_threads()
    seen = polling_only.latest_sequence()
    Registry(node_a).register(instance(1))
    assert polling_fast.wait_for_change(seen, timeout=WAKE_TIMEOUT) > seen  # the poll
    assert polling_only.wait_for_change(seen, timeout=1.0) == seen  # no notification came


def test_a_store_does_not_catch_up_on_its_own_notifications(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store()
    listening(store)
    catch_ups: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # A catch-up starts by reading the head of the log; a write locks it FOR UPDATE.
        if "FROM eureka_sequence" in statement and "FOR UPDATE" not in statement:
            catch_ups.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    registry = Registry(store)
    for n in range(10):
        registry.register(instance(n))
    # A marker written through another connection: once the listener has caught up on it,
    # it has handled every notification sent before, its own ones included.
    other = open_store(listen=False)
    Registry(other).register(instance("marker"))
    wait_for(lambda: shows(store, instance("marker").instance_id), what="the marker")
    assert len(catch_ups) == 1  # the marker's, none for the store's own writes


def test_own_writes_and_old_news_ask_for_no_catch_up() -> None:
    mine = Announcer("eureka_embed.public")
    other = Announcer(mine.channel)
    assert not mine.is_news(f"8 {mine.token}", latest=3)  # applied when it was written
    assert mine.is_news(f"8 {other.token}", latest=7)
    assert not mine.is_news(f"8 {other.token}", latest=8)  # caught up already
    assert mine.is_news("garbled", latest=8)  # unreadable: catching up is safe


def test_registries_in_two_schemas_use_two_channels(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS listen_other CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA listen_other")
            public = find_channel(conn)
            conn.exec_driver_sql("CREATE TABLE listen_other.eureka_sequence (x int)")
            conn.exec_driver_sql("SET LOCAL search_path = listen_other, public")
            other = find_channel(conn)
            conn.exec_driver_sql("DROP SCHEMA listen_other CASCADE")
    finally:
        engine.dispose()
    assert (public, other) == ("eureka_embed.public", "eureka_embed.listen_other")
    long_name = channel_name("s" * 80)
    assert len(long_name.encode()) <= 63
    assert long_name != channel_name("s" * 81)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", SqlSync()),
        ("?listen=false", SqlSync(listen=False)),
        ("?listen=TRUE&sync_interval=2.5", SqlSync(interval=2.5, listen=True)),
    ],
)
def test_sync_options_are_read_from_the_url_and_hidden_from_the_driver(
    query: str, expected: SqlSync
) -> None:
    engine = create_store_engine(f"sqlite://{query}")
    try:
        assert sync_of(engine) == expected
        assert "listen" not in engine.url.query
        assert "sync_interval" not in engine.url.query
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("?listen=maybe", "listen='maybe' is not true or false"),
        ("?sync_interval=soon", "sync_interval='soon' is not a number of seconds"),
        ("?sync_interval=0", "sync interval must be a number of seconds > 0"),
    ],
)
def test_bad_sync_options_are_refused_with_a_reason(query: str, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        create_store_engine(f"sqlite://{query}")
