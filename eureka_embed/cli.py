"""The ``eureka-embed`` command.

Every ``serve`` option can also come from an environment variable (``EUREKA_EMBED_PORT`` for
``--port``, ...), as containers are usually configured; a flag beats the variable, which beats
the default. Bad input of either kind is one line on stderr and exit status 2, never a traceback.

Each option is declared once, as a field of :class:`ServeOptions`: its default, flag,
environment variable, parser and help (see :func:`_option`). The parser, the environment
lookup, ``--help`` and the precedence all read that declaration.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from eureka_embed import option_values as values
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InvalidInput, StorageError
from eureka_embed.log_format import json_formatter
from eureka_embed.replication.settings import ReplicationSettings

if TYPE_CHECKING:
    from eureka_embed.asgi_server import UvicornServer
    from eureka_embed.http.fetch_limit import FetchRateLimit
    from eureka_embed.registry import Registry
    from eureka_embed.remote_regions import RemoteRegion
    from eureka_embed.replication.peer_dns import PeerDnsName
    from eureka_embed.server import EurekaServer

__all__ = ["ServeOptions", "UsageError", "main", "parse_serve_options"]

PROG = "eureka-embed"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
#: The GIL's switch interval ``serve`` runs with (CPython's default is 5 ms; see _serve).
SWITCH_INTERVAL_S = 0.001

#: The packages of the ``server`` extra, top-level names as ModuleNotFoundError reports them.
_SERVER_EXTRA = frozenset({"falcon", "waitress", "prometheus_client"})
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_LOG_FORMATS = ("text", "json")
#: The commands of :mod:`eureka_embed.operator_cli`.
_OPERATOR_COMMANDS = frozenset({"apps", "out-of-service", "in-service", "deregister"})
_SERVERS = ("waitress", "uvicorn")
#: What ``--server uvicorn`` adds to the server extra (ModuleNotFoundError names).
_ASGI_EXTRA = frozenset({"uvicorn"})

T = TypeVar("T")


class UsageError(Exception):
    """Bad command-line or environment input; the message is shown as is."""


# ---------------------------------------------------------------------- declaring options


@dataclass(frozen=True, slots=True)
class _Option:
    """How one :class:`ServeOptions` field is given: flag, environment variable, parser, help."""

    flag: str
    env: str
    #: Text to value, raising ValueError with the reason (see :mod:`eureka_embed.option_values`).
    parse: Callable[[str], Any]
    help: str
    #: The flag's argument in ``--help``; none makes a switch: ``--flag`` / ``--no-flag``.
    metavar: str | None = None
    #: The flag may be repeated and its values add up (each is a tuple).
    repeat: bool = False


_OPTION = "eureka_embed.cli.option"


def _option(
    default: T,
    flag: str,
    env: str,
    parse: Callable[[str], T],
    help: str,
    *,
    metavar: str | None = None,
    repeat: bool = False,
) -> T:
    """A :class:`ServeOptions` field with its default, and how it is given (:class:`_Option`)."""
    declared = _Option(flag, env, parse, help, metavar, repeat)
    # field() is typed to return T for the type checker; at run time it is the Field.
    return field(default=default, metadata={_OPTION: declared})


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


def _peer_dns_names(text: str) -> tuple[PeerDnsName, ...]:
    """One or more comma-separated ``NAME:PORT`` (``https://NAME:PORT/path/`` in full)."""
    from eureka_embed.replication.peer_dns import PeerDnsName

    try:
        names = tuple(PeerDnsName.parse(part) for part in text.split(",") if part.strip())
    except InvalidInput as exc:
        raise ValueError(exc.reason) from None
    if not names:
        raise ValueError("must name at least one NAME:PORT such as eureka-headless:8761")
    return names


def _remote_regions(text: str) -> tuple[RemoteRegion, ...]:
    """One or more comma-separated ``NAME=URL``."""
    from eureka_embed.remote_regions import RemoteRegion

    return tuple(RemoteRegion.parse(part) for part in text.split(",") if part.strip())


def _rate(text: str) -> float:
    """A positive number per second."""
    try:
        rate = float(text)
    except ValueError:
        raise ValueError(f"must be a number per second, got {text!r}") from None
    if not rate > 0 or rate == float("inf"):
        raise ValueError(f"must be a positive number per second, got {text!r}")
    return rate


def _names(text: str) -> tuple[str, ...]:
    """One or more comma-separated names."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise ValueError("must name at least one client, e.g. DiscoveryIdentity-Name's value")
    return names


def _file(text: str) -> str:
    """A path to an existing file (read when the server starts)."""
    path = values.non_empty(text)
    if not os.path.isfile(path):
        raise ValueError(f"names no file: {path!r}")
    return path


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``eureka-embed serve`` runs with, after flags, environment and defaults."""

    host: str = _option(
        "127.0.0.1",
        "--host",
        "EUREKA_EMBED_HOST",
        values.non_empty,
        "address to listen on",
        metavar="HOST",
    )
    port: int = _option(
        8761,
        "--port",
        "EUREKA_EMBED_PORT",
        values.port,
        "port to listen on, 0 for any free one",
        metavar="PORT",
    )
    store: str = _option(
        "sqlite:///eureka.db",
        "--store",
        "EUREKA_EMBED_STORE",
        values.non_empty,
        "where the registry is kept",
        metavar="URL",
    )
    eviction_interval_s: float = _option(
        60.0,
        "--eviction-interval",
        "EUREKA_EMBED_EVICTION_INTERVAL",
        values.positive_seconds,
        "seconds between evictions of expired leases",
        metavar="SECONDS",
    )
    self_preservation: bool = _option(
        True,
        "--self-preservation",
        "EUREKA_EMBED_SELF_PRESERVATION",
        values.boolean,
        "keep expired leases while too few renewals arrive, as Eureka does",
    )
    renewal_percent_threshold: float = _option(
        0.85,
        "--renewal-percent-threshold",
        "EUREKA_EMBED_RENEWAL_PERCENT_THRESHOLD",
        values.fraction,
        "self-preservation engages when renewals fall to this fraction of the expected ones",
        metavar="F",
    )
    log_level: str = _option(
        "info",
        "--log-level",
        "EUREKA_EMBED_LOG_LEVEL",
        values.one_of(_LOG_LEVELS),
        f"one of {', '.join(_LOG_LEVELS)}",
        metavar="LEVEL",
    )
    #: Upgrade a server database's schema at start (SQLite files are always upgraded).
    auto_migrate: bool = _option(
        False,
        "--auto-migrate",
        "EUREKA_EMBED_AUTO_MIGRATE",
        values.boolean,
        "upgrade an out-of-date PostgreSQL/MariaDB schema at start instead of refusing to "
        "start (SQLite files are always upgraded)",
    )
    #: Service URLs of the other nodes of a replicating cluster (this node's own is skipped).
    peers: tuple[str, ...] = _option(
        (),
        "--peer",
        "EUREKA_EMBED_PEERS",
        _peer_urls,
        "another node of a replicating cluster, e.g. http://eureka-b:8761/eureka/; repeat it "
        "or give a comma-separated list (this node's own URL is recognised and skipped)",
        metavar="URL",
        repeat=True,
    )
    #: The same as the server's DEFAULT_CONNECTION_LIMIT (a test checks); not imported from
    #: there, so --help and bad input need no waitress.
    connection_limit: int = _option(
        10_000,
        "--connection-limit",
        "EUREKA_EMBED_CONNECTION_LIMIT",
        values.whole_number(1),
        "open connections the node holds, idle keep-alive ones included (two per "
        "DiscoveryClient); one more is answered 503 at once, so its client tries another node",
        metavar="N",
    )
    request_timeout_s: float = _option(
        30.0,
        "--request-timeout",
        "EUREKA_EMBED_REQUEST_TIMEOUT",
        values.positive_seconds,
        "seconds a request may take to arrive whole from its first byte; a slower one is "
        "answered 408 and closed",
        metavar="SECONDS",
    )
    #: None: a quarter of ``threads`` (the server's default_max_watchers), so that raising
    #: --threads raises it too.
    max_watchers: int | None = _option(
        None,
        "--max-watchers",
        "EUREKA_EMBED_MAX_WATCHERS",
        values.whole_number(0),
        "watching reads (?index=) held at once, each on a worker thread; more are answered at "
        "once, so heartbeats always find a thread (0 answers every watch at once; default: a "
        "quarter of --threads, at least 1)",
        metavar="N",
    )

    #: Which HTTP server runs the node; uvicorn needs the ``asgi`` extra.
    server: str = _option(
        "waitress",
        "--server",
        "EUREKA_EMBED_SERVER",
        values.one_of(_SERVERS),
        "waitress (pure Python, fine for small fleets) or uvicorn (asyncio: thousands of "
        "clients; needs the 'asgi' extra)",
        metavar="NAME",
    )
    threads: int = _option(
        8,
        "--threads",
        "EUREKA_EMBED_THREADS",
        values.whole_number(1),
        "waitress: worker threads, one per request being answered; uvicorn: threads for the "
        "work that may block (writes through to the store), heartbeats and reads need none",
        metavar="N",
    )

    #: The credentials file (see :mod:`eureka_embed.auth.credentials`); None: open, as Eureka.
    auth: str | None = _option(
        None,
        "--auth",
        "EUREKA_EMBED_AUTH",
        _file,
        "credentials file (TOML: users, their password hashes and roles; see the README): "
        "requests need HTTP Basic credentials with the right role (default: open to anyone)",
        metavar="FILE",
    )
    tls_cert: str | None = _option(
        None,
        "--tls-cert",
        "EUREKA_EMBED_TLS_CERT",
        _file,
        "serve HTTPS with this certificate (PEM; --server uvicorn only, with --tls-key)",
        metavar="FILE",
    )
    tls_key: str | None = _option(
        None,
        "--tls-key",
        "EUREKA_EMBED_TLS_KEY",
        _file,
        "the private key of --tls-cert (PEM)",
        metavar="FILE",
    )
    tls_client_ca: str | None = _option(
        None,
        "--tls-client-ca",
        "EUREKA_EMBED_TLS_CLIENT_CA",
        _file,
        "require client certificates signed by this CA (PEM): mutual TLS",
        metavar="FILE",
    )
    peer_ca_file: str | None = _option(
        None,
        "--peer-ca-file",
        "EUREKA_EMBED_PEER_CA_FILE",
        _file,
        "CA certificates (PEM) that https:// peers are verified with, instead of the system's",
        metavar="FILE",
    )
    peer_cert: str | None = _option(
        None,
        "--peer-cert",
        "EUREKA_EMBED_PEER_CERT",
        _file,
        "this node's client certificate (PEM) for peers that require one",
        metavar="FILE",
    )
    peer_key: str | None = _option(
        None,
        "--peer-key",
        "EUREKA_EMBED_PEER_KEY",
        _file,
        "the private key of --peer-cert, when it is in a file of its own",
        metavar="FILE",
    )
    peer_dns: tuple[PeerDnsName, ...] = _option(
        (),
        "--peer-dns",
        "EUREKA_EMBED_PEER_DNS",
        _peer_dns_names,
        "a name whose addresses are the peers (a Kubernetes headless Service), as NAME:PORT "
        "(https://NAME:PORT for HTTPS, a path after the port for a base path other than "
        "/eureka/); resolved again every --peer-dns-interval, this node's own address skipped",
        metavar="NAME:PORT",
        repeat=True,
    )
    peer_dns_interval_s: float = _option(
        30.0,
        "--peer-dns-interval",
        "EUREKA_EMBED_PEER_DNS_INTERVAL",
        values.positive_seconds,
        "seconds between resolutions of the --peer-dns names",
        metavar="SECONDS",
    )

    log_format: str = _option(
        "text",
        "--log-format",
        "EUREKA_EMBED_LOG_FORMAT",
        values.one_of(_LOG_FORMATS),
        "text (one readable line per record) or json (one JSON object per line, for log "
        "collectors)",
        metavar="FORMAT",
    )
    rate_limit: bool = _option(
        False,
        "--rate-limit",
        "EUREKA_EMBED_RATE_LIMIT",
        values.boolean,
        "limit full and delta fetches as Eureka's RateLimitingFilter does: beyond the rates "
        "below they are answered 503; clients that send DiscoveryIdentity-Name DefaultClient "
        "or DefaultServer (Eureka's own), or a --rate-limit-privileged name, are never limited",
    )
    rate_limit_burst: int = _option(
        10,
        "--rate-limit-burst",
        "EUREKA_EMBED_RATE_LIMIT_BURST",
        values.whole_number(1),
        "fetches let through at once before the rates apply",
        metavar="N",
    )
    rate_limit_fetch_rate: float = _option(
        500.0,
        "--rate-limit-fetch-rate",
        "EUREKA_EMBED_RATE_LIMIT_FETCH_RATE",
        _rate,
        "full and delta fetches per second, together",
        metavar="PER_SECOND",
    )
    rate_limit_full_fetch_rate: float = _option(
        100.0,
        "--rate-limit-full-fetch-rate",
        "EUREKA_EMBED_RATE_LIMIT_FULL_FETCH_RATE",
        _rate,
        "full fetches per second",
        metavar="PER_SECOND",
    )
    rate_limit_privileged: tuple[str, ...] = _option(
        (),
        "--rate-limit-privileged",
        "EUREKA_EMBED_RATE_LIMIT_PRIVILEGED",
        _names,
        "a DiscoveryIdentity-Name never limited; repeat it or give a comma-separated list",
        metavar="NAME",
        repeat=True,
    )
    rate_limit_standard_clients: bool = _option(
        False,
        "--rate-limit-standard-clients",
        "EUREKA_EMBED_RATE_LIMIT_STANDARD_CLIENTS",
        values.boolean,
        "limit every client, Eureka's own and the privileged ones too (Eureka's "
        "rateLimiterThrottleStandardClients)",
    )
    remote_regions: tuple[RemoteRegion, ...] = _option(
        (),
        "--remote-region",
        "EUREKA_EMBED_REMOTE_REGIONS",
        _remote_regions,
        "another region's registry to follow and serve to reads with ?regions=NAME, as "
        "NAME=URL; repeat it or give a comma-separated list",
        metavar="NAME=URL",
        repeat=True,
    )
    remote_region_fetch_interval_s: float = _option(
        30.0,
        "--remote-region-fetch-interval",
        "EUREKA_EMBED_REMOTE_REGION_FETCH_INTERVAL",
        values.positive_seconds,
        "seconds between fetches of each remote region's registry (Eureka's default)",
        metavar="SECONDS",
    )

    def fetch_limit(self) -> FetchRateLimit | None:
        """The limit of ``--rate-limit``, or None when it is off."""
        if not self.rate_limit:
            return None
        from eureka_embed.http.fetch_limit import FetchRateLimit

        return FetchRateLimit(
            burst=self.rate_limit_burst,
            fetch_rate=self.rate_limit_fetch_rate,
            full_fetch_rate=self.rate_limit_full_fetch_rate,
            privileged_clients=self.rate_limit_privileged,
            throttle_standard_clients=self.rate_limit_standard_clients,
        )

    def replication_settings(self) -> ReplicationSettings | None:
        if self.peer_ca_file is None and self.peer_cert is None and self.peer_key is None:
            return None
        return ReplicationSettings(
            ca_file=self.peer_ca_file, client_cert=self.peer_cert, client_key=self.peer_key
        )

    def registry_config(self) -> RegistryConfig:
        return RegistryConfig(
            self_preservation=self.self_preservation,
            renewal_percent_threshold=self.renewal_percent_threshold,
            eviction_interval_ms=max(round(self.eviction_interval_s * 1000), 1),
        )


def _declared(name: str) -> tuple[Field[Any], _Option]:
    found = next(f for f in fields(ServeOptions) if f.name == name)
    return found, found.metadata[_OPTION]


_SERVE_FIELDS = tuple(f.name for f in fields(ServeOptions))


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


def _shown_default(default: object) -> str | None:
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, tuple) or default is None:
        return None  # nothing to show for "none"
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def _add_option(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the flag of the :class:`ServeOptions` field ``name`` to ``parser``."""
    declared_field, option = _declared(name)
    shown = _shown_default(declared_field.default)
    text = option.help + (f" (default {shown})" if shown is not None else "")
    if option.metavar is None:
        parser.add_argument(
            option.flag,
            dest=name,
            action=argparse.BooleanOptionalAction,
            help=f"{text} [env {option.env}=true|false]",
        )
        return
    parser.add_argument(
        option.flag,
        dest=name,
        metavar=option.metavar,
        type=_argparse_type(option.flag, option.parse),
        action="append" if option.repeat else "store",
        help=f"{text} [env {option.env}{', comma-separated' if option.repeat else ''}]",
    )


def _pick(args: argparse.Namespace, environ: Mapping[str, str], name: str) -> Any:
    """The value of option ``name``: its flag, else its environment variable, else its default."""
    declared_field, option = _declared(name)
    given = getattr(args, name, None)
    if given is not None:
        # A repeated flag gives one tuple per use.
        return tuple(item for part in given for item in part) if option.repeat else given
    raw = environ.get(option.env, "")
    if not raw:  # an empty variable means unset, as in most shells' ${VAR:-default}
        return declared_field.default
    try:
        return option.parse(raw)
    except ValueError as exc:
        raise UsageError(f"environment variable {option.env} {exc}") from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eureka_embed")
    except PackageNotFoundError:  # run from a source tree that was never installed
        import eureka_embed

        return eureka_embed.__version__


def _build_parser() -> _Parser:
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
    for name in _SERVE_FIELDS:
        _add_option(serve, name)
    commands.add_parser(
        "hash-password",
        help="print the hash of a password for the credentials file",
        description="Read a password (asked twice on a terminal, else one line of standard "
        'input) and print its salted scrypt hash, for password = "..." in the --auth file.',
    )
    from eureka_embed.operator_cli import add_operator_commands

    add_operator_commands(commands)
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
        _add_option(db_commands.add_parser(action, help=text, description=text), "store")
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
    return ServeOptions(**{name: _pick(args, environ, name) for name in _SERVE_FIELDS})


# ---------------------------------------------------------------------- running


def _configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    if level != "debug":
        # Alembic narrates every plugin and migration step at INFO; a schema upgrade at start
        # is worth one line of ours, not a dozen of its.
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _tls_refusal(options: ServeOptions) -> str | None:
    """Why the TLS flags of ``options`` cannot be served, or None."""
    given = [
        _declared(name)[1].flag
        for name in ("tls_cert", "tls_key", "tls_client_ca")
        if getattr(options, name) is not None
    ]
    if not given:
        return None
    if options.server != "uvicorn":
        return (
            f"{', '.join(given)} need --server uvicorn: waitress serves plain HTTP only (put a "
            "TLS-terminating proxy in front of it, or use --server uvicorn)"
        )
    if options.tls_cert is None or options.tls_key is None:
        return "--tls-cert and --tls-key go together (and --tls-client-ca needs both)"
    return None


def _server_refusal(options: ServeOptions) -> str | None:
    """Why ``options`` cannot run on the server they name, or None."""
    tls = _tls_refusal(options)
    if tls is not None:
        return tls
    if options.server != "uvicorn":
        return None
    declared, timeout = _declared("request_timeout_s")
    if options.request_timeout_s != declared.default:
        return (
            f"{timeout.flag} applies to --server waitress only: uvicorn has no deadline for a "
            "request to arrive whole (a slow client holds one connection, bounded by "
            "--connection-limit)"
        )
    _, watchers = _declared("max_watchers")
    if options.max_watchers is not None:
        return (
            f"{watchers.flag} applies to --server waitress only: on uvicorn a watch holds no "
            "thread, and watchers are bounded by --connection-limit alone"
        )
    return None


def _serve(options: ServeOptions) -> int:
    refusal = _server_refusal(options)
    if refusal is not None:
        _error(refusal)
        return EXIT_USAGE
    # Imported here so that --help, --version and input errors work without the server extra.
    try:
        from eureka_embed.registry import Registry
        from eureka_embed.server import EurekaServer  # noqa: F401  (the server extra is there)
        from eureka_embed.storage import store_from_url

        if options.server == "uvicorn":
            from eureka_embed.asgi_server import UvicornServer  # noqa: F401  (and the asgi one)
    except ModuleNotFoundError as exc:
        if exc.name in _ASGI_EXTRA:
            _error(
                f"--server uvicorn needs the 'asgi' extra: pip install 'eureka_embed[asgi]' ({exc})"
            )
            return EXIT_FAILURE
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
        try:
            server = _server(options, registry)
        except InvalidInput as exc:  # a credentials file or TLS files that cannot be used
            _error(exc.reason)
            return EXIT_USAGE
        try:
            server.listen()
        except OSError as exc:
            server.stop()
            return _listen_failed(options, exc)
        # Everything loaded so far (modules, the restored registry) lives as long as the
        # process: frozen, the collector stops re-scanning it on every full collection, which
        # otherwise costs each request more than the request itself spends in our code.
        gc.freeze()
        # A request passes the GIL between threads several times (waitress's loop and its
        # workers, uvicorn's loop and the write pool); with CPython's 5 ms switch interval each
        # pass waits out whatever holds the GIL, such as a delta read assembling thousands of
        # changes. In one A/B of the deploy storm (bench_http.py --storm --settle 20) heartbeat
        # p99 went from 24.5 ms at 5 ms to 17.1 ms at 1 ms; a single full run after it did not
        # show the gain beyond run-to-run spread (README, storm table). The process is ours
        # here; an embedding application keeps its own setting.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        if options.server == "uvicorn":
            from eureka_embed.asgi_server import GC_THRESHOLDS

            gc.set_threshold(*GC_THRESHOLDS)
        server.serve_forever()
    finally:
        registry.close()
        store.close()  # ours, not the registry's: it was given the store
    return EXIT_OK


def _server(options: ServeOptions, registry: Registry) -> EurekaServer | UvicornServer:
    """The server ``options`` ask for, not yet listening.

    :raises InvalidInput: a credentials file or TLS files that cannot be used.
    """
    from eureka_embed.auth import BasicAuth
    from eureka_embed.remote_regions import following
    from eureka_embed.server import EurekaServer

    auth = BasicAuth.from_file(options.auth) if options.auth is not None else None
    common: dict[str, Any] = {
        "host": options.host,
        "port": options.port,
        "threads": options.threads,
        "peers": options.peers,
        "peer_dns": options.peer_dns,
        "peer_dns_interval_s": options.peer_dns_interval_s,
        "connection_limit": options.connection_limit,
        "replication": options.replication_settings(),
        "auth": auth,
        "fetch_limit": options.fetch_limit(),
        "remote_regions": following(options.remote_regions, options.remote_region_fetch_interval_s),
    }
    if options.server == "uvicorn":
        from eureka_embed.asgi_server import ServerTls, UvicornServer

        tls = None
        if options.tls_cert is not None and options.tls_key is not None:
            tls = ServerTls(options.tls_cert, options.tls_key, options.tls_client_ca)
        return UvicornServer(registry, tls=tls, **common)
    return EurekaServer(
        registry,
        request_timeout=options.request_timeout_s,
        max_watchers=options.max_watchers,
        **common,
    )


def _hash_password() -> int:
    """``eureka-embed hash-password``: the hash on stdout, the password never echoed."""
    from eureka_embed.auth import hash_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            _error("the passwords differ")
            return EXIT_USAGE
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        _error("the password is empty")
        return EXIT_USAGE
    print(hash_password(password))
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
    url: str = _pick(args, environ, "store")
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
        if args.command == "hash-password":
            return _hash_password()
        if args.command in _OPERATOR_COMMANDS:
            from eureka_embed.operator_cli import run_operator_command

            # The command reports a failure once, itself; the client's warnings would repeat it.
            logging.getLogger("eureka_embed").setLevel(logging.ERROR)
            return run_operator_command(args, os.environ)
        options = _serve_options(args, os.environ)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version print and "exit" through argparse
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        _configure_logging(options.log_level, options.log_format)
    except ModuleNotFoundError as exc:
        _error(
            "--log-format json needs the 'server' extra: "
            f"pip install 'eureka_embed[server]' ({exc})"
        )
        return EXIT_FAILURE
    try:
        return _serve(options)
    except KeyboardInterrupt:  # Ctrl-C before the server installed its own handler
        return 130
