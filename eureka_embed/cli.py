"""The ``eureka-embed`` command.

Every ``serve`` option can also come from an environment variable (``EUREKA_EMBED_PORT`` for
``--port``, ...), as containers are usually configured; a flag beats the variable, which beats
the default. Bad input of either kind is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InvalidInput, StorageError

__all__ = ["ServeOptions", "UsageError", "main", "parse_serve_options"]

PROG = "eureka-embed"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

#: The packages of the ``server`` extra, top-level names as ModuleNotFoundError reports them.
_SERVER_EXTRA = frozenset({"falcon", "waitress", "prometheus_client"})
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

T = TypeVar("T")


class UsageError(Exception):
    """Bad command-line or environment input; the message is shown as is."""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``eureka-embed serve`` runs with, after flags, environment and defaults."""

    host: str = "127.0.0.1"
    port: int = 8761
    store: str = "sqlite:///eureka.db"
    eviction_interval_s: float = 60.0
    self_preservation: bool = True
    renewal_percent_threshold: float = 0.85
    log_level: str = "info"
    #: Upgrade a server database's schema at start (SQLite files are always upgraded).
    auto_migrate: bool = False
    #: Service URLs of the other nodes of a replicating cluster (this node's own is skipped).
    peers: tuple[str, ...] = ()

    def registry_config(self) -> RegistryConfig:
        return RegistryConfig(
            self_preservation=self.self_preservation,
            renewal_percent_threshold=self.renewal_percent_threshold,
            eviction_interval_ms=max(round(self.eviction_interval_s * 1000), 1),
        )


# ---------------------------------------------------------------------- value parsers
# Each takes the raw text and returns the value or raises ValueError with the reason.


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"must be a whole number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"must be in 0..65535 (0 picks a free port), got {port}")
    return port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a positive number of seconds, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:  # also false for NaN
        raise ValueError(f"must be in (0, 1], got {text!r}")
    return value


def _level(text: str) -> str:
    level = text.strip().lower()
    if level not in _LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}, got {text!r}")
    return level


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _peer_urls(text: str) -> tuple[str, ...]:
    """One or more comma-separated service URLs, as Spring's ``defaultZone`` lists them."""
    from eureka_embed.client.endpoints import EurekaEndpoint

    urls = tuple(part.strip() for part in text.split(",") if part.strip())
    if not urls:
        raise ValueError("must name at least one URL such as http://eureka-b:8761/eureka/")
    for url in urls:
        try:
            EurekaEndpoint.parse(url)
        except InvalidInput as exc:
            raise ValueError(exc.reason) from None
    return urls


# ---------------------------------------------------------------------- parsing


class _Parser(argparse.ArgumentParser):
    """argparse, but errors become :class:`UsageError` (one line) instead of usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _argparse_type(name: str, parse: Callable[[str], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise UsageError(f"{name} {exc}") from None

    return convert


#: (dest, flag, environment variable, parser) of each valued ``serve`` option, for argparse;
#: _serve_options reads the same variables.
_SERVE_OPTIONS: tuple[tuple[str, str, str, Callable[[str], object]], ...] = (
    ("host", "--host", "EUREKA_EMBED_HOST", _text),
    ("port", "--port", "EUREKA_EMBED_PORT", _port),
    ("store", "--store", "EUREKA_EMBED_STORE", _text),
    ("eviction_interval_s", "--eviction-interval", "EUREKA_EMBED_EVICTION_INTERVAL", _seconds),
    (
        "renewal_percent_threshold",
        "--renewal-percent-threshold",
        "EUREKA_EMBED_RENEWAL_PERCENT_THRESHOLD",
        _fraction,
    ),
    ("log_level", "--log-level", "EUREKA_EMBED_LOG_LEVEL", _level),
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eureka_embed")
    except PackageNotFoundError:  # run from a source tree that was never installed
        import eureka_embed

        return eureka_embed.__version__


def _build_parser() -> _Parser:
    defaults = ServeOptions()
    parser = _Parser(prog=PROG, description="An embeddable, Netflix-Eureka-compatible registry.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    serve = commands.add_parser(
        "serve",
        help="run a standalone Eureka server",
        description="Run a standalone Eureka server until SIGTERM or SIGINT. Each option can "
        "also be set by the environment variable shown; a flag wins over the variable.",
    )
    helps = {
        "host": f"address to listen on (default {defaults.host})",
        "port": f"port to listen on, 0 for any free one (default {defaults.port})",
        "store": f"where the registry is kept (default {defaults.store})",
        "eviction_interval_s": "seconds between evictions of expired leases "
        f"(default {defaults.eviction_interval_s:g})",
        "renewal_percent_threshold": "self-preservation engages when renewals fall to this "
        f"fraction of the expected ones (default {defaults.renewal_percent_threshold})",
        "log_level": f"one of {', '.join(_LOG_LEVELS)} (default {defaults.log_level})",
    }
    metavars = {
        "host": "HOST",
        "port": "PORT",
        "store": "URL",
        "eviction_interval_s": "SECONDS",
        "renewal_percent_threshold": "F",
        "log_level": "LEVEL",
    }
    for dest, flag, env, parse in _SERVE_OPTIONS:
        serve.add_argument(
            flag,
            dest=dest,
            metavar=metavars[dest],
            type=_argparse_type(flag, parse),
            help=f"{helps[dest]} [env {env}]",
        )
    serve.add_argument(
        "--peer",
        dest="peers",
        metavar="URL",
        action="append",
        type=_argparse_type("--peer", _peer_urls),
        help="another node of a replicating cluster, e.g. http://eureka-b:8761/eureka/; repeat "
        "it or give a comma-separated list (this node's own URL is recognised and skipped) "
        "[env EUREKA_EMBED_PEERS, comma-separated]",
    )
    serve.add_argument(
        "--auto-migrate",
        dest="auto_migrate",
        action=argparse.BooleanOptionalAction,
        help="upgrade an out-of-date PostgreSQL/MariaDB schema at start instead of refusing "
        "to start (SQLite files are always upgraded) [env EUREKA_EMBED_AUTO_MIGRATE=true|false]",
    )
    serve.add_argument(
        "--self-preservation",
        dest="self_preservation",
        action=argparse.BooleanOptionalAction,
        help="keep expired leases while too few renewals arrive, as Eureka does "
        "(default on) [env EUREKA_EMBED_SELF_PRESERVATION=true|false]",
    )
    db = commands.add_parser(
        "db",
        help="manage the schema of a SQL store",
        description="Show or upgrade the schema of a SQL store (Alembic migrations).",
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_commands.required = True
    for action, text in (
        ("upgrade", "upgrade the schema to the newest revision"),
        ("current", "show the schema's revision and whether it is current"),
    ):
        sub = db_commands.add_parser(action, help=text, description=text)
        sub.add_argument(
            "--store",
            dest="store",
            metavar="URL",
            type=_argparse_type("--store", _text),
            help=f"the SQL store (default {defaults.store}) [env EUREKA_EMBED_STORE]",
        )
    return parser


def parse_serve_options(
    argv: Sequence[str], environ: Mapping[str, str] | None = None
) -> ServeOptions:
    """The options of ``serve ARGV...``: flags, then environment, then defaults.

    :raises UsageError: a bad flag or environment value.
    """
    args = _build_parser().parse_args(["serve", *argv])
    return _serve_options(args, os.environ if environ is None else environ)


def _serve_options(args: argparse.Namespace, environ: Mapping[str, str]) -> ServeOptions:
    d = ServeOptions()
    if args.peers is not None:  # one tuple per --peer flag
        args.peers = tuple(url for urls in args.peers for url in urls)

    def pick(dest: str, env: str, parse: Callable[[str], T], default: T) -> T:
        flag_value: T | None = getattr(args, dest)
        if flag_value is not None:
            return flag_value
        raw = environ.get(env, "")
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise UsageError(f"environment variable {env} {exc}") from None

    return ServeOptions(
        host=pick("host", "EUREKA_EMBED_HOST", _text, d.host),
        port=pick("port", "EUREKA_EMBED_PORT", _port, d.port),
        store=pick("store", "EUREKA_EMBED_STORE", _text, d.store),
        eviction_interval_s=pick(
            "eviction_interval_s",
            "EUREKA_EMBED_EVICTION_INTERVAL",
            _seconds,
            d.eviction_interval_s,
        ),
        self_preservation=pick(
            "self_preservation", "EUREKA_EMBED_SELF_PRESERVATION", _boolean, d.self_preservation
        ),
        renewal_percent_threshold=pick(
            "renewal_percent_threshold",
            "EUREKA_EMBED_RENEWAL_PERCENT_THRESHOLD",
            _fraction,
            d.renewal_percent_threshold,
        ),
        log_level=pick("log_level", "EUREKA_EMBED_LOG_LEVEL", _level, d.log_level),
        auto_migrate=pick("auto_migrate", "EUREKA_EMBED_AUTO_MIGRATE", _boolean, d.auto_migrate),
        peers=pick("peers", "EUREKA_EMBED_PEERS", _peer_urls, d.peers),
    )


# ---------------------------------------------------------------------- running


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level != "debug":
        # Alembic narrates every plugin and migration step at INFO; a schema upgrade at start
        # is worth one line of ours, not a dozen of its.
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _serve(options: ServeOptions) -> int:
    # Imported here so that --help, --version and input errors work without the server extra.
    try:
        from eureka_embed.registry import Registry
        from eureka_embed.server import EurekaServer
        from eureka_embed.storage import store_from_url
    except ModuleNotFoundError as exc:
        if exc.name not in _SERVER_EXTRA:
            raise  # not a missing dependency but a bug: the traceback is what helps
        _error(f"the server needs the 'server' extra: pip install 'eureka_embed[server]' ({exc})")
        return EXIT_FAILURE
    try:
        # None leaves the choice to the store: SQLite files upgrade, server databases refuse.
        store = store_from_url(options.store, auto_migrate=True if options.auto_migrate else None)
    except InvalidInput as exc:
        _error(exc.reason)
        return EXIT_USAGE
    except StorageError as exc:
        _error(exc.reason)
        return EXIT_FAILURE
    registry = Registry(store, options.registry_config())
    try:
        server = EurekaServer(registry, host=options.host, port=options.port, peers=options.peers)
        try:
            server.listen()
        except OSError as exc:
            server.stop()
            return _listen_failed(options, exc)
        # Everything loaded so far (modules, the restored registry) lives as long as the
        # process: frozen, the collector stops re-scanning it on every full collection, which
        # otherwise costs each request more than the request itself spends in our code.
        gc.freeze()
        server.serve_forever()
    finally:
        registry.close()
        store.close()  # ours, not the registry's: it was given the store
    return EXIT_OK


def _listen_failed(options: ServeOptions, exc: OSError) -> int:
    where = f"{options.host}:{options.port}"
    if isinstance(exc, socket.gaierror):
        _error(f"cannot listen on {where}: unknown host ({exc.strerror})")
        return EXIT_USAGE
    _error(f"cannot listen on {where}: {exc.strerror or exc}")
    return EXIT_FAILURE


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _db(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``eureka-embed db upgrade|current``: one line on stdout, errors as for ``serve``."""
    url = args.store or environ.get("EUREKA_EMBED_STORE", "").strip() or ServeOptions().store
    try:
        import sqlalchemy as sa

        from eureka_embed.storage import migrate
        from eureka_embed.storage.sql_engine import create_store_engine
    except ImportError as exc:
        _error(f"db commands need the 'sql' extra: pip install 'eureka_embed[sql]' ({exc})")
        return EXIT_FAILURE
    try:
        engine = create_store_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        _error(f"store URL {url!r} is not a SQL database URL this installation can open ({exc})")
        return EXIT_USAGE
    shown = engine.url.render_as_string()
    try:
        if args.db_command == "upgrade":
            migrate.upgrade(engine)
            print(f"{shown}: schema upgraded to revision {migrate.head_revision()}")
            return EXIT_OK
        current = migrate.current_revision(engine)
        head = migrate.head_revision()
        state = "current" if current == head else f"not current (newest is {head})"
        print(f"{shown}: revision {current or 'none'}, {state}")
        return EXIT_OK
    except sa.exc.DBAPIError as exc:
        message = str(exc.orig).strip().splitlines()
        _error(f"{shown}: {message[0] if message else type(exc).__name__}")
        return EXIT_FAILURE
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _build_parser().parse_args(args_list)
        if args.command == "db":
            return _db(args, os.environ)
        options = _serve_options(args, os.environ)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version print and "exit" through argparse
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    _configure_logging(options.log_level)
    try:
        return _serve(options)
    except KeyboardInterrupt:  # Ctrl-C before the server installed its own handler
        return 130
