"""The operators' commands of ``eureka-embed``: list a registry, take instances out of service.

``apps`` prints a table of every instance; ``out-of-service``, ``in-service`` and ``deregister``
change one. They speak to any Eureka server (ours or Netflix's) through the REST client stack
of :mod:`eureka_embed.client`, so retries, redirects and errors are the client's own.

The server is ``--eureka URL``, else ``$EUREKA_EMBED_EUREKA_URL``, else
``http://127.0.0.1:8761/eureka/``. Credentials come from the URL (``http://ops:secret@host/...``)
or else from ``$EUREKA_EMBED_USER`` and ``$EUREKA_EMBED_PASSWORD``; they are never printed.
A refusal exits with status 1 and the server's reason on stderr.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TextIO

from eureka_embed.client.balancing import instance_zone
from eureka_embed.client.contract import EurekaHttpClient
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.factory import Purpose, client_stack
from eureka_embed.client.resolvers import StaticResolver
from eureka_embed.client.response import EurekaResponse
from eureka_embed.errors import EurekaError, InvalidInput
from eureka_embed.model import Applications, InstanceInfo, InstanceStatus

__all__ = ["COMMANDS", "URL_ENV", "add_operator_commands", "run_operator_command"]

URL_ENV: Final = "EUREKA_EMBED_EUREKA_URL"
USER_ENV: Final = "EUREKA_EMBED_USER"
PASSWORD_ENV: Final = "EUREKA_EMBED_PASSWORD"
DEFAULT_URL: Final = "http://127.0.0.1:8761/eureka/"
EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_USAGE: Final = 2

_HEADINGS: Final = ("APP", "INSTANCE", "STATUS", "ADDRESS", "ZONE", "LAST RENEWAL")

#: Command name -> help text.
COMMANDS: Final = {
    "apps": "list every instance of a Eureka server's registry",
    "out-of-service": "take an instance out of service (a status override)",
    "in-service": "put an instance back in service (an UP override)",
    "deregister": "remove an instance from the registry (cancel its lease)",
}


def add_operator_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the operator commands to ``eureka-embed``'s sub-command parser."""
    for name, text in COMMANDS.items():
        parser = commands.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}.")
        parser.add_argument(
            "--eureka",
            metavar="URL",
            help=f"the server's service URL (default ${URL_ENV}, else {DEFAULT_URL}); "
            f"credentials in it, or in ${USER_ENV} and ${PASSWORD_ENV}",
        )
        if name != "apps":
            parser.add_argument("app", metavar="APP", help="the application, e.g. ORDERS")
            parser.add_argument("instance_id", metavar="ID", help="the instance id")


def run_operator_command(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now_ms: Callable[[], int] | None = None,
) -> int:
    """Run the command ``args`` names; the exit status (0, 1 when refused, 2 for bad input)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        endpoint = _endpoint(args.eureka, environ)
    except InvalidInput as exc:
        print(f"eureka-embed: error: {exc.reason}", file=err)
        return EXIT_USAGE
    purpose: Purpose = "query" if args.command == "apps" else "registration"
    client = client_stack(StaticResolver([endpoint]), purpose)
    try:
        if args.command == "apps":
            response: EurekaResponse[Any] = client.get_applications()
            if response.ok and isinstance(response.entity, Applications):
                clock = now_ms if now_ms is not None else _now_ms
                out.write(render_table(response.entity, clock()))
                return EXIT_OK
        else:
            response = _change(client, args.command, args.app, args.instance_id)
            if response.ok:
                print(f"{args.command}: {args.app.upper()}/{args.instance_id}: done", file=out)
                return EXIT_OK
    except EurekaError as exc:
        print(f"eureka-embed: error: {endpoint.url}: {exc.reason}", file=err)
        return EXIT_REFUSED
    finally:
        client.shutdown()
    reason = response.text.strip() or "no reason given"
    print(f"eureka-embed: error: {endpoint.url} answered {response.status}: {reason}", file=err)
    return EXIT_REFUSED


def _change(
    client: EurekaHttpClient, command: str, app: str, instance_id: str
) -> EurekaResponse[Any]:
    if command == "deregister":
        return client.cancel(app, instance_id)
    status = InstanceStatus.OUT_OF_SERVICE if command == "out-of-service" else InstanceStatus.UP
    return client.status_update(app, instance_id, status)


def _endpoint(url: str | None, environ: Mapping[str, str]) -> EurekaEndpoint:
    """The server to ask, with the URL's credentials, else those of the environment."""
    endpoint = EurekaEndpoint.parse(url or environ.get(URL_ENV) or DEFAULT_URL)
    user = environ.get(USER_ENV)
    if endpoint.username is None and user:
        return EurekaEndpoint(endpoint.url, None, user, environ.get(PASSWORD_ENV, ""))
    return endpoint


def _now_ms() -> int:
    return int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)


def render_table(applications: Applications, now_ms: int) -> str:
    """Every instance, one row each, by application then instance id; columns aligned."""
    rows = [
        _row(instance, now_ms)
        for app in sorted(applications.applications, key=lambda a: a.name)
        for instance in sorted(app.instances, key=lambda i: i.instance_id)
    ]
    if not rows:
        return "no instances registered\n"
    table = [_HEADINGS, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(_HEADINGS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in table
    ]
    return "".join(line.rstrip() + "\n" for line in lines)


def _row(instance: InstanceInfo, now_ms: int) -> Sequence[str]:
    status = instance.status.value
    if instance.overridden_status is not InstanceStatus.UNKNOWN:
        status += f" (override {instance.overridden_status.value})"
    renewed = instance.lease_info.last_renewal_timestamp
    return (
        instance.app,
        instance.instance_id,
        status,
        f"{instance.ip_addr}:{instance.port.port}",
        instance_zone(instance) or "-",
        _ago(now_ms - renewed) if renewed else "-",
    )


def _ago(ms: int) -> str:
    seconds = max(ms, 0) // 1000
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"
