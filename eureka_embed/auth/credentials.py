"""The credentials file of ``eureka-embed serve --auth FILE`` (TOML)::

    anonymous = ["read"]                 # roles of a request without credentials; default none

    [users.orders]
    password = "scrypt$..."              # from `eureka-embed hash-password`
    roles = ["register"]
    apps = ["ORDERS", "ORDERS-WORKER"]   # the applications it may write; omitted: all

Anything else (an unknown key or role, a plain-text password, a wrong type) is refused with
one line saying where, so a typo cannot quietly open or close the registry.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eureka_embed.auth.passwords import PasswordHash
from eureka_embed.auth.roles import Identity, Role
from eureka_embed.errors import InvalidInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the 3.10 backport, same API
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["Credentials", "User", "load_credentials", "parse_credentials"]

_USER_KEYS = frozenset({"password", "roles", "apps"})
_TOP_KEYS = frozenset({"anonymous", "users"})


@dataclass(frozen=True, slots=True)
class User:
    """One ``[users.NAME]`` table: who it is once its password checks out."""

    identity: Identity
    password: PasswordHash = field(repr=False)


@dataclass(frozen=True, slots=True)
class Credentials:
    """The users by name, and the roles of a request without credentials."""

    users: Mapping[str, User]
    anonymous: frozenset[Role] = frozenset()


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where} must be a list of strings")
    return value


def _roles(value: Any, where: str) -> frozenset[Role]:
    try:
        return frozenset(Role.parse(name) for name in _names(value, where))
    except ValueError as exc:
        raise InvalidInput(f"{where}: {exc}") from None


def _user(name: str, table: Any) -> User:
    where = f"[users.{name}]"
    if not isinstance(table, dict):
        raise InvalidInput(f"{where} must be a table with password and roles")
    unknown = set(table) - _USER_KEYS
    if unknown:
        raise InvalidInput(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    raw = table.get("password")
    if not isinstance(raw, str):
        raise InvalidInput(f'{where} needs password = "scrypt$..." (eureka-embed hash-password)')
    try:
        password = PasswordHash.parse(raw)
    except ValueError as exc:
        # The value is never echoed: it may be a password typed in plain text.
        raise InvalidInput(f"{where} password {exc}") from None
    roles = _roles(table.get("roles", []), f"{where} roles")
    if not roles:
        raise InvalidInput(f"{where} needs at least one role in roles = [...]")
    apps = table.get("apps")
    names = None if apps is None else _names(apps, f"{where} apps")
    return User(Identity.of(name, roles, names), password)


def parse_credentials(text: str, source: str = "credentials") -> Credentials:
    """Credentials from TOML ``text``.

    :raises InvalidInput: malformed TOML, an unknown key or role, a plain-text password.
    """
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{source} is not valid TOML: {exc}") from None
    try:
        unknown = set(tree) - _TOP_KEYS
        if unknown:
            raise InvalidInput(f"unknown keys: {', '.join(sorted(unknown))}")
        anonymous = _roles(tree.get("anonymous", []), "anonymous")
        users = tree.get("users", {})
        if not isinstance(users, dict):
            raise InvalidInput("users must be tables: [users.NAME]")
        return Credentials({name: _user(name, t) for name, t in users.items()}, anonymous)
    except InvalidInput as exc:
        raise InvalidInput(f"{source}: {exc.reason}") from None


def load_credentials(path: str | Path) -> Credentials:
    """The credentials file at ``path``.

    :raises InvalidInput: unreadable or malformed (see :func:`parse_credentials`).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read credentials file {str(path)!r}: {exc}") from None
    return parse_credentials(text, f"credentials file {str(path)!r}")
