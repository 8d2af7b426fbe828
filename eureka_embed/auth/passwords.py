"""Password hashes: ``scrypt$N$r$p$salt$hash``, made and checked with the standard library.

scrypt is memory-hard (N x r x 128 bytes per check: 16 MiB with the defaults), so guessing
passwords from a stolen credentials file costs memory as well as time, and hashlib ships it:
no compiled dependency for the server extra. Each hash carries its own cost parameters, so
a file may mix hashes made with different costs (tests use cheap ones).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_COST", "PasswordHash", "ScryptCost", "hash_password"]

_PREFIX: Final = "scrypt"
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt's parameters: CPU/memory cost ``n`` (a power of 2), block size ``r``, lanes ``p``."""

    n: int = 1 << 14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.r < 1 or self.p < 1:
            raise ValueError("scrypt needs n a power of 2 above 1, r and p at least 1")

    @property
    def maxmem(self) -> int:
        # hashlib refuses anything above 32 MiB unless told; a little above what n and r need.
        return 129 * self.n * self.r * self.p + (1 << 20)


#: About 50 ms and 16 MiB per check on a current machine (the cost OWASP suggests for scrypt).
DEFAULT_COST: Final = ScryptCost()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A parsed ``scrypt$...`` hash; :meth:`verify` checks a password against it."""

    cost: ScryptCost
    salt: bytes
    key: bytes

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        """:raises ValueError: not a hash made by :func:`hash_password` (a plain password)."""
        parts = text.split("$")
        if len(parts) != 6 or parts[0] != _PREFIX:
            raise ValueError(
                "is not a password hash (scrypt$...); make one with `eureka-embed hash-password`"
            )
        try:
            cost = ScryptCost(int(parts[1]), int(parts[2]), int(parts[3]))
            salt, key = _unb64(parts[4]), _unb64(parts[5])
        except ValueError:
            raise ValueError(
                "is a malformed scrypt hash; make one with `eureka-embed hash-password`"
            ) from None
        if not salt or len(key) < 16:
            raise ValueError("is a scrypt hash with an empty salt or a short key")
        return cls(cost, salt, key)

    def __str__(self) -> str:
        c = self.cost
        return f"{_PREFIX}${c.n}${c.r}${c.p}${_b64(self.salt)}${_b64(self.key)}"

    def verify(self, password: str) -> bool:
        """Whether ``password`` is the one hashed; compared in constant time."""
        return hmac.compare_digest(_derive(password, self.salt, self.cost, len(self.key)), self.key)


def _derive(password: str, salt: bytes, cost: ScryptCost, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=cost.n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.maxmem,
        dklen=length,
    )


def hash_password(password: str, cost: ScryptCost = DEFAULT_COST) -> str:
    """A salted scrypt hash of ``password``, for the credentials file."""
    salt = os.urandom(_SALT_BYTES)
    return str(PasswordHash(cost, salt, _derive(password, salt, cost, _KEY_BYTES)))
