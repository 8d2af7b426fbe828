"""Live nodes for the reliability tests: either server over either in-process store, open or
with a credentials file (tests/reliability/auth_users.py: no anonymous roles)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Protocol

from eureka_embed.asgi_server import UvicornServer
from eureka_embed.auth import BasicAuth
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.sql import SqlStore
from eureka_embed.testing import config_for_tests
from tests.reliability.auth_users import credentials_file

#: (server, store) pairs each live test runs on.
NODE_KINDS: Final = (
    ("waitress", "memory"),
    ("waitress", "sqlite"),
    ("uvicorn", "memory"),
    ("uvicorn", "sqlite"),
)

#: The pairs run again with auth (a subset: the guard is the same code on every store, each
#: server is in it once and so is each store).
AUTH_NODE_KINDS: Final = (
    ("uvicorn", "memory"),
    ("waitress", "sqlite"),
)


class LiveNode(Protocol):
    @property
    def root_url(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def port(self) -> int: ...


def make_store(kind: str, directory: Path) -> Store:
    if kind == "memory":
        return MemoryStore()
    return SqlStore(f"sqlite:///{directory / 'eureka.db'}", migrate_schema=True)


@contextmanager
def live_node(
    server: str, store: str, directory: Path, *, auth: bool = False
) -> Iterator[LiveNode]:
    """A node on 127.0.0.1, a free port, over a new store; stopped and closed on exit.

    ``auth``: the node checks HTTP Basic credentials from a credentials file in ``directory``,
    as ``serve --auth FILE`` does.
    """
    registry = Registry(make_store(store, directory), config_for_tests(), owns_store=True)
    checked = BasicAuth.from_file(credentials_file(directory)) if auth else None
    node: EurekaServer | UvicornServer
    if server == "waitress":
        node = EurekaServer(registry, host="127.0.0.1", port=0, threads=8, auth=checked)
    else:
        node = UvicornServer(registry, host="127.0.0.1", port=0, threads=4, auth=checked)
    try:
        with node:
            yield node
    finally:
        registry.close()
