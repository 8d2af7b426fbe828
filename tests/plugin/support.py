"""Running pytest on generated test modules with the plugin loaded, installed or not."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import pytest

PLUGIN = "eureka_embed.pytest_plugin"


def plugin_args() -> list[str]:
    """``-p eureka_embed.pytest_plugin`` unless pytest loads it from its entry point anyway.

    Loading it both ways is an error, and a source tree that was never installed (or installed
    before the entry point existed) has no entry point.
    """
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    if installed and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return []
    return ["-p", PLUGIN]


def write_ini(pytester: pytest.Pytester, **keys: str) -> None:
    """A pytest.ini as strict as the project's own (warnings are errors) plus ``keys``."""
    lines = ["[pytest]", "filterwarnings = error", *(f"{k} = {v}" for k, v in keys.items())]
    pytester.makefile(".ini", pytest="\n".join(lines) + "\n")
