"""``examples/fastapi_service.py`` as a real process against a real ``eureka-embed serve``: both
services register in their lifespan, orders calls payments by name, both deregister on SIGINT,
and asyncio's debug mode logs no slow callback (a blocked event loop) on the way."""

from __future__ import annotations

import functools
import re
import signal
import subprocess
import sys

from tests.examples.test_examples import EXAMPLES, ROOT
from tests.server.support import (
    LineReader,
    app_instances,
    child_env,
    get_json,
    live_instance,
    serve_process,
    wait_for,
)

SERVING = re.compile(r"^(\w+) serving on http://127\.0\.0\.1:(\d+)$")
# Debug mode's line for an event-loop step over 0.1 s. A loaded machine (other test runs)
# makes some steps that long without any blocking call; a blocked loop waits far longer.
SLOW_CALLBACK = re.compile(r"^Executing .* took (\d+\.\d+) seconds$", re.M)
SLOW_CALLBACK_S = 0.4


def test_two_fastapi_services_register_call_each_other_by_name_and_deregister() -> None:
    with serve_process() as eureka:
        base = eureka.base_url
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "fastapi_service.py"), "--eureka", base],
            cwd=ROOT,
            # Debug mode logs every event-loop step that takes over 0.1 s.
            env=child_env({"PYTHONASYNCIODEBUG": "1"}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = LineReader(process.stdout, "fastapi-service")
        try:
            ports = {}
            for _ in range(2):
                name, port = output.wait_for(SERVING, timeout=20).groups()
                ports[name] = int(port)
            assert set(ports) == {"orders", "payments"}
            for name, port in ports.items():
                instance_id = f"127.0.0.1:{name}:{port}"
                wait_for(
                    functools.partial(live_instance, base, name.upper(), instance_id),
                    what=f"{name} registered",
                )

            answer = wait_for(
                lambda: _order(ports["orders"]), what="orders reaching payments by name"
            )
            assert answer == {
                "order": "accepted",
                "payments": {"balance": 42, "served_by": f"127.0.0.1:{ports['payments']}"},
            }

            process.send_signal(signal.SIGINT)
            assert process.wait(15) == 0, output.text()
            output.join()
            assert app_instances(base, "ORDERS") == []
            assert app_instances(base, "PAYMENTS") == []
            assert "Traceback" not in output.text()
            slow = [float(s) for s in SLOW_CALLBACK.findall(output.text())]
            assert all(s < SLOW_CALLBACK_S for s in slow), output.text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
            output.join()
            if process.stdout is not None:
                process.stdout.close()


def _order(port: int) -> object | None:
    try:
        answer: object = get_json(f"http://127.0.0.1:{port}/order")
    except AssertionError:  # not 200 (payments not in orders' copy yet): tried again
        return None
    return answer
