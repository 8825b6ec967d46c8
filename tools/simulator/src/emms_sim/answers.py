"""Dispatch a master's request frame to the AFN handlers and build the terminal's answer frames.

Large answers are split over several frames (FIR/FIN) so no frame exceeds
``MAX_BODY`` bytes of data units. An answer carries ACD=1 and EC while the
terminal has important events the master has not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import DataUnit, Frame, decode_units, encode_units
from emms_protocol.gdw1376 import builders as b
from emms_sim import answer_admin, answer_data, answer_events
from emms_sim.answer_admin import Effects
from emms_sim.terminal_state import TerminalState

MAX_BODY = 1200


@dataclass(slots=True)
class Outcome:
    frames: list[Frame] = field(default_factory=list)
    effects: Effects = field(default_factory=Effects)


def split_units(afn: int, units: list[DataUnit], limit: int = MAX_BODY) -> list[list[DataUnit]]:
    """Group units into frames of at most ``limit`` encoded bytes (a unit larger than that goes alone)."""
    groups: list[list[DataUnit]] = [[]]
    size = 0
    for unit in units:
        n = len(encode_units(afn, 1, [unit]))
        if groups[-1] and size + n > limit:
            groups.append([])
            size = 0
        groups[-1].append(unit)
        size += n
    return groups


def respond(state: TerminalState, request: Frame, units: list[DataUnit]) -> list[Frame]:
    if not units:
        return [b.deny(request, ec=state.acd)]
    groups = split_units(request.afn, units)
    last = len(groups) - 1
    return [b.response(request, g, fir=i == 0, fin=i == last, acd_ec=state.acd) for i, g in enumerate(groups)]


def _accepted(state: TerminalState, request: Frame, effects: Effects) -> Outcome:
    frame = b.confirm(request, ec=state.acd) if effects.accepted else b.deny(request, ec=state.acd)
    return Outcome([frame], effects)


def answer(state: TerminalState, request: Frame, ts: float) -> Outcome:
    """The terminal's answer to one downlink PRM=1 frame addressed to it (an empty outcome = stay silent)."""
    try:
        units = decode_units(request)
    except ProtocolError:
        return Outcome([b.deny(request, ec=state.acd)])
    afn = request.afn
    if afn == 0x01:
        return _accepted(state, request, answer_admin.reset(state, units, ts))
    if afn == 0x04:
        return _accepted(state, request, answer_admin.set_params(state, units, ts, request.address.master))
    if afn == 0x05:
        return _accepted(state, request, answer_admin.control(state, units, ts))
    if afn == 0x0A:
        return Outcome(respond(state, request, answer_admin.query_params(state, units, ts)))
    if afn == 0x09:
        return Outcome(respond(state, request, answer_admin.version(units)))
    if afn == 0x0C:
        return Outcome(respond(state, request, answer_data.class1(state, units, ts)))
    if afn == 0x0D:
        return Outcome(respond(state, request, answer_data.class2(state, units, ts)))
    if afn == 0x0E:
        return Outcome(respond(state, request, answer_events.class3(state, units)))
    if afn == 0x10:
        out, events = answer_admin.forward(state, units, ts)
        return Outcome(respond(state, request, out), Effects(runtime_events=events))
    return Outcome([b.deny(request, ec=state.acd)])
