"""A program that opened a SqlStore and ends without closing it still exits: the store's
background thread is a daemon (found by mutation testing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_store_left_open_does_not_keep_a_finished_program_alive(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eureka.db'}"
    program = (
        "from eureka_embed.storage.sql import SqlStore\n"
        f"store = SqlStore({url!r}, migrate_schema=True, sync_interval=60)\n"
        "assert store._worker is not None and store._worker.is_alive()\n"
    )
    # A background thread that is not a daemon would be waited for at exit, for ever.
    done = subprocess.run([sys.executable, "-c", program], timeout=30, check=False)
    assert done.returncode == 0
