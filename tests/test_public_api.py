from __future__ import annotations

import importlib.metadata

import eureka_embed


def test_all_names_exist_and_are_unique() -> None:
    assert len(eureka_embed.__all__) == len(set(eureka_embed.__all__))
    missing = [name for name in eureka_embed.__all__ if not hasattr(eureka_embed, name)]
    assert missing == []


def test_all_lists_every_public_name_the_package_exposes() -> None:
    public = {
        name
        for name, value in vars(eureka_embed).items()
        if not name.startswith("_") and not isinstance(value, type(eureka_embed))
    }
    public.discard("annotations")
    assert public <= set(eureka_embed.__all__)


def test_version_matches_the_distribution() -> None:
    assert eureka_embed.__version__ == importlib.metadata.version("eureka_embed")


def test_the_four_line_embedding_from_the_docstring_works() -> None:
    registry = eureka_embed.Registry()
    registry.register(eureka_embed.InstanceInfo("h1:orders:8080", "ORDERS", "h1", "10.0.0.1"))
    app = registry.get_application("orders")
    assert app is not None
    assert [i.host_name for i in app] == ["h1"]
