"""The dashboard at ``/``: one self-contained page that runs the fleet, readable on a phone.

The HTML is a fixed shell with its stylesheet and script inline (``dashboard_assets/``), so it
works air-gapped: nothing is fetched but the page's own data, ``GET dashboard/data``
(:mod:`.dashboard_data`), which the script loads, draws, and watches for changes. Nothing from
the registry is in the HTML itself: the script puts every value into the page as text
(``textContent``), and links only http(s) URLs. The Content-Security-Policy allows exactly that
script (by its hash) and requests to this server.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from importlib.resources import files
from typing import Final

__all__ = ["CONTENT_SECURITY_POLICY", "render_dashboard"]

_ASSETS: Final = files(__package__) / "dashboard_assets"
_STYLE: Final = (_ASSETS / "dashboard.css").read_text("utf-8")
_SCRIPT: Final = (_ASSETS / "dashboard.js").read_text("utf-8")
_SCRIPT_HASH: Final = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

#: Only the page's own script runs; it may talk to this server and to nothing else.
CONTENT_SECURITY_POLICY: Final = (
    f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)

_STATUSES: Final = ("UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN")


def _body(title: str) -> str:
    options = "".join(f'<option value="{s}">{s}</option>' for s in _STATUSES)
    return (
        f'<header><h1>{title}</h1><p id="subtitle">Eureka-compatible service registry</p>'
        '<span id="live" role="status">loading…</span></header><main>'
        '<noscript><p class="warning">This dashboard needs JavaScript; '
        "<code>GET /eureka/status</code> reports the same without it.</p></noscript>"
        '<section id="system" aria-labelledby="h-system"><h2 id="h-system">System status</h2>'
        '<div id="sp"></div><dl class="facts" id="facts"></dl></section>'
        '<section aria-labelledby="h-chart"><h2 id="h-chart">The last hour</h2>'
        '<div id="chart"></div></section>'
        '<section aria-labelledby="h-peers"><h2 id="h-peers">Peers</h2><div id="peers"></div>'
        "</section>"
        '<section aria-labelledby="h-regions"><h2 id="h-regions">Remote regions</h2>'
        '<div id="regions"></div></section>'
        '<section aria-labelledby="h-apps"><h2 id="h-apps">Applications</h2><div id="apps"></div>'
        "</section>"
        '<section id="instances" aria-labelledby="h-inst"><h2 id="h-inst">Instances</h2>'
        '<div class="controls"><label class="sr" for="q">Search</label>'
        '<input id="q" type="search" placeholder="Search application, id, host, ip, metadata" '
        'autocomplete="off">'
        '<label class="sr" for="status">Status</label><select id="status">'
        f'<option value="">every status</option>{options}</select></div>'
        '<div id="list"></div><div class="pager"><button type="button" id="prev">Previous</button>'
        '<button type="button" id="next">Next</button><span id="count" class="muted" '
        'aria-live="polite"></span></div></section>'
        '<div class="grid2"><section aria-labelledby="h-reg"><h2 id="h-reg">Last 1,000 '
        'registered</h2><div id="registered" class="leases" tabindex="0"></div></section>'
        '<section aria-labelledby="h-end"><h2 id="h-end">Last 1,000 cancelled or evicted</h2>'
        '<div id="ended" class="leases" tabindex="0"></div></section></div>'
        "</main>"
        '<dialog id="confirm" aria-labelledby="confirm-text"><p id="confirm-text"></p>'
        '<div class="actions"><button type="button" id="confirm-cancel">Cancel</button>'
        '<button type="button" id="confirm-ok" class="danger">Confirm</button></div></dialog>'
        '<div id="toast" role="status" aria-live="polite"></div>'
    )


def render_dashboard(*, title: str = "eureka_embed") -> str:
    """The whole page as text; ``title`` (the operator's) is escaped."""
    safe_title = escape(title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # An empty icon: the browser would otherwise ask for /favicon.ico and log a 404.
        '<link rel="icon" href="data:,">'
        f"<title>{safe_title}</title><style>{_STYLE}</style></head><body>"
        f"{_body(safe_title)}<script>{_SCRIPT}</script></body></html>\n"
    )
