"""Which configured channel a terminal's session came in on (R-4.6.6): the session's channel label (the FEP's
``tcp-server:<port>``, ``tcp-client:<host>:<port>``, ``serial:<device>``) against the terminal's primary and
standby channels — so a terminal that fell back to its standby channel shows as such."""

from __future__ import annotations

from typing import Any


def label_of(channel: dict[str, Any] | None) -> str | None:
    """The FEP channel label a configured channel corresponds to; None when it names none (a ``tcp``
    channel without the listener's port matches any listener)."""
    if not channel:
        return None
    kind = channel.get("kind")
    if kind == "tcp":
        return f"tcp-server:{channel['port']}" if channel.get("port") else "tcp-server:"
    if kind == "dialout":
        return f"tcp-client:{channel.get('host')}:{channel.get('port')}"
    if kind == "serial":
        return f"serial:{channel.get('device')}"
    return None


def active_channel(config: dict[str, Any], session: dict[str, Any] | None) -> str | None:
    """``primary``, ``standby``, ``relay`` (reached through the terminal of ``relay_via``'s route: the session's
    channel is ``relay:<terminal>``), ``other`` (online on a channel not configured), or None when offline."""
    if session is None or session.get("state") != "online":
        return None
    port = str(session.get("port") or "")
    if port.startswith("relay:"):
        return "relay"
    for name in ("primary", "standby"):
        label = label_of(config.get(f"{name}_channel"))
        if label is not None and (port == label or (label == "tcp-server:" and port.startswith(label))):
            return name
    return "other"
