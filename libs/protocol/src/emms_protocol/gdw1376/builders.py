"""Ready-made frames for both sides of a session.

Terminal side (the simulator): :func:`login`, :func:`heartbeat`, :func:`logout`,
:func:`response`, :func:`confirm` / :func:`deny` of a master command.
Master side (the FEP, control, collector): :func:`request`, :func:`confirm`
of a terminal's login / heartbeat. Control bytes follow what real systems send
(§1.2 of the notes): ``C9`` link test, ``0B`` master confirm of a link test,
``41`` reset, ``4A`` set / control, ``4B`` data requests, ``88`` / ``A8``
responses, ``80`` / ``A0`` terminal confirms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.address import Address
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS, Options
from emms_protocol.gdw1376.control import Control
from emms_protocol.gdw1376.frame import PW_LEN, Frame, has_pw
from emms_protocol.gdw1376.seq import Seq, TimeLabel
from emms_protocol.gdw1376.units import DataUnit, encode_units

ZERO_PW = bytes(PW_LEN)
_P0 = b"\x00\x00"


def _link(address: Address, seq: int, fn_dt: bytes, data: bytes, ec: tuple[int, int] | None) -> Frame:
    control = Control(1, 1, 1 if ec is not None else 0, 0, 9)
    return Frame(control, address, 0x02, Seq(False, True, True, True, seq & 0x0F), _P0 + fn_dt + data, ec=ec)


def login(address: Address, seq: int, *, ec: tuple[int, int] | None = None) -> Frame:
    """AFN02 F1 login (C9, CON=1). ``ec`` sets ACD=1 and carries the event counters."""
    return _link(address, seq, b"\x01\x00", b"", ec)


def logout(address: Address, seq: int, *, ec: tuple[int, int] | None = None) -> Frame:
    """AFN02 F2 logout (C9, CON=1)."""
    return _link(address, seq, b"\x02\x00", b"", ec)


def heartbeat(address: Address, seq: int, clock: datetime | None = None, *, ec: tuple[int, int] | None = None,
              options: Options = DEFAULT_OPTIONS) -> Frame:
    """AFN02 F3 heartbeat (C9, CON=1); ``clock`` appends the terminal time (A.1) — a variant."""
    data = encode_units(0x02, 1, [DataUnit(0, 3, clock)], options)[4:]
    return _link(address, seq, b"\x04\x00", data, ec)


def _answer(frame: Frame, fn: int, *, ec: tuple[int, int] | None, function: int | None) -> Frame:
    direction = 1 - frame.control.direction
    if function is None:
        function = 11 if frame.afn == 0x02 and direction == 0 else 0
    if direction == 0 and ec is not None:
        raise ProtocolError("value", detail="EC (ACD) exists only on uplink frames")
    control = Control(direction, 0, 1 if ec is not None else 0, 0, function)
    seq = Seq(frame.tp is not None, True, True, False, frame.seq.seq)
    return Frame(control, frame.address, 0x00, seq, _P0 + bytes((1 << (fn - 1), 0)), ec=ec, tp=frame.tp)


def confirm(frame: Frame, *, ec: tuple[int, int] | None = None, function: int | None = None) -> Frame:
    """AFN00 F1 (all confirmed) answering ``frame``: RSEQ = its PSEQ, its Tp echoed.

    The master confirming a login / heartbeat gets ``C=0B`` (link status); any
    other confirm uses function 0 (``00`` down, ``80`` / ``A0`` up). ``ec``
    (terminal side only) sets ACD=1.
    """
    return _answer(frame, 1, ec=ec, function=function)


def deny(frame: Frame, *, ec: tuple[int, int] | None = None, function: int | None = None) -> Frame:
    """AFN00 F2 (all denied) answering ``frame``."""
    return _answer(frame, 2, ec=ec, function=function)


_FUNCTION_BY_AFN = {0x01: 1, 0x04: 10, 0x05: 10, 0x06: 10, 0x0F: 10}
_CON_AFNS = frozenset({0x01, 0x04, 0x05, 0x06, 0x0F})


def request(address: Address, afn: int, units: Iterable[DataUnit], seq: int, pw: bytes | None = None,
            master: int | None = None, *, tp: TimeLabel | None = None, con: bool | None = None,
            function: int | None = None, options: Options = DEFAULT_OPTIONS) -> Frame:
    """A master request (downlink, PRM=1) of ``afn`` carrying ``units``.

    ``pw`` defaults to 16 zero bytes on the AFNs that carry it; ``master``
    overrides the address's MSA; ``tp`` sets TpV. CON defaults to 1 for reset,
    set, control, authentication and file transfer (the terminal confirms them).
    """
    if master is not None:
        address = replace(address, master=master)
    if has_pw(0, afn):
        pw = ZERO_PW if pw is None else pw
    elif pw is not None:
        raise ProtocolError("value", detail=f"AFN {afn:02X} carries no PW")
    control = Control(0, 1, 0, 0, function if function is not None else _FUNCTION_BY_AFN.get(afn, 11))
    confirm_needed = afn in _CON_AFNS if con is None else con
    body = encode_units(afn, 0, units, options)
    return Frame(control, address, afn, Seq(tp is not None, True, True, confirm_needed, seq & 0x0F), body,
                 pw=pw, tp=tp)


def response(request_frame: Frame, units: Iterable[DataUnit], *, fir: bool = True, fin: bool = True,
             acd_ec: tuple[int, int] | None = None, options: Options = DEFAULT_OPTIONS) -> Frame:
    """The terminal's answer (uplink, PRM=0, function 8) to ``request_frame``: RSEQ and Tp echoed."""
    control = Control(1, 0, 1 if acd_ec is not None else 0, 0, 8)
    body = encode_units(request_frame.afn, 1, units, options)
    seq = Seq(request_frame.tp is not None, fir, fin, False, request_frame.seq.seq)
    return Frame(control, request_frame.address, request_frame.afn, seq, body, ec=acd_ec, tp=request_frame.tp)
