"""Private database servers for restart tests: a PostgreSQL and a MariaDB of the test's own.

The machine's database servers are shared (by other test runs, other developers): restarting
them would break whoever else uses them. So a restart test runs its own server, in a temporary
data directory on a free port, as the database's system user (initdb and mariadbd refuse to
run as root), and restarts that one. Where the binaries or that user are missing, the test is
skipped with the reason (failed where ``EUREKA_EMBED_REQUIRE`` names ``postgres`` or
``mariadb``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from tests.integration.requirements import require

DATABASE = "eureka"
#: Trust on loopback (the server lives as long as the test, on its own port); no fsync, as
#: nothing here must survive the machine.
_INITDB = ("--auth=trust", "-E", "UTF8", "--no-sync")


class PrivateServer(Protocol):
    url: str

    def stop(self, *, crash: bool = False) -> None: ...
    def start(self) -> None: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as(user: str, command: list[str], *, timeout: float = 60) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", user, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


@contextmanager
def _owned_directory(user: str) -> Iterator[Path]:
    """A temporary directory the database user owns (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix=f"eureka-{user}-"))
    try:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _wait_until_it_answers(url: str, timeout: float = 30) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        engine.dispose()


def _create_database(admin_url: str) -> None:
    """CREATE DATABASE, outside a transaction (PostgreSQL runs it in none)."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    finally:
        engine.dispose()


def _user_exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


class PrivatePostgres:
    """``initdb`` into a temporary directory, served by ``pg_ctl`` on a free port."""

    def __init__(self, bin_dir: Path, data: Path) -> None:
        self._bin = bin_dir
        self._data = data / "data"
        self._log = data / "server.log"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"
        _run_as(
            "postgres",
            [str(bin_dir / "initdb"), "-D", str(self._data), "-U", "postgres", *_INITDB],
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self._data} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [str(self._bin / "pg_ctl"), "-D", str(self._data), "-l", str(self._log)]
        _run_as("postgres", [*command, "-o", options, "-w", "start"])

    def stop(self, *, crash: bool = False) -> None:
        """fast: sessions are cut as an operator's restart cuts them; crash: immediate, no
        shutdown checkpoint, so the next start recovers from the WAL as after a crash."""
        mode = "immediate" if crash else "fast"
        _run_as(
            "postgres",
            [str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", mode, "-w", "stop"],
        )

    def create_database(self) -> None:
        _create_database(self.url.rsplit("/", 1)[0] + "/postgres")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    available = bool(found) and _user_exists("postgres")
    require("postgres", available, "no /usr/lib/postgresql/*/bin/initdb, or no postgres user")
    with _owned_directory("postgres") as data:
        server = PrivatePostgres(Path(found[-1]).parent, data)
        server.start()
        try:
            _wait_until_it_answers(server.url.rsplit("/", 1)[0] + "/postgres")
            server.create_database()
            yield server
        finally:
            # Already stopped when a test failed while the server was down.
            with contextlib.suppress(RuntimeError):
                server.stop()


class PrivateMariaDb:
    """``mariadb-install-db`` into a temporary directory, ``mariadbd`` on a free port."""

    def __init__(self, data: Path) -> None:
        self._data = data / "data"
        self._socket = data / "mariadb.sock"
        self.port = free_port()
        self.url = f"mysql+pymysql://root@127.0.0.1:{self.port}/{DATABASE}"
        self._process: subprocess.Popen[bytes] | None = None
        _run_as(
            "mysql",
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self._data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            timeout=120,
        )

    def start(self) -> None:
        command = [
            "mariadbd",
            "--no-defaults",
            f"--datadir={self._data}",
            f"--socket={self._socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=2",
        ]
        if os.geteuid() == 0:
            command.append("--user=mysql")
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_until_it_answers(self.url.rsplit("/", 1)[0] + "/mysql")

    def stop(self, *, crash: bool = False) -> None:
        """SIGTERM, mariadbd's normal shutdown cutting its sessions; crash: SIGKILL, so the next
        start recovers from InnoDB's redo log."""
        if self._process is not None and self._process.poll() is None:
            if crash:
                self._process.kill()
            else:
                self._process.terminate()
            try:
                self._process.wait(60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._process = None

    def create_database(self) -> None:
        _create_database(self.url.rsplit("/", 1)[0] + "/mysql")


@contextmanager
def private_mariadb() -> Iterator[PrivateMariaDb]:
    available = all(shutil.which(b) for b in ("mariadb-install-db", "mariadbd"))
    require(
        "mariadb",
        available and _user_exists("mysql"),
        "no mariadb-install-db, mariadbd or mysql user",
    )
    with _owned_directory("mysql") as data:
        server = PrivateMariaDb(data)
        try:
            server.start()
            server.create_database()
            yield server
        finally:
            server.stop()
