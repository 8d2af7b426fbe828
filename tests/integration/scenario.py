"""A client scenario in a child process: it reports JSON lines on stdout and reads commands."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.server.support import LineReader


class Scenario:
    """``command`` running with pipes; :meth:`expect` waits for its next event of a kind."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout = LineReader(self.process.stdout, "scenario-stdout")
        self.stderr = LineReader(self.process.stderr, "scenario-stderr")

    def expect(self, event: str, timeout: float = 20.0) -> dict[str, Any]:
        """The next ``event`` line; an ``error`` event before it fails the test."""
        try:
            match = self.stdout.wait_for(rf'"event":\s*"(?:{event}|error)"', timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- stderr:\n{self.stderr.text()}") from None
        found: dict[str, Any] = json.loads(match.string)
        if found["event"] == "error":
            raise AssertionError(f"scenario failed: {found}\n--- stderr:\n{self.stderr.text()}")
        return found

    def events(self, event: str) -> list[dict[str, Any]]:
        """Every ``event`` line so far."""
        found = []
        for line in self.stdout.lines:
            if line.startswith("{"):
                data = json.loads(line)
                if data.get("event") == event:
                    found.append(data)
        return found

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = 20.0) -> int:
        code = self.process.wait(timeout)
        self._release()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._release()

    def _release(self) -> None:
        self.stdout.join()
        self.stderr.join()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


@contextmanager
def scenario(
    command: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Iterator[Scenario]:
    """A running scenario, killed on the way out if it has not finished by then."""
    running = Scenario(command, cwd=cwd, env=env)
    try:
        yield running
    finally:
        running.kill()
