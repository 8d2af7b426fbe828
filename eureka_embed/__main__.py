"""``python -m eureka_embed``: the ``eureka-embed`` command."""

from __future__ import annotations

from eureka_embed.cli import main

raise SystemExit(main())
