"""Live nodes for the reliability tests: either server over either in-process store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Protocol

from eureka_embed.asgi_server import UvicornServer
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.sql import SqlStore
from eureka_embed.testing import config_for_tests

#: (server, store) pairs each live test runs on.
NODE_KINDS: Final = (
    ("waitress", "memory"),
    ("waitress", "sqlite"),
    ("uvicorn", "memory"),
    ("uvicorn", "sqlite"),
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
def live_node(server: str, store: str, directory: Path) -> Iterator[LiveNode]:
    """A node on 127.0.0.1, a free port, over a new store; stopped and closed on exit."""
    registry = Registry(make_store(store, directory), config_for_tests(), owns_store=True)
    node: EurekaServer | UvicornServer
    if server == "waitress":
        node = EurekaServer(registry, host="127.0.0.1", port=0, threads=8)
    else:
        node = UvicornServer(registry, host="127.0.0.1", port=0, threads=4)
    try:
        with node:
            yield node
    finally:
        registry.close()
