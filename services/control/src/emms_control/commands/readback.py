"""The switch / valve state in a read-back answer (AFN 10 F1 forwarding a 645 status word 3 or a 188
current-data reply), or the terminal's protection (AFN0C F5), decoded from the frames' bytes with the
protocol library."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from emms_protocol import ProtocolError, cjt188, dlt645
from emms_protocol.gdw1376 import decode_frame, decode_units
from emms_protocol.gdw1376.afn10 import ForwardReply
from emms_protocol.gdw1376.control_state import ControlState
from emms_protocol.items import items_from_188, items_from_645

STATES = {("relay.state", 1.0): "closed", ("relay.state", 0.0): "open",
          ("valve.state", 1.0): "open", ("valve.state", 0.0): "closed", ("valve.state", 2.0): "fault"}


def _values(frames: Iterable[Mapping[str, Any]]) -> list[object]:
    out: list[object] = []
    for frame in frames:
        raw = frame.get("raw_hex")
        if not isinstance(raw, str):
            continue
        try:
            decoded = decode_frame(bytes.fromhex(raw))
            units = decode_units(decoded)
        except (ProtocolError, ValueError):
            continue
        out.extend(u.value for u in units)
    return out


def switch_state(frames: Iterable[Mapping[str, Any]]) -> str | None:
    """``open`` / ``closed`` (relay or valve), ``fault`` (valve), ``protected`` / ``unprotected`` (a terminal's
    保电, AFN0C F5); None when the answer carries no state."""
    values = _values(frames)
    for value in values:
        if isinstance(value, ControlState):
            return "protected" if value.protected else "unprotected"
    for reply in (v for v in values if isinstance(v, ForwardReply)):
        inner = reply.inner
        pairs: list[tuple[str, float | None]] = []
        try:
            if isinstance(inner, cjt188.Frame188):
                pairs = items_from_188(inner)
            elif isinstance(inner, dlt645.Frame645) and isinstance(inner.body, dlt645.ReadReply):
                pairs = items_from_645(inner.body.di, inner.body.value)
        except (ProtocolError, KeyError, TypeError, ValueError):
            continue
        for code, value in pairs:
            state = STATES.get((code, value)) if value is not None else None
            if state is not None:
                return state
    return None
