"""Registries over one SQLite file on frozen time, to play a node that restarts."""

from __future__ import annotations

from pathlib import Path

from eureka_embed.registry import Registry
from eureka_embed.testing import RegistryTime, sqlite_registry


class RegistryFile:
    """Opens registries over ``path`` that follow ``time``; :meth:`close_all` after the test."""

    def __init__(self, path: Path, time: RegistryTime) -> None:
        self.path = path
        self.time = time
        self._open: list[Registry] = []

    def open(self) -> Registry:
        registry = sqlite_registry(self.path, clock=self.time.clock)
        self._open.append(self.time.attach(registry))
        return registry

    def close(self, registry: Registry) -> None:
        # Detach first: advancing time must not run the maintenance of a closed registry.
        self.time.detach(registry)
        registry.close()
        self._open.remove(registry)

    def restart(self, registry: Registry, *, down_for: float) -> Registry:
        """Close ``registry``, let ``down_for`` seconds pass, open the file again."""
        self.close(registry)
        self.time.advance(down_for)
        return self.open()

    def close_all(self) -> None:
        for registry in list(self._open):
            self.close(registry)
