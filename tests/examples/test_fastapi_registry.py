"""``examples/fastapi_registry.py`` as a real process on uvicorn: the registry mounted under
``/registry`` of a FastAPI application serves a real Eureka client (py_eureka_client) and our
``DiscoveryClient`` (register, heartbeats, discovery), beside the application's own route."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from eureka_embed.client import DiscoveryClient
from tests.client.test_discovery_live import ME, _config
from tests.examples.test_examples import EXAMPLES, ROOT
from tests.integration.test_py_eureka_client import _client
from tests.server.support import (
    LineReader,
    app_instances,
    child_env,
    get_json,
    live_instance,
    wait_for,
)

READY = re.compile(r"serving on (http://\S+)")


@contextmanager
def _example() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "fastapi_registry.py"), "--port", "0"],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = LineReader(process.stdout, "fastapi-example")
    try:
        yield process, output.wait_for(READY, timeout=20).group(1)
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0, output.text()
        assert "Traceback" not in output.text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        output.join()
        if process.stdout is not None:
            process.stdout.close()


def test_a_fastapi_app_serves_eureka_clients_under_registry() -> None:
    with _example() as (_, base):
        assert base.endswith("/registry/eureka/")
        root = base.removesuffix("/registry/eureka/")
        assert get_json(f"{root}/hello") == {"hello": "from the application's own route"}

        with ExitStack() as processes:
            greeter = processes.enter_context(_client(base, "greeter"))
            port = greeter.expect("started")["port"]
            [listed] = app_instances(base, "PY-GREETER")
            since = int(listed["leaseInfo"]["lastRenewalTimestamp"])
            wait_for(
                lambda: (
                    (found := live_instance(base, "PY-GREETER", listed["instanceId"])) is not None
                    and int(found["leaseInfo"]["lastRenewalTimestamp"]) > since
                ),
                what="a heartbeat of py_eureka_client through the mount",
            )
            caller = processes.enter_context(_client(base, "caller"))
            caller.expect("started")
            assert caller.expect("discovered")["answer"] == "hello from greeter"

            with DiscoveryClient(_config(base)) as client:
                wait_for(lambda: live_instance(base, "LIVE", ME), what="DiscoveryClient's register")
                found = wait_for(
                    lambda: client.get_instances("py-greeter") or None,
                    what="DiscoveryClient discovering py_eureka_client's instance",
                )
                assert [i.port.port for i in found] == [port]
            assert live_instance(base, "LIVE", ME) is None, "DiscoveryClient cancelled on close"

            for run in (greeter, caller):
                run.send("stop")
                run.expect("stopped")
                assert run.finish() == 0
        assert app_instances(base, "PY-GREETER") == []
