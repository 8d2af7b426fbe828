"""A Eureka server's service URL, with its credentials kept apart from what gets logged."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from eureka_embed.errors import InvalidInput

__all__ = ["EurekaEndpoint", "parse_service_urls"]


@dataclass(frozen=True, slots=True)
class EurekaEndpoint:
    """A service URL such as ``http://eureka-a:8761/eureka/``.

    ``url`` never contains user info: it is what logs, metrics and error messages show.
    Credentials given in the service URL (``http://user:secret@host/eureka/``) are kept in
    ``username`` and ``password`` and only ever sent as a basic-auth header.
    """

    url: str
    zone: str | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, service_url: str, zone: str | None = None) -> EurekaEndpoint:
        """``service_url`` checked and normalised to end with ``/``; credentials split off."""
        text = service_url.strip()
        try:
            parts = urlsplit(text)
            port = parts.port  # raises ValueError on a non-numeric or out-of-range port
        except ValueError as exc:
            raise InvalidInput(f"bad Eureka service URL {_redacted(text)!r}: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(
                f"a Eureka service URL needs http(s) and a host, got {_redacted(text)!r}"
            )
        del port
        host_and_port = parts.netloc.rpartition("@")[2]
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        url = urlunsplit((parts.scheme, host_and_port, path, "", ""))
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(url, zone, username, password)

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header value, when the service URL carried credentials."""
        if self.username is None:
            return None
        pair = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def with_url(self, url: str) -> EurekaEndpoint:
        """Another server (a redirect target) reached with the same zone and credentials."""
        return EurekaEndpoint(url, self.zone, self.username, self.password)

    def __str__(self) -> str:
        return self.url


def parse_service_urls(text: str, zone: str | None = None) -> tuple[EurekaEndpoint, ...]:
    """A comma-separated list, as Spring's ``eureka.client.serviceUrl.defaultZone`` takes it."""
    return tuple(EurekaEndpoint.parse(part, zone) for part in text.split(",") if part.strip())


def _redacted(url: str) -> str:
    """``url`` with any user info masked, for error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{tail}"
