"""SqlStore: the Store contract over SQLAlchemy Core (SQLite, PostgreSQL, MariaDB).

How it keeps the contract:

- **Atomic read-modify-write.** A write transaction first locks the single row of
  ``eureka_sequence`` (``SELECT ... FOR UPDATE``; on SQLite, ``BEGIN IMMEDIATE``), then the
  lease row. Writers, whether threads or nodes sharing the database, queue on that lock, so no
  update is lost and change sequence numbers commit in order.
- **Group commit on SQLite.** Concurrent writes of one process share one transaction per
  batch (:mod:`~eureka_embed.storage.sql_group`), in arrival order, each function seeing the
  writes before it; each is answered after its batch's commit, and a failed commit fails
  them all with nothing applied. Server databases keep one transaction per write, side by
  side on their own connections.
- **Reads from memory.** Every node keeps all leases and the recent change log in memory and
  catches up with the database from the change log (and, for renewals made through other
  nodes, from the ``last_renewal_ms`` column) every ``sync_interval`` seconds, and at once
  after its own writes. A catch-up reads the log and the rows it names in one snapshot
  (REPEATABLE READ) and applies them in one step, so the records in memory are always those
  after exactly the changes up to the sequence in memory: a delta and the registry's hashcode
  agree on every node. Heartbeats, lookups and deltas never wait for the database; while it
  is down, reads keep answering from memory and writes raise :class:`StorageUnavailable`.
- **Other nodes' writes at once, on PostgreSQL.** Every logged change also sends a ``NOTIFY``,
  and a listener thread catches up as soon as another node's arrives
  (:mod:`~eureka_embed.storage.sql_listen`); the poll above stays as the fallback.
- **Batched renewals.** :meth:`SqlStore.renew` only touches memory; a background thread
  writes the renewals of the last interval in one statement (and :meth:`close` writes the
  rest). A renewal is never lost to a failed flush: it is kept for the next one.
- **Connection loss.** A unit of work that fails on a lost connection (a database restart
  kills the pooled ones) is retried once on a fresh one, then reported as StorageUnavailable.
- **A database that does not answer.** Every call has a time-out (:class:`SqlTimeouts`); a
  write that runs into one answers StorageUnavailable and is not applied, and further writes
  fail at once until a read or the background thread reaches the database again
  (:mod:`~eureka_embed.storage.sql_health`), so no worker thread waits on a dead database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa

from eureka_embed.codec import instance_from_dict, instance_to_dict
from eureka_embed.codec.bulk import collection_paused
from eureka_embed.codec.readers import resolve_now
from eureka_embed.errors import StorageError, StorageUnavailable
from eureka_embed.model import ActionType, InstanceInfo, InstanceStatus
from eureka_embed.storage import migrate, sql_listen
from eureka_embed.storage.base import Change, LeaseRecord, Write
from eureka_embed.storage.record_index import IndexedStore, RecordIndex
from eureka_embed.storage.sql_deadline import Deadline, watch_statements, watcher
from eureka_embed.storage.sql_direct import DirectStatements
from eureka_embed.storage.sql_engine import (
    WRITE_OPTION,
    SqlTimeouts,
    create_store_engine,
    sync_of,
    timeouts_of,
)
from eureka_embed.storage.sql_group import GroupCommit, Queued
from eureka_embed.storage.sql_health import DatabaseHealth
from eureka_embed.storage.sql_schema import SEQUENCE_NAME, changes, leases, renewals, sequence

__all__ = ["SqlStore"]

#: PostgreSQL and MariaDB: the next (this) transaction reads one snapshot.
_SNAPSHOT_READ = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str]

#: Renewals read from other nodes are re-read this far back, to cover their flush delay.
_RENEWAL_OVERLAP_MS = 5_000
#: How often the background thread reads renewals written by other nodes, in seconds.
_RENEWAL_SYNC_S = 2.0
#: How often a write is retried when the database reports a deadlock or lock time-out.
_LOCK_RETRIES = 5


# Built once: constructing a statement costs more than running it on SQLite.
_APP: sa.BindParameter[str] = sa.bindparam("b_app")
_ID: sa.BindParameter[str] = sa.bindparam("b_id")
_SEQ_VALUE = sa.bindparam("b_seq", type_=sa.BigInteger)
_RENEWAL = sa.bindparam("b_ts", type_=sa.BigInteger)
_THIS_LEASE = (leases.c.app == _APP, leases.c.instance_id == _ID)
_THIS_RENEWAL = (renewals.c.app == _APP, renewals.c.instance_id == _ID)
_LOCK_SEQUENCE = (
    sa.select(sequence.c.value).where(sequence.c.name == SEQUENCE_NAME).with_for_update()
)
_READ_SEQUENCE = sa.select(sequence.c.value).where(sequence.c.name == SEQUENCE_NAME)
_SET_SEQUENCE = sa.update(sequence).where(sequence.c.name == SEQUENCE_NAME).values(value=_SEQ_VALUE)
_LEASE_COLUMNS = (*leases.c, renewals.c.last_renewal_ms)
_JOINED = leases.join(
    renewals,
    sa.and_(leases.c.app == renewals.c.app, leases.c.instance_id == renewals.c.instance_id),
)
_SELECT_LEASES = sa.select(*_LEASE_COLUMNS).select_from(_JOINED)
_LOCK_LEASE = sa.select(leases).where(*_THIS_LEASE).with_for_update()
_READ_RENEWAL = sa.select(renewals.c.last_renewal_ms).where(*_THIS_RENEWAL)
_DELETE_LEASE = sa.delete(leases).where(*_THIS_LEASE)
_DELETE_RENEWAL = sa.delete(renewals).where(*_THIS_RENEWAL)
_UPDATE_LEASE = sa.update(leases).where(*_THIS_LEASE)
_INSERT_LEASE = sa.insert(leases)
_INSERT_RENEWAL = sa.insert(renewals)
_INSERT_CHANGE = sa.insert(changes)
_SELECT_CHANGES = sa.select(changes).order_by(changes.c.seq)
#: The statements of one write (a registration, a cancel, a status change), run directly on
#: SQLite's cursor (sql_direct): they were most of a registration's CPU through SQLAlchemy.
_DIRECT = (
    _LOCK_SEQUENCE,
    _SET_SEQUENCE,
    _LOCK_LEASE,
    _READ_RENEWAL,
    _DELETE_LEASE,
    _DELETE_RENEWAL,
    _UPDATE_LEASE,
    _INSERT_LEASE,
    _INSERT_RENEWAL,
    _INSERT_CHANGE,
)
# A reload reads only what its records and changes are made of, in this order: every column
# more is a Python object more per row, made and dropped.
_LOAD_LEASES = sa.select(
    leases.c.instance, leases.c.override, leases.c.duration_ms, renewals.c.last_renewal_ms
).select_from(_JOINED)
_LOAD_CHANGES = sa.select(
    changes.c.seq, changes.c.timestamp_ms, changes.c.action, changes.c.instance
).order_by(changes.c.seq)


def _renewal_statement(dialect: str) -> sa.Update:
    """Renewals only move forward, whichever node writes last."""
    greatest = sa.func.max if dialect == "sqlite" else sa.func.greatest  # scalar max on SQLite
    return (
        sa.update(renewals)
        .where(*_THIS_RENEWAL)
        .values(last_renewal_ms=greatest(renewals.c.last_renewal_ms, _RENEWAL))
    )


#: Writes sharing one SQLite transaction at most: a batch holds the database for its writers.
_MAX_BATCH = 128


@dataclasses.dataclass(frozen=True, slots=True)
class _Unit:
    """A write for the group commit: its statements, and what to do in memory once committed."""

    run: Callable[[sa.Connection], Any]
    apply: Callable[[Any], None]


class _UnitFailed(Exception):
    """One unit of a batch failed by itself; the batch is rolled back and run without it."""

    def __init__(self, position: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.position = position
        self.error = error


#: Rows per joined UPDATE on server databases (three parameters each).
_FLUSH_CHUNK = 500


class _RenewalFlush:
    """Writes a batch of renewals in the way each database takes fastest.

    Going through SQLAlchemy's per-row parameter handling costs more than the database's work,
    so the driver gets plain tuples. SQLite and PostgreSQL take one executemany (SQLite is
    in-process; psycopg pipelines the statements). pymysql sends an UPDATE executemany as one
    statement per row and waits for each answer, so MariaDB gets one UPDATE joined with the
    batch's rows per chunk instead.
    """

    def __init__(self, dialect: sa.Dialect) -> None:
        self._joined = dialect.name in ("mysql", "mariadb")
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        greatest = "max" if dialect.name == "sqlite" else "GREATEST"  # scalar max on SQLite
        self._per_row = (
            f"UPDATE {renewals.name} SET last_renewal_ms = {greatest}(last_renewal_ms, {mark}) "
            f"WHERE app = {mark} AND instance_id = {mark}"
        )

    def __call__(self, conn: sa.Connection, rows: list[tuple[str, str, int]]) -> None:
        if not self._joined:
            conn.exec_driver_sql(self._per_row, [(ts, app, iid) for app, iid, ts in rows])
            return
        for start in range(0, len(rows), _FLUSH_CHUNK):
            chunk = rows[start : start + _FLUSH_CHUNK]
            conn.exec_driver_sql(_joined_update(len(chunk)), tuple(v for row in chunk for v in row))


def _joined_update(rows: int) -> str:
    """MariaDB: one UPDATE for ``rows`` renewals, joined with them as a derived table."""
    first = "SELECT %s AS app, %s AS instance_id, %s AS ts"
    values = " UNION ALL ".join([first] + ["SELECT %s, %s, %s"] * (rows - 1))
    return (
        f"UPDATE {renewals.name} AS r JOIN ({values}) AS v "
        "ON r.app = v.app AND r.instance_id = v.instance_id "
        "SET r.last_renewal_ms = GREATEST(r.last_renewal_ms, v.ts)"
    )


def _dump_instance(instance: InstanceInfo) -> str:
    return orjson.dumps(instance_to_dict(instance)).decode()


def _load_instance(
    text: str, decoded: dict[str, InstanceInfo] | None = None, now_ms: int | None = None
) -> InstanceInfo:
    """The instance stored as ``text``; ``decoded`` shares one object per distinct text.

    In memory a lease and the change that wrote it hold the same instance object; rows read
    back hold the same text twice. Sharing what was decoded keeps a reloaded store as lean as
    the one that wrote it, and decodes each distinct instance once (decoding dominates a load).
    ``now_ms`` stands in for a missing lastDirtyTimestamp (one value for a whole read, as the
    codec does for a payload; by default the clock's now).
    """
    if decoded is None:
        return instance_from_dict(orjson.loads(text), now_ms=now_ms, registration=False)
    instance = decoded.get(text)
    if instance is None:
        instance = decoded[text] = instance_from_dict(
            orjson.loads(text), now_ms=now_ms, registration=False
        )
    return instance


def _record_from_row(
    row: sa.Row[Any],
    last_renewal_ms: int | None = None,
    decoded: dict[str, InstanceInfo] | None = None,
) -> LeaseRecord:
    override = row.override
    return LeaseRecord(
        instance=_load_instance(row.instance, decoded),
        duration_ms=row.duration_ms,
        last_renewal_ms=row.last_renewal_ms if last_renewal_ms is None else last_renewal_ms,
        override=_OVERRIDES[override] if override else None,
    )


def _change_from_row(row: sa.Row[Any], decoded: dict[str, InstanceInfo] | None = None) -> Change:
    instance = _load_instance(row.instance, decoded)
    return Change(row.seq, row.timestamp_ms, _ACTIONS[row.action], instance)


#: Enum members by stored value: a dict lookup is several times cheaper than the Enum call.
_OVERRIDES = {status.value: status for status in InstanceStatus}
_ACTIONS = {action.value: action for action in ActionType}


def _first_line(exc: sa.exc.DBAPIError) -> str:
    """The driver's message without its hints and background links, for a one-line error."""
    return str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__


def _has(exc: sa.exc.DBAPIError, markers: tuple[str, ...]) -> bool:
    text = str(exc.orig).lower()
    return any(marker in text for marker in markers)


#: A conflict the database resolved at once by failing one side: worth trying again.
_LOCK_CONFLICTS = ("deadlock", "could not serialize", "database is locked")
#: The client gave up waiting (psycopg's connect, pymysql's socket time-outs).
_CLIENT_TIMEOUTS = ("timed out", "timeout expired")
#: The database answered that a statement or lock wait ran out of time: it is alive but busy.
_SERVER_TIMEOUTS = ("statement timeout", "lock timeout", "lock wait timeout", "max_statement_time")


class SqlStore(IndexedStore):
    """Leases and the change log in a SQL database; see the module docstring.

    ``target`` is a SQLAlchemy URL (the store creates, and on close disposes, its engine) or
    an existing Engine (left for its owner to dispose). The schema must be current: pass
    ``migrate=True`` to upgrade it here, or run ``eureka-embed db upgrade`` first.
    ``background=False`` leaves flushing and syncing to explicit :meth:`flush` and
    :meth:`sync` calls (for tests that need determinism). ``timeouts`` bound every wait on the
    database (by default the URL's ``connect_timeout``, ``statement_timeout`` and
    ``lock_timeout`` options, else :class:`SqlTimeouts`' defaults). ``sync_interval`` and
    ``listen`` (PostgreSQL: wake at once on other nodes' writes, :mod:`.sql_listen`) default to
    the URL's options of :class:`~eureka_embed.storage.sql_engine.SqlSync`.
    """

    def __init__(
        self,
        target: str | sa.URL | sa.Engine,
        *,
        migrate_schema: bool = False,
        sync_interval: float | None = None,
        background: bool = True,
        timeouts: SqlTimeouts | None = None,
        listen: bool | None = None,
    ) -> None:
        super().__init__()
        self._owns_engine = not isinstance(target, sa.Engine)
        self.engine: sa.Engine = (
            target
            if isinstance(target, sa.Engine)
            else create_store_engine(target, timeouts=timeouts)
        )
        self._timeouts = timeouts_of(self.engine) if timeouts is None else timeouts
        sync = sync_of(self.engine)
        sync_interval = sync.interval if sync_interval is None else sync_interval
        listen = sync.listen if listen is None else listen
        self._health = DatabaseHealth(log)
        self._worker: threading.Thread | None = None
        watch_statements(self.engine)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._renew_one = _renewal_statement(self.engine.dialect.name)
        self._flush_renewals = _RenewalFlush(self.engine.dialect)
        # SQLite: the write path's statements skip SQLAlchemy's per-call machinery (sql_direct).
        self._direct = (
            DirectStatements(self.engine.dialect, (*_DIRECT, self._renew_one))
            if self._sqlite
            else None
        )
        # SQLite has one writer at a time anyway; queueing here keeps threads of this process
        # from spinning on the database's busy lock (and shares one in-memory connection).
        self._db_lock = threading.RLock() if self._sqlite else None
        # SQLite: concurrent writes of this process share one transaction each batch (see
        # sql_group). Server databases run writers side by side on their own connections,
        # and there a shared transaction would hold every row lock of the batch (and the
        # sequence row that the other nodes queue on) for the whole batch.
        self._group: GroupCommit[_Unit] | None = (
            GroupCommit(self._write_batch, max_batch=_MAX_BATCH) if self._sqlite else None
        )
        # Catching up reads one consistent snapshot of the log and the rows it names; SQLite
        # transactions are snapshots already. Said as the transaction's first statement, not
        # as a connection option: setting an option on a connection the database dropped
        # fails outside SQLAlchemy's error handling, so the lost connection would not be
        # recognised and retried.
        self._snapshot_reads = not self._sqlite
        # One catch-up at a time: two applying reads of different ages could go backwards.
        self._sync_lock = threading.Lock()
        self._renewal_watermark = 0
        self._dirty: dict[Key, int] = {}
        self._dirty_lock = threading.Lock()
        self._closed = False
        self._announcer: sql_listen.Announcer | None = None
        self._listener: sql_listen.ChangeListener | None = None
        try:
            self._check_schema(migrate_schema)
            self._reload()
            if self.engine.dialect.name == "postgresql":
                self._announcer = sql_listen.Announcer(
                    self._run(sql_listen.find_channel, write=False)
                )
        except BaseException:
            self._dispose()
            raise
        self._stop = threading.Event()
        if background:
            self._worker = threading.Thread(
                target=self._background, args=(sync_interval,), name="eureka-sql-store", daemon=True
            )
            self._worker.start()
            if listen and self._announcer is not None:
                self._listener = sql_listen.start_listener(
                    self.engine,
                    self._announcer,
                    self._timeouts,
                    latest=self.latest_sequence,
                    catch_up=self._sync_changes,
                )

    def _check_schema(self, upgrade: bool) -> None:
        shown = self.engine.url.render_as_string()  # the password stays hidden
        try:
            if upgrade:
                migrate.upgrade(self.engine)
            elif not migrate.is_up_to_date(self.engine):
                raise StorageError(
                    f"the database schema of {shown} is not current; run: "
                    "eureka-embed db upgrade --store URL (or serve with --auto-migrate)"
                )
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            reason = f"the database {shown} cannot be reached: {_first_line(exc)}"
            raise StorageUnavailable(reason) from exc

    # ------------------------------------------------------------------ database access

    @contextlib.contextmanager
    def _transaction(self, *, write: bool, deadline: Deadline) -> Iterator[sa.Connection]:
        with self._locked_database(), self.engine.connect() as connection:
            with watcher.watch(connection, deadline):
                conn = connection.execution_options(**{WRITE_OPTION: write})
                with conn.begin():
                    if self._snapshot_reads and not write:
                        conn.exec_driver_sql(_SNAPSHOT_READ)
                    yield conn if self._direct is None else self._direct.connection(conn)
            if deadline.fired:  # cut off just as it finished: never pool the dead socket
                connection.invalidate()

    @contextlib.contextmanager
    def _locked_database(self) -> Iterator[None]:
        if self._db_lock is None:
            yield
            return
        if not self._db_lock.acquire(timeout=self._timeouts.lock):
            raise StorageUnavailable(
                f"the database is busy: no turn to use it within {self._timeouts.lock:g} s"
            )
        try:
            yield
        finally:
            self._db_lock.release()

    def _run(self, unit: Callable[[sa.Connection], T], *, write: bool) -> T:
        """Run ``unit`` in one transaction; retry lost connections once and lock conflicts.

        Every wait is bounded (see :class:`SqlTimeouts`); retries happen only within the
        client deadline. While the database is not answering, writes from request threads fail
        at once; reads and the background thread still try, and close the breaker on success.
        """
        self._health.admit(may_probe=not write or threading.current_thread() is self._worker)
        budget_ends = time.monotonic() + self._timeouts.client_deadline
        lost_connection_retried = False
        attempt = 0
        while True:
            attempt += 1
            deadline = Deadline(self._timeouts.client_deadline)
            try:
                with self._transaction(write=write, deadline=deadline) as conn:
                    result = unit(conn)
            except sa.exc.DBAPIError as exc:
                timed_out = deadline.fired or _has(exc, _CLIENT_TIMEOUTS)
                if not timed_out and time.monotonic() < budget_ends:
                    if exc.connection_invalidated and not lost_connection_retried:
                        lost_connection_retried = True
                        continue
                    if _has(exc, _LOCK_CONFLICTS) and attempt <= _LOCK_RETRIES:
                        time.sleep(0.01 * attempt)
                        continue
                raise self._failure(exc, timed_out=timed_out) from exc
            except sa.exc.TimeoutError as exc:  # every pooled connection stayed in use
                reason = f"the database is busy: no free connection ({exc})"
                raise StorageUnavailable(reason) from exc
            self._health.succeeded()
            return result

    def _failure(self, exc: sa.exc.DBAPIError, *, timed_out: bool) -> StorageError:
        if timed_out:
            reason = (
                f"the database did not answer within {self._timeouts.client_deadline:g} s"
                f" ({_first_line(exc)})"
            )
            self._health.failed(reason, not_answering=True)
            return StorageUnavailable(reason)
        if _has(exc, _SERVER_TIMEOUTS):
            return StorageUnavailable(f"the database is busy: {_first_line(exc)}")
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            reason = f"the database cannot be reached: {_first_line(exc)}"
            self._health.failed(reason, not_answering=False)
            return StorageUnavailable(reason)
        return StorageError(f"the database refused the operation: {_first_line(exc)}")

    # ------------------------------------------------------------------ writes

    def mutate(
        self, app: str, instance_id: str, fn: Callable[[LeaseRecord | None], tuple[Write | None, T]]
    ) -> T:
        key = (app, instance_id)

        def unit(conn: sa.Connection) -> tuple[Write | None, T, Change | None]:
            this = {"b_app": app, "b_id": instance_id}
            seq = conn.execute(_LOCK_SEQUENCE).scalar_one()
            row = conn.execute(_LOCK_LEASE, this).first()
            current = None
            if row is not None:
                renewed = conn.execute(_READ_RENEWAL, this).scalar() or 0
                pending = self._dirty.get(key, 0)
                current = _record_from_row(row, max(renewed, pending))
            write, result = fn(current)
            if write is None:
                return None, result, None
            written = self._write_lease(conn, key, write.record, exists=row is not None)
            if write.change is None:
                return write, result, None
            change = self._log_change(conn, seq + 1, key, write, current, written=written)
            return write, result, change

        def apply(outcome: tuple[Write | None, T, Change | None]) -> None:
            write, _, change = outcome
            if write is not None:
                self._apply_own_write(key, write.record, change)

        if self._group is not None:
            outcome: tuple[Write | None, T, Change | None] = self._group.submit(_Unit(unit, apply))
            return outcome[1]
        outcome = self._run(unit, write=True)
        apply(outcome)
        return outcome[1]

    def _write_batch(self, batch: list[Queued[_Unit]]) -> None:
        """Run ``batch``'s units in order in one transaction; answer each (for GroupCommit).

        A unit that fails on its own (its function raised, or the database refused its
        statements) is answered with that error and the batch runs again without it: its
        neighbours in the queue are not its fault. A failure of the transaction (the
        database unreachable, busy, or the commit refused) answers every unit with it, and
        nothing of the batch is applied to memory. After the commit, units are applied to
        memory in commit order, so each is the next in sequence.
        """
        live = list(batch)
        while live:

            def units(conn: sa.Connection) -> list[Any]:
                outcomes = []
                for position, item in enumerate(live):
                    try:
                        outcomes.append(item.work.run(conn))
                    except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
                        raise _UnitFailed(position, self._failure(exc, timed_out=False)) from exc
                    except sa.exc.DBAPIError:
                        raise  # the transaction's failure: _run retries or reports it
                    except Exception as exc:
                        raise _UnitFailed(position, exc) from exc
                return outcomes

            try:
                outcomes = self._run(units, write=True)
            except _UnitFailed as failed:
                live.pop(failed.position).error = failed.error
                continue
            except StorageError as exc:
                for item in live:
                    item.error = type(exc)(str(exc))  # an exception object per raising thread
                    item.error.__cause__ = exc.__cause__
                return
            for item, outcome in zip(live, outcomes, strict=True):
                item.outcome = outcome
                try:
                    item.work.apply(outcome)
                except Exception as exc:  # committed: the writer hears of it all the same
                    item.error = exc
            return

    def _write_lease(
        self, conn: sa.Connection, key: Key, record: LeaseRecord | None, *, exists: bool
    ) -> str | None:
        """Write (or delete) the lease row; returns the instance text written, if any."""
        app, instance_id = key
        this = {"b_app": app, "b_id": instance_id}
        if record is None:
            if exists:
                conn.execute(_DELETE_LEASE, this)
                conn.execute(_DELETE_RENEWAL, this)
            return None
        values = {
            "instance": _dump_instance(record.instance),
            "override": record.override.value if record.override is not None else None,
            "duration_ms": record.duration_ms,
        }
        if exists:
            conn.execute(_UPDATE_LEASE, {**this, **values})
            conn.execute(self._renew_one, {**this, "b_ts": record.last_renewal_ms})
        else:
            names = {"app": app, "instance_id": instance_id}
            conn.execute(_INSERT_LEASE, {**names, **values})
            conn.execute(_INSERT_RENEWAL, {**names, "last_renewal_ms": record.last_renewal_ms})
        return str(values["instance"])

    def _log_change(
        self,
        conn: sa.Connection,
        seq: int,
        key: Key,
        write: Write,
        current: LeaseRecord | None,
        *,
        written: str | None = None,
    ) -> Change:
        """Log the change; ``written`` is the lease's instance text, reused when it is the same
        instance (a registration logs what it stores: encoding it twice cost a tenth of it)."""
        instance = write.logged_instance(current)
        same = (
            written is not None and write.record is not None and instance is write.record.instance
        )
        assert write.change is not None
        conn.execute(
            _INSERT_CHANGE,
            {
                "seq": seq,
                "timestamp_ms": write.change_ms,
                "action": write.change.value,
                "app": key[0],
                "instance_id": key[1],
                "instance": written if same else _dump_instance(instance),
            },
        )
        conn.execute(_SET_SEQUENCE, {"b_seq": seq})
        if self._announcer is not None:  # delivered on commit, so never ahead of the log
            self._announcer.send(conn, seq)
        return Change(seq, write.change_ms, write.change, instance)

    def _apply_own_write(self, key: Key, record: LeaseRecord | None, change: Change | None) -> None:
        with self._lock:
            if change is None:
                self._put(key, record)
                return
            caught_up = change.sequence == self._sequence + 1
            if caught_up:
                self._put(key, record)
                self._append(change)
        if caught_up:
            self._notify_change()
            return
        # Another node wrote in between: catch up now (this write with it), so this node's
        # next read sees both, and its records never run ahead of its log.
        try:
            self._sync_changes()
        except StorageUnavailable:
            # The write is committed: show it now rather than after the outage, at the cost
            # of a delta whose hashcode disagrees until the next catch-up.
            with self._lock:
                if self._sequence < change.sequence:
                    self._put(key, record)

    def _put(self, key: Key, record: LeaseRecord | None) -> None:
        """Set or drop one cached record (caller holds ``_lock``)."""
        if record is None:
            self._index.remove(*key)
            return
        existing = self._index.get(*key)
        if existing is not None:
            # Renewals this node holds but has not flushed must survive a reload of the row.
            record.last_renewal_ms = max(record.last_renewal_ms, existing.last_renewal_ms)
        self._index.put(record)

    # ------------------------------------------------------------------ renewals

    def renew(self, app: str, instance_id: str, now_ms: int) -> LeaseRecord | None:
        record = self._index.get(app, instance_id)
        if record is None:
            return None
        with self._lock, self._dirty_lock:  # _lock: the index files the lease anew
            self._index.renew(record, now_ms)
            self._dirty[(app, instance_id)] = record.last_renewal_ms
        return record

    def flush(self) -> None:
        """Write the renewals held in memory; on failure they are kept for the next flush."""
        with self._dirty_lock:
            batch, self._dirty = self._dirty, {}
        if not batch:
            return
        # A fixed row order keeps two nodes flushing overlapping rows from deadlocking.
        rows = [(app, iid, ts) for (app, iid), ts in sorted(batch.items())]

        def unit(conn: sa.Connection) -> None:
            self._flush_renewals(conn, rows)

        try:
            self._run(unit, write=True)
        except BaseException:
            with self._dirty_lock:
                for key, ts in batch.items():
                    if ts > self._dirty.get(key, 0):
                        self._dirty[key] = ts
            raise

    # ------------------------------------------------------------------ catching up

    def sync(self) -> None:
        """Catch up with changes and renewals written by other nodes."""
        self._sync_changes()
        self._sync_renewals()

    def _sync_changes(self) -> None:
        with self._sync_lock:
            moved = self._catch_up()
        if moved:
            self._notify_change()

    def _catch_up(self) -> bool:
        """Apply the changes other writers logged since our sequence; whether it moved."""
        local = self._sequence

        def unit(conn: sa.Connection) -> tuple[int, list[sa.Row[Any]], list[sa.Row[Any]]]:
            head = conn.execute(_READ_SEQUENCE).scalar_one()
            if head == local:
                return head, [], []
            logged = list(
                conn.execute(_SELECT_CHANGES.where(changes.c.seq > local, changes.c.seq <= head))
            )
            keys = sorted({(row.app, row.instance_id) for row in logged})
            return head, logged, list(self._lease_rows(conn, keys))

        head, logged, rows = self._run(unit, write=False)
        if head == local:
            return False
        if not logged or logged[0].seq != local + 1:
            # The changes we missed were pruned (this node was away too long): start over.
            return self._reload()
        decoded: dict[str, InstanceInfo] = {}
        fresh = {(row.app, row.instance_id): _record_from_row(row, None, decoded) for row in rows}
        with self._lock:
            # Own writes may have moved on meanwhile, each the next in sequence: skip those.
            if head <= self._sequence:
                return False
            for key in {(row.app, row.instance_id) for row in logged}:
                self._put(key, fresh.get(key))
            for row in logged:
                if row.seq > self._sequence:
                    self._append(_change_from_row(row, decoded))
        return True

    def _lease_rows(self, conn: sa.Connection, keys: Sequence[Key]) -> Iterable[sa.Row[Any]]:
        by_app: dict[str, list[str]] = {}
        for app, instance_id in keys:
            by_app.setdefault(app, []).append(instance_id)
        for app, ids in by_app.items():
            for start in range(0, len(ids), 500):
                yield from conn.execute(
                    _SELECT_LEASES.where(
                        leases.c.app == app, leases.c.instance_id.in_(ids[start : start + 500])
                    )
                )

    def _sync_renewals(self) -> None:
        since = self._renewal_watermark - _RENEWAL_OVERLAP_MS

        def unit(conn: sa.Connection) -> list[sa.Row[Any]]:
            return list(
                conn.execute(
                    sa.select(
                        renewals.c.app, renewals.c.instance_id, renewals.c.last_renewal_ms
                    ).where(renewals.c.last_renewal_ms > since)
                )
            )

        rows = self._run(unit, write=False)
        newest = self._renewal_watermark
        for row in rows:
            record = self.get(row.app, row.instance_id)
            if record is not None and row.last_renewal_ms > record.last_renewal_ms:
                record.last_renewal_ms = row.last_renewal_ms
            newest = max(newest, row.last_renewal_ms)
        self._renewal_watermark = newest

    def _reload(self) -> bool:
        """Read every record and the whole log afresh; whether the sequence moved."""

        def unit(conn: sa.Connection) -> tuple[int, list[LeaseRecord], list[Change]]:
            head = conn.execute(_READ_SEQUENCE).scalar_one()
            decoded: dict[str, InstanceInfo] = {}
            now_ms = resolve_now(None)
            load, overrides, actions = _load_instance, _OVERRIDES, _ACTIONS
            # The whole store is built here, nothing of it garbage (see codec.bulk); not held
            # over _run's retries and waits, which may be long. Rows are unpacked, not read by
            # column name: a load does this 200,000 times at 100k instances.
            with collection_paused():
                records = [
                    LeaseRecord(
                        load(text, decoded, now_ms),
                        duration_ms,
                        renewed_ms,
                        overrides[override] if override else None,
                    )
                    for text, override, duration_ms, renewed_ms in conn.execute(_LOAD_LEASES)
                ]
                logged = [
                    Change(seq, timestamp_ms, actions[action], load(text, decoded, now_ms))
                    for seq, timestamp_ms, action, text in conn.execute(_LOAD_CHANGES)
                ]
            return head, records, logged

        head, records, logged = self._run(unit, write=False)
        with self._lock, collection_paused():
            moved = head != self._sequence
            self._log = deque(logged)
            previous = self._index
            if previous.count:  # a start holds nothing: no lookups to make
                for record in records:
                    old = previous.get(record.app, record.instance_id)
                    if old is not None:  # renewals this node holds but has not flushed yet
                        record.last_renewal_ms = max(record.last_renewal_ms, old.last_renewal_ms)
            self._index = RecordIndex.of(records)
            newest = max((record.last_renewal_ms for record in records), default=0)
            self._renewal_watermark = max(self._renewal_watermark, newest)
            self._sequence = head
            self._reset_views()
        return moved

    # ------------------------------------------------------------------ change log

    def prune_changes(self, before_ms: int) -> int:
        """Drop old changes from memory, then from the database (any node's prune will do)."""
        dropped = self._prune_log(before_ms)

        def unit(conn: sa.Connection) -> None:
            conn.execute(sa.delete(changes).where(changes.c.timestamp_ms < before_ms))

        self._run(unit, write=True)
        return dropped

    # ------------------------------------------------------------------ lifecycle

    def _background(self, interval: float) -> None:
        failing = False
        # Other nodes' renewals only matter at lease granularity (tens of seconds), and reading
        # them scans every recently renewed row: every couple of seconds is plenty.
        renewals_every = max(1, round(_RENEWAL_SYNC_S / interval))
        for tick in itertools.count(1):
            if self._stop.wait(interval):
                return
            try:
                self.flush()
                self._sync_changes()
                if tick % renewals_every == 0:
                    self._sync_renewals()
            except StorageUnavailable:
                pass  # the database's health logs an outage once, when it starts and ends
            except StorageError as exc:
                if not failing:  # one line per streak of failures, not one per tick
                    log.warning("SQL store background sync failed (will retry): %s", exc)
                failing = True
            except Exception:
                log.exception("SQL store background sync failed")
            else:
                failing = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        super().close()
        listener = getattr(self, "_listener", None)
        if listener is not None:
            listener.stop()
        if getattr(self, "_worker", None) is not None:
            self._stop.set()
            assert self._worker is not None
            self._worker.join(10)
        try:
            self.flush()
        finally:
            self._dispose()

    def _dispose(self) -> None:
        if self._owns_engine:
            self.engine.dispose()
