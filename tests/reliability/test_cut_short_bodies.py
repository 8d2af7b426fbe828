"""A registration whose body ends before its Content-Length (the client went away mid-body) is
never applied, on either server. uvicorn hands the app the bytes that came, ending the stream
at the disconnect; they may parse as a whole registration all the same (found by the hostile
input fuzzer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.hostile import send_raw
from tests.reliability.live import live_node
from tests.server.support import app_instances, register_body


@pytest.mark.parametrize("server", ["waitress", "uvicorn"])
def test_a_body_cut_short_of_its_content_length_is_not_applied(server: str, tmp_path: Path) -> None:
    body = register_body("CUT", "cut-1")
    data = (
        b"POST /eureka/apps/CUT HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (len(body) + 10)
    ) + body
    with live_node(server, "memory", tmp_path) as node:
        answer = send_raw(node.port, data, half_close=True)

        # No one is left to read an answer; if one is sent, it is the refusal.
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert app_instances(node.base_url, "CUT") == []
