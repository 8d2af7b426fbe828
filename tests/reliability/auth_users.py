"""The auth tests' users (tests/auth/support.py) plus one that may do everything the API
offers, as the fuzzer and the OpenAPI drivers send it: admin (any write) and peer (the
replication batch and header)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from eureka_embed.auth import BasicAuth, hash_password, parse_credentials
from tests.auth.support import CHEAP, authorization
from tests.auth.support import credentials_toml as auth_tests_toml

FUZZER: Final = ("fuzzer", "fuzzer-secret-5")


@functools.lru_cache(maxsize=4)
def credentials_toml(anonymous: tuple[str, ...] = ()) -> str:
    name, password = FUZZER
    return auth_tests_toml(anonymous) + (
        f'[users.{name}]\npassword = "{hash_password(password, CHEAP)}"\n'
        'roles = ["admin", "peer"]\n'
    )


def basic_auth(anonymous: tuple[str, ...] = ()) -> BasicAuth:
    return BasicAuth(parse_credentials(credentials_toml(anonymous)))


def credentials_file(directory: Path, anonymous: tuple[str, ...] = ()) -> Path:
    path = directory / "credentials.toml"
    path.write_text(credentials_toml(anonymous), encoding="utf-8")
    return path


def as_fuzzer() -> dict[str, str]:
    return authorization(*FUZZER)
