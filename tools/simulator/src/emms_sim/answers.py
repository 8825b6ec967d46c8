"""Dispatch a master's request frame to the AFN handlers and build the terminal's answer frames.

Large answers are split over several frames (FIR/FIN) so no frame exceeds
``MAX_BODY`` bytes of data units. An answer carries ACD=1 and EC while the
terminal has important events the master has not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import Control, DataUnit, Frame, RawData, Seq, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.units import encode_value, join_units
from emms_sim import answer_admin, answer_data, answer_events, answer_purchase
from emms_sim.answer_admin import Effects
from emms_sim.terminal_state import TerminalState

MAX_BODY = 1200


@dataclass(slots=True)
class Outcome:
    frames: list[Frame] = field(default_factory=list)
    effects: Effects = field(default_factory=Effects)


def _spans(units: list[DataUnit], values: list[bytes], limit: int) -> list[tuple[int, int]]:
    """[start, end) of each frame's units: at most ``limit`` bytes of units encoded one by one (DA/DT + data;
    a unit larger than that goes alone)."""
    spans: list[tuple[int, int]] = []
    start = size = 0
    for i, (unit, value) in enumerate(zip(units, values, strict=True)):
        n = len(value) if isinstance(unit.value, RawData) and unit.fn == 0 else 4 + len(value)
        if i > start and size + n > limit:
            spans.append((start, i))
            start, size = i, 0
        size += n
    spans.append((start, len(units)))
    return spans


def split_units(afn: int, units: list[DataUnit], limit: int = MAX_BODY) -> list[list[DataUnit]]:
    """Group units into frames of at most ``limit`` encoded bytes (a unit larger than that goes alone)."""
    values = [encode_value(afn, 1, unit) for unit in units]
    return [units[a:b] for a, b in _spans(units, values, limit)]


def encode_groups(afn: int, units: list[DataUnit], limit: int = MAX_BODY) -> list[bytes]:
    """The bodies of the frames :func:`split_units` lays ``units`` over, each unit's data encoded once
    (sizing the units and then encoding each frame's units again cost twice the encoding)."""
    values = [encode_value(afn, 1, unit) for unit in units]
    return [join_units(units[a:b], values[a:b]) for a, b in _spans(units, values, limit)]


def response(request: Frame, body: bytes, *, fir: bool, fin: bool, acd_ec: tuple[int, int] | None) -> Frame:
    """``builders.response`` for a body already encoded: uplink, PRM=0, function 8, RSEQ and Tp echoed."""
    control = Control.from_byte(0x88 | (0x20 if acd_ec is not None else 0))
    seq = Seq.from_byte((0x80 if request.tp is not None else 0) | (0x40 if fir else 0) | (0x20 if fin else 0)
                        | request.seq.seq)
    return Frame(control, request.address, request.afn, seq, body, ec=acd_ec, tp=request.tp)


def respond(state: TerminalState, request: Frame, units: list[DataUnit]) -> list[Frame]:
    if not units:
        return [b.deny(request, ec=state.acd)]
    bodies = encode_groups(request.afn, units)
    last = len(bodies) - 1
    return [response(request, body, fir=i == 0, fin=i == last, acd_ec=state.acd) for i, body in enumerate(bodies)]


def _accepted(state: TerminalState, request: Frame, effects: Effects) -> Outcome:
    frame = b.confirm(request, ec=state.acd) if effects.accepted else b.deny(request, ec=state.acd)
    return Outcome([frame], effects)


def answer(state: TerminalState, request: Frame, ts: float) -> Outcome:
    """The terminal's answer to one downlink PRM=1 frame addressed to it (an empty outcome = stay silent).

    Like a terminal, it walks the data units first (each Fn's length known, e.g. AFN05 F25's duration
    byte) and checks the PW that follows them: a unit that does not fit (a master that left F25's byte
    out) or another PW than the terminal's is denied, and nothing of the frame is carried out.
    """
    try:
        units = decode_units(request)
    except ProtocolError:
        return Outcome([b.deny(request, ec=state.acd)])
    if request.pw is not None and request.pw != state.password:
        refused = answer_admin.refused(state, ts, "password_refused", afn=request.afn)
        return Outcome([b.deny(request, ec=state.acd)], Effects(accepted=False, runtime_events=[refused]))
    answer_purchase.settle(state, ts)  # alarms and trips of the terminal's purses happen before it answers
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
