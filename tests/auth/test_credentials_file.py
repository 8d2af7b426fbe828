"""The credentials file and the password hashes it holds."""

from __future__ import annotations

import pytest

from eureka_embed.auth import (
    PasswordHash,
    Role,
    ScryptCost,
    hash_password,
    load_credentials,
    parse_credentials,
)
from eureka_embed.errors import InvalidInput
from tests.auth.support import CHEAP, credentials_toml


def test_a_hash_verifies_its_password_only() -> None:
    made = PasswordHash.parse(hash_password("s3cret", CHEAP))
    assert made.verify("s3cret")
    assert not made.verify("s3cret ")
    assert not made.verify("")


def test_hashes_are_salted_and_carry_their_cost() -> None:
    first, second = hash_password("same", CHEAP), hash_password("same", CHEAP)
    assert first != second
    assert first.startswith("scrypt$16$1$1$")
    assert "same" not in first


def test_the_default_cost_is_memory_hard() -> None:
    default = PasswordHash.parse(hash_password("x")).cost
    assert default.n * default.r * 128 >= 16 << 20  # 16 MiB per guess


def test_bad_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="power of 2"):
        ScryptCost(n=1000)


def test_the_file_gives_users_roles_and_apps() -> None:
    creds = parse_credentials(credentials_toml(("read",)))
    assert creds.anonymous == {Role.READ}
    orders = creds.users["orders"].identity
    assert orders.roles == {Role.REGISTER}
    assert orders.apps == frozenset({"ORDERS"})
    assert creds.users["ops"].identity.apps is None
    assert creds.users["eureka-peer"].identity.roles == {Role.PEER}


def test_anonymous_has_no_role_by_default() -> None:
    text = credentials_toml().replace("anonymous = []\n", "")
    assert parse_credentials(text).anonymous == frozenset()


def _user(**keys: str) -> str:
    fields = {"password": f'"{hash_password("pw", CHEAP)}"', "roles": '["read"]', **keys}
    return "[users.a]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items())


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (_user(password='"hunter2"'), r"\[users.a\] password is not a password hash"),
        (_user(password='"scrypt$1$2$3$4$5"'), "malformed scrypt hash"),
        (_user(roles='["root"]'), "unknown role 'root' \\(roles are read, register"),
        (_user(roles="[]"), "at least one role"),
        (_user(roles='"read"'), "roles must be a list of strings"),
        (_user(apps="[1]"), "apps must be a list of strings"),
        (_user(group='"x"'), "unknown keys: group"),
        ('anonymous = ["write"]\n', "anonymous: unknown role 'write'"),
        ("admins = []\n", "unknown keys: admins"),
        ("users = 1\n", r"users must be tables"),
        ("[users\n", "is not valid TOML"),
    ],
)
def test_mistakes_are_refused_with_the_place(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_credentials(text)


def test_a_plain_text_password_is_never_repeated() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_credentials(_user(password='"hunter2"'))
    assert "hunter2" not in str(refused.value)


def test_an_unreadable_file_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(InvalidInput, match="cannot read credentials file"):
        load_credentials(f"{tmp_path}/missing.toml")
