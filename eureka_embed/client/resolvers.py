"""Which Eureka servers to talk to, in order of preference.

The retrying layer asks its resolver for the list on every request that needs a new server,
so a resolver may change its answer over time (e.g. one backed by DNS or a config service).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence

from eureka_embed.client.endpoints import EurekaEndpoint, parse_service_urls

__all__ = ["EndpointResolver", "StaticResolver", "ZoneAwareResolver", "resolver_for"]

DEFAULT_ZONE = "defaultZone"


class EndpointResolver(ABC):
    """A source of Eureka endpoints, most preferred first."""

    @abstractmethod
    def endpoints(self) -> Sequence[EurekaEndpoint]:
        """The current list; may be empty (the caller then fails with NoEndpoints)."""


class StaticResolver(EndpointResolver):
    """A fixed list, in the order given: ``"http://a:8761/eureka/,http://b:8761/eureka/"``."""

    def __init__(self, endpoints: str | Iterable[str | EurekaEndpoint]) -> None:
        if isinstance(endpoints, str):
            parsed = parse_service_urls(endpoints)
        else:
            parsed = tuple(
                e if isinstance(e, EurekaEndpoint) else EurekaEndpoint.parse(e) for e in endpoints
            )
        self._endpoints = parsed

    def endpoints(self) -> Sequence[EurekaEndpoint]:
        return self._endpoints

    def __repr__(self) -> str:
        return f"StaticResolver({[e.url for e in self._endpoints]})"


class ZoneAwareResolver(EndpointResolver):
    """Servers of the client's own zone first, then the other zones, as Eureka orders them.

    ``zones`` maps a zone name to its servers (a comma-separated string or a list). The zones
    after the client's own follow in the mapping's order, wrapping around, so clients of
    different zones fail over to different neighbours. Without a ``spread_seed`` the servers of
    a zone keep the order given; with one (e.g. the client's IP address), each zone's list is
    shuffled by that seed: a fleet spreads its load while each client keeps a stable order,
    as Eureka does with its host-seeded randomisation.
    """

    def __init__(
        self,
        zones: Mapping[str, str | Sequence[str]],
        my_zone: str = DEFAULT_ZONE,
        *,
        spread_seed: str | None = None,
    ) -> None:
        names = list(zones)
        if my_zone in names:
            start = names.index(my_zone)
            names = names[start:] + names[:start]
        ordered: list[EurekaEndpoint] = []
        for name in names:
            urls = zones[name]
            group = list(
                parse_service_urls(urls, name)
                if isinstance(urls, str)
                else (EurekaEndpoint.parse(url, name) for url in urls)
            )
            if spread_seed is not None:
                random.Random(f"{spread_seed}/{name}").shuffle(group)
            ordered.extend(group)
        self.my_zone = my_zone
        self._endpoints = tuple(ordered)

    def endpoints(self) -> Sequence[EurekaEndpoint]:
        return self._endpoints

    def __repr__(self) -> str:
        return f"ZoneAwareResolver({[(e.zone, e.url) for e in self._endpoints]})"


def resolver_for(
    service_urls: str | Mapping[str, str | Sequence[str]] | EndpointResolver,
    my_zone: str = DEFAULT_ZONE,
) -> EndpointResolver:
    """A resolver from a ``defaultZone``-style string, a zone map, or a resolver as is."""
    if isinstance(service_urls, EndpointResolver):
        return service_urls
    if isinstance(service_urls, str):
        return StaticResolver(service_urls)
    return ZoneAwareResolver(service_urls, my_zone)
