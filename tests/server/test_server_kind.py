"""The dashboard names what serves it: each standalone server says which it is."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from eureka_embed.asgi_server import UvicornServer
from eureka_embed.server import EurekaServer
from tests.server.support import request


@pytest.mark.parametrize(
    ("server_class", "kind"), [(EurekaServer, "waitress"), (UvicornServer, "uvicorn")]
)
def test_the_dashboard_names_the_server(server_class: Any, kind: str) -> None:
    with server_class(maintenance=False) as server:
        answer = request(f"{server.root_url}/dashboard/data")

    assert answer.status == 200
    info = orjson.loads(answer.body)["info"]
    assert (info["server"], info["store"]) == (kind, "MemoryStore")
