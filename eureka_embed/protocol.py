"""Names the Eureka protocol fixes, shared by the server, the client and replication.

Kept apart from all three so that each can use them without importing the others.
"""

from __future__ import annotations

from typing import Final

__all__ = ["INDEX_HEADER", "REPLICATION_HEADER"]

#: Marks a write as coming from a peer node: applied where it arrives, never replicated again
#: (SPEC section 5). Eureka's peers send it with the value ``true``.
REPLICATION_HEADER: Final = "x-netflix-discovery-replication"

#: *ours*: the index of the view an answer shows, for watches (``?index=N&wait=...``, Consul's
#: blocking queries on Eureka's reads). Plain Eureka servers do not send it.
INDEX_HEADER: Final = "X-Eureka-Index"
