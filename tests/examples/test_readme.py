"""The README keeps its promises: its snippets run, its tables name every option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eureka_embed.cli import main
from tests.plugin.support import plugin_args, write_ini

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: CI reads these lines as they are.
FIRST_LINES = """# eureka_embed

```sh
python -m pip install ".[server]" && eureka-embed serve
python -m pip install tox && tox
```

The first command runs a standalone Eureka server on http://127.0.0.1:8761/eureka/; the second
runs the whole test suite (tests, ruff, mypy strict).
"""


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_first_lines_are_unchanged() -> None:
    assert README.startswith(FIRST_LINES)


def test_every_serve_flag_and_variable_is_in_the_configuration_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--help"]) == 0
    help_text = capsys.readouterr().out
    flags = set(re.findall(r"(--[a-z][a-z-]+)", help_text)) - {"--help"}
    variables = set(re.findall(r"EUREKA_EMBED_[A-Z_]+", help_text))
    table = section("Running a server")

    assert len(flags) >= 10 and len(variables) >= 9
    assert [flag for flag in sorted(flags) if f"`{flag}" not in table] == []
    assert [name for name in sorted(variables) if f"`{name}`" not in table] == []
    assert "eureka-embed db upgrade" in table and "eureka-embed db current" in table


def test_the_plugin_options_and_fixtures_are_documented() -> None:
    text = section("pytest fixtures")
    for name in (
        "--eureka-store",
        "--eureka-self-preservation",
        "--eureka-eviction-interval",
        "eureka_store",
        "eureka_self_preservation",
        "eureka_eviction_interval",
        "eureka_registry",
        "eureka_sqlite_registry",
        "eureka_server",
        "eureka_client",
        "eureka_time",
        "eureka_registry_config",
    ):
        assert f"`{name}" in text, name


def test_every_example_is_listed() -> None:
    listed = section("Examples")
    examples = [p.name for p in (ROOT / "examples").iterdir() if not p.name.startswith((".", "_"))]

    assert [name for name in examples if f"examples/{name}" not in listed] == []


def test_the_embedding_snippet_runs() -> None:
    [snippet] = python_blocks(section("Embedding in four lines"))
    namespace: dict[str, object] = {}

    exec(compile(snippet, "README.md", "exec"), namespace)

    assert namespace["registry"].get_application("orders") is not None  # type: ignore[attr-defined]


def test_the_fixture_snippet_passes(pytester: pytest.Pytester) -> None:
    [snippet] = python_blocks(section("pytest fixtures"))
    write_ini(pytester)
    pytester.makepyfile(test_readme_snippet=snippet)

    pytester.runpytest("-p", "no:cacheprovider", *plugin_args()).assert_outcomes(passed=1)
