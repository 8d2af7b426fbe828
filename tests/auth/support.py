"""Users, passwords and headers shared by the auth tests (cheap scrypt: the tests check the
rules, not the KDF's cost)."""

from __future__ import annotations

import base64
import functools
from typing import Final

from eureka_embed.auth import BasicAuth, ScryptCost, hash_password, parse_credentials

CHEAP: Final = ScryptCost(n=16, r=1, p=1)

#: name -> (password, roles, apps or None)
USERS: Final = {
    "reader": ("reader-secret-1", ["read"], None),
    "orders": ("orders-secret-2", ["register"], ["ORDERS"]),
    "ops": ("ops-secret-3", ["admin"], None),
    "eureka-peer": ("peer-secret-4", ["peer"], None),
}
SECRETS: Final = tuple(password for password, _, _ in USERS.values())


@functools.lru_cache(maxsize=4)
def credentials_toml(anonymous: tuple[str, ...] = ()) -> str:
    lines = [f"anonymous = {list(anonymous)!r}".replace("'", '"')]
    for name, (password, roles, apps) in USERS.items():
        lines += [f"[users.{name}]", f'password = "{hash_password(password, CHEAP)}"']
        lines.append(f"roles = {roles!r}".replace("'", '"'))
        if apps is not None:
            lines.append(f"apps = {apps!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"


def basic_auth(anonymous: tuple[str, ...] = (), **options: object) -> BasicAuth:
    return BasicAuth(parse_credentials(credentials_toml(anonymous)), **options)  # type: ignore[arg-type]


def authorization(user: str, password: str | None = None) -> dict[str, str]:
    secret = USERS[user][0] if password is None else password
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
