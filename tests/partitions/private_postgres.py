"""A throw-away PostgreSQL server in a host's namespace: its own data directory and socket
directory in a temporary folder, run as the ``postgres`` user, stopped and deleted on exit.

It never touches the machine's own PostgreSQL: another network stack, another port space,
another data directory and lock file.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.requirements import require
from tests.partitions.netns import Host, Network
from tests.server.support import LineReader

__all__ = ["private_postgres"]

READY = r"database system is ready to accept connections"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


@contextmanager
def private_postgres(net: Network, host: Host, port: int = 5432) -> Iterator[str]:
    """Start PostgreSQL in ``host``, reachable over the fabric; yields its SQLAlchemy URL."""
    bin_dir = _bin_dir()
    require("postgres", bin_dir is not None, "no /usr/lib/postgresql/*/bin/postgres")
    assert bin_dir is not None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        require("postgres", False, "no postgres user to run a private server as")
        raise
    as_postgres = ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}"]
    # Its own --pdeathsig: a change of user clears the one the outer setpriv set.
    as_postgres += ["--init-groups", "--pdeathsig", "TERM"]
    root = Path(tempfile.mkdtemp(prefix=f"{net.tag}-pg-"))
    try:
        os.chown(root, owner.pw_uid, owner.pw_gid)
        data = root / "data"
        subprocess.run(
            [
                *as_postgres,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 10.99.0.0/24 trust\n")
        server = net.popen(
            host,
            [
                *as_postgres,
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(root),
                "-c",
                f"listen_addresses={host.address}",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=60",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        log = LineReader(server.stderr, "private-postgres")
        try:
            log.wait_for(READY, 30)
            yield f"postgresql+psycopg://postgres@{host.address}:{port}/postgres"
        finally:
            server.send_signal(2)  # SIGINT: PostgreSQL's fast shutdown
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
            log.join()
            if server.stderr is not None:
                server.stderr.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
