"""Two services that find each other through Eureka.

``quotes`` serves a quote over HTTP; ``frontend`` answers its own requests by looking ``quotes``
up with :meth:`DiscoveryClient.next_server` and calling it. Each service registers itself with a
:class:`DiscoveryClient` at start, sends heartbeats and refreshes its copy of the registry while
it runs, and cancels its registration when it stops. Both use a Eureka server this script starts
in-process, or the one given with ``--eureka``.

Run it::

    python examples/discovery_service.py              # until Ctrl-C; prints the URLs to try
    python examples/discovery_service.py --eureka http://127.0.0.1:8761/eureka/
    python examples/discovery_service.py --check      # the whole story in a few seconds, exit 0
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eureka_embed.client import DiscoveryClient, DiscoveryConfig, TransportConfig
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer

#: An answer: HTTP status and a JSON-able body.
Answer = tuple[int, dict[str, object]]


class TinyService:
    """An HTTP service on 127.0.0.1 (a free port) whose every GET is answered by ``handle``."""

    def __init__(self, handle: Callable[[str], Answer]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = handle(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the example's output to the story

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        self._thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def __enter__(self) -> TinyService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self._thread.join()
        self.http.server_close()


def discovery_config(app: str, port: int, eureka_url: str, *, fast: bool) -> DiscoveryConfig:
    """How a service registers; ``fast`` shortens Eureka's 30 s intervals for ``--check``."""
    interval = 0.5 if fast else 30.0
    return DiscoveryConfig(
        app,
        service_urls=eureka_url,
        host_name="127.0.0.1",
        ip_addr="127.0.0.1",
        port=port,
        lease_renewal_interval_s=interval,
        registry_fetch_interval_s=interval,
        lease_duration_s=3 * interval,
        transport=TransportConfig(connect_timeout_s=2, read_timeout_s=5),
    )


def get_json(url: str) -> Answer:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


@contextmanager
def quotes_service(eureka_url: str, *, fast: bool) -> Iterator[DiscoveryClient]:
    """The ``quotes`` service, registered while the block runs."""
    lines = ["Simple things should be simple.", "Now is better than never."]
    served = itertools.count()

    def handle(path: str) -> Answer:
        return 200, {"quote": lines[next(served) % len(lines)], "port": service.port}

    with TinyService(handle) as service:
        config = discovery_config("quotes", service.port, eureka_url, fast=fast)
        with DiscoveryClient(config) as client:  # registers now, cancels on exit
            yield client


@contextmanager
def frontend_service(eureka_url: str, *, fast: bool) -> Iterator[tuple[str, DiscoveryClient]]:
    """The ``frontend`` service and its URL; it calls whichever ``quotes`` instance is next."""
    client: DiscoveryClient | None = None

    def handle(path: str) -> Answer:
        assert client is not None
        quotes = client.next_server("quotes")  # from the local registry copy: no network
        if quotes is None:
            return 503, {"error": "no quotes instance is UP"}
        status, body = get_json(f"http://{quotes.ip_addr}:{quotes.port.port}/quote")
        return status, {"via": quotes.instance_id, **body}

    with TinyService(handle) as service:
        config = discovery_config("frontend", service.port, eureka_url, fast=fast)
        with DiscoveryClient(config) as client:
            yield f"http://127.0.0.1:{service.port}/", client


@contextmanager
def eureka(url: str | None) -> Iterator[str]:
    """The given server's URL, or a server of our own (memory store) for the block."""
    if url is not None:
        yield url
        return
    registry = Registry()
    try:
        with EurekaServer(registry) as server:
            yield server.base_url
    finally:
        registry.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"check failed: {what} within {timeout:.0f} s")
        time.sleep(0.05)


def check(eureka_url: str | None) -> None:
    with eureka(eureka_url) as url, ExitStack() as running_quotes:
        quotes = running_quotes.enter_context(quotes_service(url, fast=True))
        print(f"eureka at {url}; quotes registered as {quotes.instance.instance_id}")
        with frontend_service(url, fast=True) as (frontend_url, frontend):
            status, body = get_json(frontend_url)
            if status != 200 or body.get("via") != quotes.instance.instance_id:
                raise SystemExit(f"check failed: frontend answered {status} {body}")
            print(f"frontend -> {body['via']}: {body['quote']}")

            wait_until(lambda: quotes.stats().heartbeats >= 2, "two heartbeats from quotes")
            print(f"quotes sent {quotes.stats().heartbeats} heartbeats")

            running_quotes.close()  # quotes stops; its client cancels the registration
            wait_until(lambda: frontend.next_server("quotes") is None, "frontend to notice")
            status, body = get_json(frontend_url)
            if status != 503:
                raise SystemExit(f"check failed: quotes still called after it stopped: {body}")
            print(f"after quotes stopped, frontend answers {status}: {body['error']}")
    print("ok: registered, discovered, called, heartbeated and deregistered")


def serve(eureka_url: str | None) -> None:
    with (
        eureka(eureka_url) as url,
        quotes_service(url, fast=False),
        frontend_service(url, fast=False) as (frontend_url, _),
    ):
        print(f"eureka: {url}\nfrontend: {frontend_url} (Ctrl-C to stop)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping: both services cancel their registrations")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Two services that find each other via Eureka.")
    parser.add_argument("--eureka", metavar="URL", help="a Eureka service URL (default: own)")
    parser.add_argument("--check", action="store_true", help="run the whole story and exit")
    args = parser.parse_args(argv)
    if args.check:
        check(args.eureka)
    else:
        serve(args.eureka)
    return 0


if __name__ == "__main__":
    sys.exit(main())
