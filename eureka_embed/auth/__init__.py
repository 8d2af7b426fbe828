"""Who may read, register, administer and replicate, for both HTTP adapters.

- :mod:`.passwords`: scrypt hashes (``eureka-embed hash-password``);
- :mod:`.credentials`: the TOML credentials file;
- :mod:`.roles`: roles, identities, and the decision on a request;
- :mod:`.basic`: HTTP Basic checks with the verified-credential cache and the brute-force
  window;
- :mod:`.guard`: where the adapters' routes call that decision.

In-process :class:`~eureka_embed.registry.Registry` calls are not affected by any of it.
"""

from __future__ import annotations

from eureka_embed.auth.basic import BasicAuth
from eureka_embed.auth.credentials import Credentials, User, load_credentials, parse_credentials
from eureka_embed.auth.guard import AccessGuard, AuthCheck, AuthOption
from eureka_embed.auth.passwords import PasswordHash, ScryptCost, hash_password
from eureka_embed.auth.roles import Identity, Role

__all__ = [
    "AccessGuard",
    "AuthCheck",
    "AuthOption",
    "BasicAuth",
    "Credentials",
    "Identity",
    "PasswordHash",
    "Role",
    "ScryptCost",
    "User",
    "hash_password",
    "load_credentials",
    "parse_credentials",
]
