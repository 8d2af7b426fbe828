"""SQLite: the store's own statements run straight on the sqlite3 cursor, not through SQLAlchemy.

Why: running one compiled, cached Core statement through a SQLAlchemy ``Connection`` costs
about 20 us here (execution context, events, result wrapping) where sqlite3 itself takes 1-2 us,
and a registration runs six of them: sampled in a server taking registrations from 16 clients,
that machinery was the largest single part of a registration's CPU, more than waitress or the
codec. The SQL is still SQLAlchemy's: each statement is compiled once by the engine's own
dialect (for each set of columns it is given), and only the per-call machinery is skipped.

What is skipped is only what these statements do not use on SQLite; a statement that needs any
of it is not taken, and runs through SQLAlchemy as before:

- bind and result processors (none of the store's column types has one on SQLite);
- statement events: the store listens to none on SQLite (``sql_deadline`` only on PostgreSQL),
  but an application may, on an engine it gives the store (SQL logging, tracing): while any
  statement listener is set, or the engine echoes, every statement goes through SQLAlchemy;
- many-row parameters (``executemany``) and statements given as text.

A driver error is raised as the same ``sqlalchemy.exc.DBAPIError`` subclass SQLAlchemy would
raise (``IntegrityError``, ``OperationalError``, ...), so the store's handling of failures, lock
conflicts and one registration's bad row does not change.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

__all__ = ["DirectStatements"]


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]  # bound values the statement carries (a literal name, say)
    row: Any  # a named tuple class: rows with the columns as attributes


class DirectStatements:
    """The statements ``statements`` of a SQLite store, compiled once, run on the cursor.

    ``connection(conn)`` wraps one transaction's connection for the store's units: its
    ``execute`` takes these statements directly and hands anything else to ``conn``.
    """

    def __init__(self, dialect: sa.Dialect, statements: Iterable[sa.ClauseElement]) -> None:
        self._dialect = dialect
        self._statements = frozenset(statements)
        self._prepared: dict[tuple[sa.ClauseElement, tuple[str, ...]], _Prepared | None] = {}

    def connection(self, conn: sa.Connection) -> sa.Connection:
        if _observed(conn):
            return conn
        # The units are written against ``sa.Connection``; the wrapper answers the one method
        # they call for these statements and passes everything else through.
        return cast(sa.Connection, _DirectConnection(conn, self))

    def prepared(self, statement: sa.ClauseElement, keys: tuple[str, ...]) -> _Prepared | None:
        """``statement`` compiled for parameters ``keys``; None: it goes through SQLAlchemy."""
        if statement not in self._statements:
            return None
        try:
            return self._prepared[(statement, keys)]
        except KeyError:
            pass
        prepared = _prepare(self._dialect, statement, keys)
        self._prepared[(statement, keys)] = prepared
        return prepared


_STATEMENT_EVENTS = (
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
)


def _observed(conn: sa.Connection) -> bool:
    """Someone listens to ``conn``'s statements (events, or the engine's echo)."""
    dispatch = conn.dispatch
    return (
        bool(conn.engine.echo)
        or any(getattr(dispatch, name) for name in _STATEMENT_EVENTS)
        or bool(conn.dialect.dispatch.handle_error)
    )


def _prepare(
    dialect: sa.Dialect, statement: sa.ClauseElement, keys: tuple[str, ...]
) -> _Prepared | None:
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled._bind_processors:
        return None
    columns = compiled._result_columns
    # The dialect's own type (a generic DateTime has no processor; SQLite's has one).
    if any(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns):
        return None
    defaults = {
        name: bind.value
        for name, bind in compiled.binds.items()
        if not bind.required and bind.callable is None
    }
    row = collections.namedtuple("Row", [column.keyname for column in columns])  # type: ignore[misc]
    return _Prepared(compiled.string, tuple(compiled.positiontup), defaults, row)


class _DirectConnection:
    def __init__(self, conn: sa.Connection, statements: DirectStatements) -> None:
        self._conn = conn
        self._statements = statements
        self._cursor: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        if kwargs or not (parameters is None or isinstance(parameters, Mapping)):
            return self._conn.execute(statement, parameters, **kwargs)
        given: Mapping[str, Any] = parameters or {}
        prepared = self._statements.prepared(statement, tuple(given))
        if prepared is None:
            return self._conn.execute(statement, parameters)
        try:
            values = [
                given[name] if name in given else prepared.defaults[name] for name in prepared.names
            ]
        except KeyError:  # a required value missing: SQLAlchemy's own error says which
            return self._conn.execute(statement, parameters)
        if self._cursor is None:
            self._cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        dbapi = self._conn.dialect.loaded_dbapi
        try:
            self._cursor.execute(prepared.sql, values)
            rows = self._cursor.fetchall()  # none for a write
        except dbapi.Error as exc:
            # As SQLAlchemy words it: the engine may hide the parameters (hide_parameters).
            error = sa.exc.DBAPIError.instance(
                prepared.sql,
                values,
                exc,
                dbapi.Error,
                hide_parameters=self._conn.engine.hide_parameters,
                dialect=self._conn.dialect,
            )
            raise cast(BaseException, error) from exc
        return _Result([prepared.row._make(row) for row in rows])


class _Result:
    """The part of ``sqlalchemy.engine.Result`` the store's units use, over fetched rows."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def all(self) -> Sequence[tuple[Any, ...]]:
        return self._rows

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if not self._rows:
            raise sa.exc.NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise sa.exc.MultipleResultsFound(
                "Multiple rows were found when exactly one was required"
            )
        return self._rows[0][0]
