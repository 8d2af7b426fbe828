"""The status page at ``/``: what Eureka's dashboard shows, readable on a phone.

One self-contained HTML document (inline CSS, no scripts, no external assets), built from a
:class:`~eureka_embed.http.server_status.ServerStatus`. Everything that comes from instances or
peers is HTML-escaped, and only http(s) status page URLs become links: a registering client
controls those strings, the operator's browser must not run them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any, Final

from eureka_embed.http.server_status import ServerStatus, format_duration
from eureka_embed.model import InstanceInfo

__all__ = ["CONTENT_SECURITY_POLICY", "render_dashboard"]

#: No scripts, nothing fetched: the page is pure HTML and its own inline stylesheet.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)

_STYLE: Final = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:#1d2733;background:#f3f5f8}
header{background:#1d2733;color:#fff;padding:12px 16px}
header h1{margin:0;font-size:1.2rem}
header p{margin:2px 0 0;color:#b8c4d0;font-size:.85rem}
main{max-width:1100px;margin:0 auto;padding:12px}
section{background:#fff;border-radius:8px;padding:12px 16px;margin:0 0 12px;
 box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:1.05rem;margin:0 0 8px}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:0}
dl.facts div{background:#f3f5f8;border-radius:6px;padding:6px 10px}
dt{font-size:.78rem;color:#5a6877}
dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.warning{background:#fff4e5;border-left:4px solid #e8710a;padding:8px 12px;border-radius:6px}
.app{border-top:1px solid #e3e8ee;padding:8px 0}
.app:first-of-type{border-top:0}
.app h3{margin:0 0 4px;font-size:1rem;overflow-wrap:anywhere}
.app h3 small{font-weight:400;color:#5a6877}
ul.instances,ul.peers{list-style:none;margin:0;padding:0}
ul.instances li,ul.peers li{display:flex;flex-wrap:wrap;align-items:center;gap:6px;
 padding:3px 0;min-width:0}
.id{overflow-wrap:anywhere;word-break:break-word;min-width:0}
a{color:#0b5cad}
.status{display:inline-block;border-radius:999px;padding:0 8px;font-size:.75rem;
 font-weight:700;color:#fff;white-space:nowrap}
.status-UP{background:#1e8e3e}
.status-DOWN{background:#d93025}
.status-STARTING{background:#1a73e8}
.status-OUT_OF_SERVICE{background:#e8710a}
.status-UNKNOWN{background:#80868b}
.muted{color:#5a6877}
"""


def _fact(label: str, value: object) -> str:
    return f"<div><dt>{escape(label)}</dt><dd>{escape(str(value))}</dd></div>"


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _status_badge(status: str) -> str:
    # The class name comes from the status enum, never from free text.
    return f'<span class="status status-{status}">{escape(status)}</span>'


def _safe_link(url: str | None) -> str | None:
    """``url`` when it is an http(s) URL; anything else (javascript:, data:) is not linked."""
    if url is None:
        return None
    stripped = url.strip()
    if stripped.lower().startswith(("http://", "https://")):
        return stripped
    return None


def _instance_item(instance: InstanceInfo) -> str:
    label = escape(instance.instance_id)
    link = _safe_link(instance.status_page_url)
    name = (
        f'<a class="id" href="{escape(link, quote=True)}" rel="noopener noreferrer">{label}</a>'
        if link is not None
        else f'<span class="id">{label}</span>'
    )
    return f"<li>{_status_badge(instance.status.value)}{name}</li>"


def _applications(status: ServerStatus) -> str:
    if not status.applications:
        return '<p class="muted">No instances are registered.</p>'
    parts = []
    for app in status.applications:
        counts: dict[str, int] = {}
        for instance in app.instances:
            counts[instance.status.value] = counts.get(instance.status.value, 0) + 1
        summary = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
        items = "".join(_instance_item(instance) for instance in app.instances)
        parts.append(
            f'<div class="app"><h3>{escape(app.name)} <small>{escape(summary)}</small></h3>'
            f'<ul class="instances">{items}</ul></div>'
        )
    return "".join(parts)


def _peer_item(peer: Mapping[str, Any]) -> str:
    status = peer.get("status")
    badge = ""
    if isinstance(status, str) and status.upper() in {"UP", "DOWN", "STARTING", "UNKNOWN"}:
        badge = _status_badge(status.upper())
    details = " · ".join(
        f"{escape(str(key))}: {escape(str(value))}"
        for key, value in peer.items()
        if key != "status"
    )
    return f'<li>{badge}<span class="id">{details}</span></li>'


def _peers(status: ServerStatus) -> str:
    if status.peers_error is not None:
        return f'<p class="muted">{escape(status.peers_error)}</p>'
    if not status.peers:
        return '<p class="muted">No peers: this node runs standalone.</p>'
    return '<ul class="peers">' + "".join(_peer_item(peer) for peer in status.peers) + "</ul>"


def _timestamp(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def _by_status(counts: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts if count) or "none"


def render_dashboard(status: ServerStatus, *, title: str = "eureka_embed") -> str:
    """The whole page as text."""
    by_status = status.instances_by_status()
    warning = ""
    if status.self_preservation_active:
        warning = (
            '<p class="warning"><strong>Self-preservation is active.</strong> Fewer renewals '
            "arrived in the last minute than the threshold, so expired leases are kept: some "
            "instances listed as UP may be gone.</p>"
        )
    facts = "".join(
        (
            _fact("Uptime", format_duration(status.uptime_ms)),
            _fact("Started", _timestamp(status.started_ms)),
            _fact("Lease expiration enabled", _yes_no(status.lease_expiration_enabled)),
            _fact(
                "Self-preservation",
                ("active" if status.self_preservation_active else "standing by")
                if status.self_preservation_enabled
                else "disabled",
            ),
            _fact("Renews threshold", status.renews_threshold),
            _fact("Renews (last min)", status.renews_last_minute),
            _fact("Expected clients", status.expected_clients),
            _fact("Evicted (total)", status.evicted_total),
            _fact("Applications", len(status.applications)),
            _fact("Instances", _by_status(by_status.items())),
        )
    )
    safe_title = escape(title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{safe_title}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{safe_title}</h1><p>Eureka-compatible service registry · "
        f"{escape(_timestamp(status.now_ms))}</p></header><main>"
        f'<section id="system"><h2>System status</h2>{warning}<dl class="facts">{facts}</dl>'
        "</section>"
        f'<section id="applications"><h2>Instances currently registered</h2>'
        f"{_applications(status)}</section>"
        f'<section id="peers"><h2>Peers</h2>{_peers(status)}</section>'
        "</main></body></html>\n"
    )
