"""SQLite's write statements run on the sqlite3 cursor (storage/sql_direct.py): the rows written
are exactly SQLAlchemy's, driver errors keep SQLAlchemy's types, and an application that
listens to the engine's statements (logging, tracing) still sees every one of them."""

from __future__ import annotations

import datetime
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from eureka_embed.clock import ManualClock
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.storage.sql import _LOCK_LEASE, _LOCK_SEQUENCE, SqlStore
from eureka_embed.storage.sql_direct import DirectStatements
from eureka_embed.storage.sql_engine import create_store_engine
from eureka_embed.storage.sql_schema import changes, leases, renewals, sequence
from tests.registry.helpers import instance

TABLES = (leases, renewals, changes, sequence)


def engine_at(path: Path) -> sa.Engine:
    return create_store_engine(f"sqlite:///{path}")


def some_writes(store: SqlStore) -> None:
    """Every kind of write the store has: new and repeated registrations, heartbeats, an
    override set and removed, a cancel."""
    clock = ManualClock()
    registry = Registry(store, clock=clock)
    for n in range(6):
        registry.register(instance(n, ldt=100 + n))
    clock.advance(seconds=5)
    registry.register(instance(2, ldt=200, host_name="moved.example"))
    registry.renew("ORDERS", instance(3).instance_id)
    registry.update_status("ORDERS", instance(4).instance_id, InstanceStatus.OUT_OF_SERVICE)
    registry.renew("ORDERS", instance(4).instance_id)
    registry.delete_status_override("ORDERS", instance(4).instance_id, None)
    registry.cancel("ORDERS", instance(5).instance_id)
    store.flush()


def table_contents(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: sorted(tuple(row) for row in conn.execute(sa.select(table)))
            for table in TABLES
        }


def counting_sqlalchemy_executions(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Statements SQLAlchemy's ``Connection.execute`` is asked to run (not an event: a
    listener would itself send the store's statements through SQLAlchemy)."""
    seen: list[object] = []
    original = sa.Connection.execute

    def execute(self: sa.Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(statement)
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(sa.Connection, "execute", execute)
    return seen


def test_rows_written_directly_are_those_sqlalchemy_writes(tmp_path: Path) -> None:
    direct = engine_at(tmp_path / "direct.db")
    through_sqlalchemy = engine_at(tmp_path / "sqlalchemy.db")
    # Any statement listener sends every statement through SQLAlchemy.
    sa.event.listen(through_sqlalchemy, "before_cursor_execute", lambda *_args: None)
    for engine in (direct, through_sqlalchemy):
        store = SqlStore(engine, migrate_schema=True, background=False)
        some_writes(store)
        store.close()
    written = table_contents(direct)
    assert written == table_contents(through_sqlalchemy)
    assert len(written["eureka_changes"]) >= 10
    direct.dispose()
    through_sqlalchemy.dispose()


def test_the_writes_of_a_registry_on_sqlite_do_not_go_through_sqlalchemy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'e.db'}", migrate_schema=True, background=False)
    try:
        seen = counting_sqlalchemy_executions(monkeypatch)
        clock = ManualClock()
        registry = Registry(store, clock=clock)
        registry.register(instance(1))
        registry.register(instance(1, ldt=300))
        registry.update_status("ORDERS", instance(1).instance_id, InstanceStatus.DOWN)
        registry.cancel("ORDERS", instance(1).instance_id)
        assert seen == []
    finally:
        store.close()


@pytest.mark.parametrize(
    "observe",
    [
        pytest.param(lambda e: sa.event.listen(e, "before_cursor_execute", e.seen), id="cursor"),
        pytest.param(lambda e: sa.event.listen(e, "before_execute", e.seen), id="execute"),
        pytest.param(lambda e: sa.event.listen(e, "after_execute", e.seen), id="after-execute"),
        pytest.param(lambda e: sa.event.listen(e, "after_cursor_execute", e.seen), id="after"),
        pytest.param(lambda e: sa.event.listen(e, "handle_error", e.seen), id="errors"),
    ],
)
def test_an_application_listening_to_the_engine_sees_every_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, observe: Callable[[Any], None]
) -> None:
    engine: Any = engine_at(tmp_path / "e.db")
    engine.seen = lambda *_args: None
    observe(engine)
    store = SqlStore(engine, migrate_schema=True, background=False)
    try:
        seen = counting_sqlalchemy_executions(monkeypatch)
        Registry(store).register(instance(1))
        assert _LOCK_LEASE in seen
    finally:
        store.close()
        engine.dispose()


def test_an_echoing_engine_logs_the_statements_of_a_registration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'e.db'}")
    store = SqlStore(engine, migrate_schema=True, background=False)
    engine.echo = True
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            Registry(store).register(instance(1))
        assert "INSERT INTO eureka_leases" in caplog.text
        assert "INSERT INTO eureka_changes" in caplog.text
    finally:
        engine.echo = False
        store.close()
        engine.dispose()


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sa.Connection]:
    engine = engine_at(tmp_path / "e.db")
    SqlStore(engine, migrate_schema=True, background=False).close()
    statements = DirectStatements(engine.dialect, [_LOCK_SEQUENCE, _LOCK_LEASE, INSERT])
    with engine.connect() as plain, plain.begin():
        yield statements.connection(plain)
    engine.dispose()


INSERT = sa.insert(leases)
LEASE = {"app": "A", "instance_id": "a:1", "instance": "{}", "override": None, "duration_ms": 1}


def test_a_driver_error_is_sqlalchemys_error_of_the_same_kind(conn: sa.Connection) -> None:
    conn.execute(INSERT, LEASE)
    with pytest.raises(sa.exc.IntegrityError) as raised:
        conn.execute(INSERT, LEASE)
    assert isinstance(raised.value.orig, sqlite3.IntegrityError)
    # As SQLAlchemy words it: the driver's reason, the statement and its parameters.
    said = str(raised.value)
    assert "UNIQUE" in said
    assert "[SQL: INSERT INTO eureka_leases" in said
    assert "'a:1'" in said


def test_many_parameter_sets_go_through_sqlalchemy(conn: sa.Connection) -> None:
    conn.execute(INSERT, [LEASE, {**LEASE, "instance_id": "a:2"}])
    both = {"b_app": "A", "b_id": "a:2"}
    assert conn.execute(_LOCK_LEASE, both).scalar() == "A"


def test_results_answer_as_sqlalchemys_do(conn: sa.Connection) -> None:
    assert conn.execute(_LOCK_SEQUENCE).scalar_one() == 0  # a bound literal: the sequence name
    none = {"b_app": "A", "b_id": "a:1"}
    assert conn.execute(_LOCK_LEASE, none).first() is None
    assert conn.execute(_LOCK_LEASE, none).scalar() is None
    assert conn.execute(_LOCK_LEASE, none).all() == []
    with pytest.raises(sa.exc.NoResultFound):
        conn.execute(_LOCK_LEASE, none).scalar_one()
    conn.execute(sa.insert(leases), LEASE)  # not among the direct ones: through SQLAlchemy
    row = conn.execute(_LOCK_LEASE, none).first()
    assert row is not None
    assert (row.app, row.instance_id, row.duration_ms, row.override) == ("A", "a:1", 1, None)
    assert [tuple(r) for r in conn.execute(_LOCK_LEASE, none)] == [tuple(row)]
    assert conn.execute(_LOCK_LEASE, none).scalar() == "A"


def test_more_than_one_row_for_scalar_one_is_an_error(conn: sa.Connection) -> None:
    select_all = sa.select(leases.c.app)
    statements = DirectStatements(conn.dialect, [select_all])
    direct = statements.connection(conn)
    conn.execute(sa.insert(leases), [LEASE, {**LEASE, "instance_id": "a:2"}])
    with pytest.raises(
        sa.exc.MultipleResultsFound,
        match=r"^Multiple rows were found when exactly one was required$",
    ):
        direct.execute(select_all).scalar_one()


def test_a_missing_parameter_gets_sqlalchemys_own_error(conn: sa.Connection) -> None:
    with pytest.raises(sa.exc.StatementError, match="b_id"):
        conn.execute(_LOCK_LEASE, {"b_app": "A"})


class Upper(sa.TypeDecorator[str]):
    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else value.upper()


OTHER = sa.MetaData()
TYPED = sa.Table(
    "typed",
    OTHER,
    sa.Column("name", Upper()),
    sa.Column("at", sa.DateTime),
    sa.Column("n", sa.Integer),
)


def test_a_statement_whose_types_convert_values_goes_through_sqlalchemy(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "t.db")
    OTHER.create_all(engine)
    insert, select_at, select_n = sa.insert(TYPED), sa.select(TYPED.c.at), sa.select(TYPED.c.n)
    statements = DirectStatements(engine.dialect, [insert, select_at, select_n])
    assert statements.prepared(insert, ("name", "at", "n")) is None  # a bind processor
    assert statements.prepared(select_at, ()) is None  # SQLite's DateTime parses text
    assert statements.prepared(select_n, ()) is not None
    with engine.connect() as plain, plain.begin():
        conn = statements.connection(plain)
        when = datetime.datetime(2026, 12, 2, 18, 0)
        conn.execute(insert, {"name": "low", "at": when, "n": 7})
        assert conn.execute(select_at).scalar_one() == when
        assert conn.execute(select_n).scalar_one() == 7
        assert plain.execute(sa.select(TYPED.c.name)).scalar_one() == "LOW"
    engine.dispose()


def test_scalar_one_fails_with_sqlalchemys_words(conn: sa.Connection) -> None:
    none = {"b_app": "A", "b_id": "a:1"}
    with pytest.raises(sa.exc.NoResultFound, match=r"^No row was found when one was required$"):
        conn.execute(_LOCK_LEASE, none).scalar_one()


def test_rows_show_their_columns(conn: sa.Connection) -> None:
    conn.execute(INSERT, LEASE)
    row = conn.execute(_LOCK_LEASE, {"b_app": "A", "b_id": "a:1"}).first()
    assert repr(row).startswith("Row(app='A', instance_id='a:1', instance='{}'")


def test_execution_options_given_to_a_direct_statement_reach_sqlalchemy(tmp_path: Path) -> None:
    # A schema_translate_map sends the statement to another schema's table: here an attached
    # database's, which holds the only row.
    engine, elsewhere = engine_at(tmp_path / "e.db"), engine_at(tmp_path / "other.db")
    for each in (engine, elsewhere):
        SqlStore(each, migrate_schema=True, background=False).close()
    with elsewhere.begin() as other:
        other.execute(INSERT, LEASE)
    statements = DirectStatements(engine.dialect, [_LOCK_LEASE])
    key = {"b_app": "A", "b_id": "a:1"}
    with engine.connect() as plain:
        plain.exec_driver_sql(f"ATTACH DATABASE '{tmp_path / 'other.db'}' AS other")
        plain.commit()
        with plain.begin():
            conn = statements.connection(plain)
            assert conn.execute(_LOCK_LEASE, key).first() is None
            translated = {"schema_translate_map": {None: "other"}}
            row = conn.execute(_LOCK_LEASE, key, execution_options=translated).first()
            assert row is not None
            assert (row.app, row.instance_id) == ("A", "a:1")
    engine.dispose()
    elsewhere.dispose()


def duplicate_insert_error(engine: sa.Engine, *, direct: bool) -> sa.exc.DBAPIError:
    """The error of inserting LEASE twice, directly on the cursor or through SQLAlchemy."""
    statements = DirectStatements(engine.dialect, [INSERT] if direct else [])
    with engine.connect() as plain:
        conn = statements.connection(plain)
        conn.execute(INSERT, LEASE)
        with pytest.raises(sa.exc.DBAPIError) as raised:
            conn.execute(INSERT, LEASE)
        plain.rollback()  # the next call starts from the same empty table
    return raised.value


def test_a_driver_error_is_classified_by_the_engines_dialect_as_sqlalchemy_does(
    tmp_path: Path,
) -> None:
    # A dialect may rename its driver's exceptions for SQLAlchemy (pysqlite renames none, so
    # one is set here): the direct path must raise the class SQLAlchemy raises.
    engine = engine_at(tmp_path / "e.db")
    SqlStore(engine, migrate_schema=True, background=False).close()
    engine.dialect.dbapi_exception_translation_map = {"IntegrityError": "DataError"}
    through_sqlalchemy = duplicate_insert_error(engine, direct=False)
    directly = duplicate_insert_error(engine, direct=True)
    assert type(through_sqlalchemy) is sa.exc.DataError
    assert type(directly) is sa.exc.DataError
    assert isinstance(directly.orig, sqlite3.IntegrityError)
    engine.dispose()


def test_an_engine_that_hides_parameters_gets_no_parameters_in_a_direct_statements_error(
    tmp_path: Path,
) -> None:
    # An application gives the store an engine with hide_parameters=True to keep the values
    # (instances, their metadata) out of errors and logs; SQLAlchemy's errors then omit them.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'e.db'}", hide_parameters=True)
    SqlStore(engine, migrate_schema=True, background=False).close()
    for direct in (False, True):
        said = str(duplicate_insert_error(engine, direct=direct))
        assert "[SQL: INSERT INTO eureka_leases" in said
        assert "'a:1'" not in said
        assert "[SQL parameters hidden due to hide_parameters=True]" in said
    engine.dispose()
