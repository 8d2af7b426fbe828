"""Users, passwords and headers shared by the auth tests (cheap scrypt: the tests check the
rules, not the KDF's cost)."""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import trustme

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


@dataclass(frozen=True)
class Pki:
    """PEM files made by trustme: a CA, a certificate for 127.0.0.1, a client certificate."""

    ca: str
    server_cert: str
    server_key: str
    #: A client certificate and its key in one PEM.
    client: str


def make_pki(where: Path) -> Pki:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("eureka-b.example")
    paths = {name: where / f"{name}.pem" for name in ("ca", "cert", "key", "client")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    client.private_key_and_cert_chain_pem.write_to_path(str(paths["client"]))
    return Pki(*(str(paths[n]) for n in ("ca", "cert", "key", "client")))
