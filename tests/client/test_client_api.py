"""The client package's public names."""

from __future__ import annotations

from eureka_embed import client
from eureka_embed.errors import EurekaError, TransportError


def test_all_names_exist_and_are_unique() -> None:
    assert len(client.__all__) == len(set(client.__all__))
    assert [name for name in client.__all__ if not hasattr(client, name)] == []


def test_every_client_error_is_a_transport_error_in_the_one_tree() -> None:
    errors = [
        value
        for value in vars(client).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]

    assert errors, "the package exports its errors"
    assert all(issubclass(error, TransportError) for error in errors)
    assert issubclass(TransportError, EurekaError)
