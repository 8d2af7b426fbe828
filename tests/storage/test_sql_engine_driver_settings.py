"""What the store's engine hands the database driver when it connects, for each server database
(found by mutation testing: the server engines' settings went unchecked without a server).

The driver's connect parameters are caught before any socket opens, so these run without a
database: psycopg gets the store's time-outs as libpq ``-c`` options (the user's own come after,
so they win), a connect time-out in whole seconds of at least 2, TCP keepalives and a TCP user
time-out at the client deadline; pymysql gets utf8mb4 unless the URL names a charset, and its
connect, read and write time-outs; a setting the URL gives itself is left as the user wrote it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from eureka_embed.storage.sql_engine import SqlTimeouts, create_store_engine

TIMEOUTS = SqlTimeouts(connect=2.5, statement=2, lock=1)  # client deadline: 3 s


class _Caught(Exception):
    pass


def driver_parameters(url: str, timeouts: SqlTimeouts = TIMEOUTS) -> dict[str, Any]:
    """The keyword arguments the driver's ``connect`` would be called with."""
    engine = create_store_engine(url, timeouts=timeouts)
    seen: dict[str, Any] = {}

    def catch(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        seen.update(params)
        raise _Caught

    sa.event.listen(engine, "do_connect", catch)
    try:
        with pytest.raises(_Caught):
            engine.connect()
    finally:
        engine.dispose()
    return seen


def test_psycopg_gets_the_time_outs_as_server_options_and_socket_limits() -> None:
    given = driver_parameters("postgresql+psycopg://u@127.0.0.1:1/db")
    assert given["options"] == (
        "-c statement_timeout=2000 -c lock_timeout=1000 -c idle_in_transaction_session_timeout=6000"
    )
    assert given["connect_timeout"] == 3  # libpq counts whole seconds
    assert (given["keepalives"], given["keepalives_idle"]) == (1, 10)
    assert (given["keepalives_interval"], given["keepalives_count"]) == (5, 2)
    if psycopg.pq.version() >= 120000:
        assert given["tcp_user_timeout"] == 3000
    else:
        assert "tcp_user_timeout" not in given


def test_psycopg_connect_time_out_is_at_least_two_seconds() -> None:
    short = SqlTimeouts(connect=0.5, statement=2, lock=1)
    assert driver_parameters("postgresql+psycopg://u@127.0.0.1:1/db", short)["connect_timeout"] == 2


def test_the_users_own_libpq_settings_win() -> None:
    url = (
        "postgresql+psycopg://u@127.0.0.1:1/db"
        "?options=-c%20statement_timeout%3D9000&keepalives_idle=30&tcp_user_timeout=700"
    )
    given = driver_parameters(url)
    # libpq applies -c settings in order: the user's, coming last, win.
    assert given["options"].startswith("-c statement_timeout=2000 ")
    assert given["options"].endswith(" -c statement_timeout=9000")
    assert (given["keepalives_idle"], given["tcp_user_timeout"]) == ("30", "700")
    assert given["keepalives_count"] == 2  # the ones the URL leaves out are still set


def test_pymysql_gets_utf8mb4_and_its_socket_time_outs() -> None:
    given = driver_parameters("mysql+pymysql://u@127.0.0.1:1/db")
    assert given["charset"] == "utf8mb4"
    assert given["connect_timeout"] == 2.5
    assert (given["read_timeout"], given["write_timeout"]) == (3.0, 3.0)


def test_pymysql_keeps_the_urls_charset_and_time_outs() -> None:
    given = driver_parameters("mysql+pymysql://u@127.0.0.1:1/db?charset=latin1&read_timeout=20")
    assert given["charset"] == "latin1"
    assert given["read_timeout"] == 20
    assert given["write_timeout"] == 3.0
