"""HTTP Basic checks: the verified-credential cache, unknown users, brute force."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace

import falcon.testing
import pytest

from eureka_embed.auth import BasicAuth, Identity, PasswordHash, parse_credentials
from eureka_embed.auth.basic import Challenge, Throttled
from eureka_embed.blocking import WouldBlock, call_non_blocking
from eureka_embed.registry import Registry
from tests.auth.support import USERS, authorization, basic_auth, credentials_toml
from tests.wsgi.adapters import ADAPTERS
from tests.wsgi.helpers import json_body

HEADER = authorization("orders")["Authorization"]


class CountingHash(PasswordHash):
    """A hash that counts the KDF runs made against it."""

    runs = 0

    def verify(self, password: str) -> bool:
        CountingHash.runs += 1
        return super().verify(password)


def _counted(auth: BasicAuth) -> None:
    """Make every user's hash, and the dummy, count their runs."""
    CountingHash.runs = 0
    users = {
        name: replace(user, password=_counting(user.password))
        for name, user in auth.credentials.users.items()
    }
    auth.credentials = replace(auth.credentials, users=users)
    auth._dummy = _counting(auth._dummy)


def _counting(made: PasswordHash) -> CountingHash:
    return CountingHash(made.cost, made.salt, made.key)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_verified_credential_runs_the_kdf_once() -> None:
    auth = basic_auth()
    _counted(auth)
    for _ in range(5):
        found = auth.authenticate(HEADER, "10.0.0.1")
        assert isinstance(found, Identity) and found.name == "orders"
    assert CountingHash.runs == 1


def test_the_cache_holds_no_password() -> None:
    auth = basic_auth()
    auth.authenticate(HEADER, "10.0.0.1")
    [key] = auth._verified
    assert isinstance(key, int)  # a digest: no password, no header in the cache
    assert USERS["orders"][0] not in repr(auth._verified)


def test_failures_are_not_cached() -> None:
    auth = basic_auth()
    _counted(auth)
    wrong = authorization("orders", "nope")["Authorization"]
    for _ in range(3):
        assert isinstance(auth.authenticate(wrong, "10.0.0.1"), Challenge)
    assert CountingHash.runs == 3


def test_an_unknown_user_costs_a_kdf_run_like_a_wrong_password() -> None:
    auth = basic_auth()
    _counted(auth)
    unknown = authorization("orders", "x")["Authorization"].replace(
        base64.b64encode(b"orders:x").decode(), base64.b64encode(b"mallory:x").decode()
    )
    answer = auth.authenticate(unknown, "10.0.0.1")
    assert answer == auth.authenticate(authorization("orders", "x")["Authorization"], "10.0.0.2")
    assert answer == Challenge("wrong user name or password")
    assert CountingHash.runs == 2
    assert auth._dummy.cost == auth.credentials.users["orders"].password.cost


def test_no_credentials_is_the_anonymous_identity() -> None:
    auth = BasicAuth(parse_credentials(credentials_toml(("read",))))
    found = auth.authenticate(None, "10.0.0.1")
    assert isinstance(found, Identity) and found.name == "anonymous"


def _client(adapter: str, auth: BasicAuth) -> tuple[falcon.testing.TestClient, Registry]:
    registry = Registry()
    return falcon.testing.TestClient(ADAPTERS[adapter](registry, auth=auth)), registry


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_the_21st_failure_in_a_minute_is_429_until_the_minute_ends(
    adapter: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    client, registry = _client(adapter, basic_auth(clock=clock))
    wrong, right = authorization("orders", "guess"), authorization("orders")
    beat = "/eureka/apps/ORDERS/host1:orders:8080"

    def status(method: str, path: str, headers: dict[str, str], address: str) -> int:
        got = client.simulate_request(method, path, headers=headers, remote_addr=address)
        return got.status_code

    try:
        register = {**right, "Content-Type": "application/json"}
        assert client.simulate_post("/eureka/apps/ORDERS", body=json_body(), headers=register)
        with caplog.at_level(logging.WARNING, "eureka_embed.auth"):
            for n in range(20):
                clock.now += 2  # all 20 within the minute
                assert status("GET", "/eureka/apps", wrong, "10.9.9.9") == 401, n
            blocked = client.simulate_get("/eureka/apps", headers=wrong, remote_addr="10.9.9.9")
            assert blocked.status_code == 429
            assert blocked.headers["retry-after"] == "22"  # the window began at 1002; now 1040
            # The right password from there is refused too; the heartbeat path included.
            assert status("GET", "/eureka/apps", right, "10.9.9.9") == 429
            assert status("PUT", beat, right, "10.9.9.9") == 429
            # Another address is not affected.
            assert status("PUT", beat, right, "10.1.1.1") == 200
            clock.now += 5
            assert status("GET", "/eureka/apps", wrong, "10.9.9.9") == 429
        # Logged once for the address, with no credentials in the line.
        [line] = [r.getMessage() for r in caplog.records if "10.9.9.9" in r.getMessage()]
        assert "guess" not in line and "orders" not in line
        metrics = client.simulate_get("/metrics", headers=right).text
        assert "eureka_auth_failures_total 20.0" in metrics
        assert "eureka_auth_throttled_total 4.0" in metrics
        assert "eureka_auth_throttled_addresses 1.0" in metrics
        clock.now = 1002 + 60  # the window has ended
        assert status("GET", "/eureka/apps", right, "10.9.9.9") == 200
        metrics = client.simulate_get("/metrics", headers=right).text
        assert "eureka_auth_throttled_addresses 0.0" in metrics
    finally:
        registry.close()


def test_failures_spread_over_more_than_a_minute_are_not_throttled() -> None:
    clock = Clock()
    auth = basic_auth(clock=clock)
    wrong = authorization("orders", "guess")["Authorization"]
    for _ in range(40):
        clock.now += 4  # 15 a minute
        assert isinstance(auth.authenticate(wrong, "10.0.0.1"), Challenge)
    found = auth.authenticate(HEADER, "10.0.0.1")
    assert not isinstance(found, Throttled)


def test_an_uncached_check_leaves_the_event_loop_and_a_cached_one_stays() -> None:
    # The ASGI adapter runs heartbeats on the loop under call_non_blocking: a KDF run there
    # would stall every connection, so it goes to the thread pool (WouldBlock, nothing done).
    auth = basic_auth()
    _counted(auth)
    with pytest.raises(WouldBlock):
        call_non_blocking(lambda header: auth.authenticate(header, "10.0.0.1"), HEADER)
    assert CountingHash.runs == 0
    assert isinstance(auth.authenticate(HEADER, "10.0.0.1"), Identity)  # in the pool
    cached = call_non_blocking(lambda header: auth.authenticate(header, "10.0.0.1"), HEADER)
    assert isinstance(cached, Identity) and CountingHash.runs == 1
