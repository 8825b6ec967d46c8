"""The FEP's only contact with the 1376.1 codec (``emms_protocol.gdw1376``).

* :func:`read_frame` decodes one whole frame (as cut by the framer) into a
  :class:`FrameView` — the few facts the FEP routes on (direction, link
  function, terminal, sequence, FIR/FIN/CON, denial) plus the JSON view of the
  whole frame for the bus. Any defect raises :class:`ProtocolError`, never
  anything else: the wire may carry anything.
* :func:`confirm_for` builds the AFN 00 F1 confirm of a terminal's frame.
* :class:`RequestEncoder` turns a ``DownlinkRequest`` into the downlink frame
  (PW on the AFNs that carry it — the terminal's own from master data, else the
  configured default —, Tp on every request).

The ``data`` of a request unit (``DataUnitRequest.data``) is the value to
send, in the JSON shape ``emms_protocol``'s JSON view prints:

* ``{}`` — no data (reads: AFN 0C / 09 / 0A without parameters, AFN 05 F2 …);
* ``{"value": V}`` — the same value for every (pn, Fn) of the unit;
* ``{"values": [V, …]}`` — one value per (pn, Fn), pn-major order;
* ``{"raw": "hex"}`` — bytes sent as they are;
* ``{"sealed_password": token}`` — AFN04 F5 only: the terminal's new PW sealed
  under the terminal-password KEK (a rotation, :mod:`emms_fep.passwords`).

``V`` is read back by ``emms_protocol.gdw1376.json_view.from_jsonable`` — the
same view that prints decoded frames: a number, a string, ``"now"`` (the time
at sending, e.g. AFN 05 F31 time sync), an ISO date (``"2026-11-24"``, freeze
tags of AFN 0D) or time (``"2026-11-24T10:00:00+08:00"``), or an object
``{"type": "Tag", field: …}`` naming a value class of the view's
``VALUE_TYPES`` (``TripCommand``, ``EventRequest``, ``ForwardRequest`` with
``payload`` as hex, ``MeterConfig`` …); nested objects and lists follow the
class's field types.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from emms_fep.metrics import UNIT_DECODE_FAILURES
from emms_fep.passwords import f5_data
from emms_messages.terminal import DataUnitRequest, DownlinkRequest
from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import Address, DataUnit, Frame, RawData, TimeLabel, builders, decode_frame, encode_frame
from emms_protocol.gdw1376.data_id import fns_of, pns_of
from emms_protocol.gdw1376.frame import has_pw
from emms_protocol.gdw1376.json_view import frame_view, from_jsonable
from emms_protocol.gdw1376.units import decode_units

log = structlog.get_logger("emms.fep.wire")

LINK_LOGIN = 1
LINK_LOGOUT = 2
LINK_HEARTBEAT = 3
AFN_CONFIRM = 0x00
AFN_LINK = 0x02
FUNCTION_DENY_NO_DATA = 9  # PRM=0: "deny: no requested data"
_LINK_FUNCTIONS = frozenset((LINK_LOGIN, LINK_LOGOUT, LINK_HEARTBEAT))


class FrameView:
    """One decoded frame as the FEP sees it; the JSON view and units are computed on first use."""

    __slots__ = ("_dict", "_units", "frame", "link_function", "raw", "terminal")

    def __init__(self, raw: bytes, frame: Frame, terminal: str, link_function: int) -> None:
        self.raw = raw
        self.frame = frame
        self.terminal = terminal
        self.link_function = link_function  # 1 login, 2 logout, 3 heartbeat; 0 when not a link frame
        self._dict: dict[str, Any] | None = None
        self._units: list[DataUnit] | None = None

    # -- header facts ---------------------------------------------------------------------------------------
    @property
    def uplink(self) -> bool:
        return self.frame.control.direction == 1

    @property
    def prm(self) -> bool:
        return self.frame.control.prm == 1

    @property
    def afn(self) -> int:
        return int(self.frame.afn)

    @property
    def seq(self) -> int:
        """The sequence number (PSEQ of a terminal's own frame, RSEQ of an answer), 0..15."""
        return self.frame.seq.seq

    @property
    def number(self) -> int:
        return self.frame.seq.seq

    @property
    def fir(self) -> bool:
        return self.frame.seq.fir

    @property
    def fin(self) -> bool:
        return self.frame.seq.fin

    @property
    def con(self) -> bool:
        return self.frame.seq.con

    @property
    def acd(self) -> bool:
        """ACD on an uplink frame: the terminal has an important event the master has not read (R-4.5.4.3)."""
        return self.frame.control.acd

    @property
    def is_link(self) -> bool:
        return self.link_function != 0

    # -- content ----------------------------------------------------------------------------------------------
    @property
    def units(self) -> list[DataUnit]:
        """The decoded data units ([] when they do not decode: counted and logged once per frame)."""
        if self._units is None:
            self._units = _units(self.frame, self.terminal)
        return self._units

    @property
    def terminal_clock(self) -> datetime | None:
        """The terminal's clock carried by a heartbeat (a variant; most heartbeats carry none)."""
        if self.link_function != LINK_HEARTBEAT:
            return None
        for unit in self.units:
            if unit.fn == LINK_HEARTBEAT and isinstance(unit.value, datetime):
                return unit.value
        return None

    @property
    def denied(self) -> bool:
        """An answer that refuses the request: AFN 00 F2, function 9, or AFN 00 F3 with every unit refused."""
        return bool(self.denial_detail)

    @property
    def denial_detail(self) -> str:
        frame = self.frame
        if frame.control.prm != 0:
            return ""
        if frame.control.function == FUNCTION_DENY_NO_DATA:
            return "denied: no requested data (function 9)"
        if frame.afn != AFN_CONFIRM:
            return ""
        for unit in self.units:
            if unit.fn == 2:
                return "denied (AFN 00 F2)"
            acks = getattr(unit.value, "units", None)
            if unit.fn == 3 and acks and not any(a.ok for a in acks):
                refused = ", ".join(f"p{a.pn} F{a.fn}" for a in acks)
                return f"denied per unit (AFN 00 F3): {refused}"
        return ""

    def as_dict(self) -> dict[str, Any]:
        """``emms_protocol``'s JSON view: header fields, AUX (pw, ec, tp) and units ``[{pn, fn, …}]``."""
        if self._dict is None:
            try:
                self._dict = frame_view(self.frame)
            except Exception as exc:  # a codec defect must not cost the frame: publish its header and bytes
                _count_failure(self.frame, self.terminal, "view", exc)
                self._dict = {"protocol": "gdw1376", "afn": self.afn, "units": None,
                              "units_error": f"{type(exc).__name__}: {exc}"[:200], "body": self.frame.body.hex()}
        return self._dict


def _units(frame: Frame, terminal: str) -> list[DataUnit]:
    """The frame's data units; malformed units cost their content, never the frame — counted and logged."""
    try:
        return decode_units(frame)
    except Exception as exc:  # ProtocolError for malformed bytes; anything else is a codec defect
        _count_failure(frame, terminal, "units", exc)
        return []


def _count_failure(frame: Frame, terminal: str, stage: str, exc: Exception) -> None:
    error = "protocol" if isinstance(exc, ProtocolError) else "defect"
    UNIT_DECODE_FAILURES.labels(stage=stage, error=error).inc()
    log.warning("data units not decoded", terminal=terminal, afn=int(frame.afn), stage=stage, error=error,
                detail=f"{type(exc).__name__}: {exc}"[:200], body=frame.body[:64].hex())


def read_frame(raw: bytes) -> FrameView:
    """Decode one whole frame; :class:`ProtocolError` (with ``kind``) for anything the FEP cannot accept."""
    try:
        frame = decode_frame(raw)
    except ProtocolError:
        raise
    except Exception as exc:  # defensive: the codec promises ProtocolError only
        raise ProtocolError("undecodable", detail=f"{type(exc).__name__}: {exc}") from None
    address = frame.address
    if address.terminal == 0 or address.group:
        raise ProtocolError("address", 7, f"A2 {address.terminal} / group flag {address.group} is not a terminal")
    link_function = 0
    if frame.afn == AFN_LINK and frame.control.prm == 1 and frame.control.direction == 1:
        body = frame.body
        if len(body) < 4:
            raise ProtocolError("link", 14, "AFN 02 frame without a data unit")
        fns = fns_of(body[2], body[3])
        if pns_of(body[0], body[1]) != (0,) or len(fns) != 1 or fns[0] not in _LINK_FUNCTIONS:
            raise ProtocolError("link", 14, f"AFN 02 unit {body[:4].hex()} is not p0 F1/F2/F3")
        link_function = fns[0]
    return FrameView(raw, frame, address.key, link_function)


def confirm_for(frame: FrameView) -> bytes:
    """AFN 00 F1 confirming ``frame``: RSEQ = its PSEQ, its Tp echoed (``0B`` for link frames)."""
    return encode_frame(builders.confirm(frame.frame))


PasswordLookup = Callable[[str], bytes | None]
"""A terminal's own PW by session key (None: it has none); ValueError when it has one that cannot be used."""


class RequestEncoder:
    """Encodes downlink requests: address with the master station address, PW, Tp with a counting PFC.

    The PW is the terminal's own (``passwords``), else ``password`` — unless ``default_allowed`` is
    false, when a request to a terminal without its own PW cannot be encoded."""

    def __init__(self, *, master_address: int, password: bytes, tp_delay_min: int,
                 passwords: PasswordLookup | None = None, default_allowed: bool = True,
                 unseal: Callable[[str], bytes] | None = None) -> None:
        if len(password) != 16:
            raise ValueError("the PW must be 16 bytes")
        self._master = master_address
        self._password = password
        self._delay = tp_delay_min
        self._pfc = itertools.count()
        self._passwords = passwords
        self._default_allowed = default_allowed
        self._unseal = unseal

    def password_for(self, terminal: str) -> bytes:
        """The PW a frame to ``terminal`` carries; ProtocolError when there is none it may use."""
        try:
            own = self._passwords(terminal) if self._passwords is not None else None
        except ValueError as exc:
            raise ProtocolError("value", detail=str(exc)) from None
        if own is not None:
            return own
        if not self._default_allowed:
            raise ProtocolError("value", detail=f"no password for terminal {terminal} in master data"
                                                " (the default PW is not allowed)")
        return self._password

    def encode(self, request: DownlinkRequest, pseq: int, now: datetime | None = None) -> bytes:
        """The wire bytes of ``request`` with sequence number ``pseq``; ProtocolError if it cannot be encoded."""
        sent_at = now or datetime.now(UTC)
        try:
            address = Address.parse(request.terminal, master=self._master)
            units = [u for spec in request.units for u in data_units(spec, request.afn, sent_at, self._unseal)]
            if not units:
                raise ProtocolError("value", detail="a request needs at least one data unit")
            pw = self.password_for(address.key) if has_pw(0, request.afn) else None
            tp = TimeLabel(next(self._pfc) & 0xFF, sent_at, self._delay)
            return encode_frame(builders.request(address, request.afn, units, pseq, pw, tp=tp))
        except ProtocolError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise ProtocolError("value", detail=f"{type(exc).__name__}: {exc}") from None


# -- request data → value objects ----------------------------------------------------------------------------

def data_units(spec: DataUnitRequest, afn: int, now: datetime,
               unseal: Callable[[str], bytes] | None = None) -> list[DataUnit]:
    """The (pn, Fn) data units of one request unit, pn-major, with their values."""
    pns = sorted(set(spec.pn)) or [0]
    fns = sorted(set(spec.fn))
    if not fns:
        raise ProtocolError("value", detail="a request unit needs at least one Fn")
    pairs = [(pn, fn) for pn in pns for fn in fns]
    data = spec.data
    unknown = set(data) - {"value", "values", "raw", "sealed_password"}
    if unknown or len(data) > 1:
        raise ProtocolError("value", detail=f"unit data must be one of value / values / raw / sealed_password,"
                                            f" got {sorted(data)}")
    if "sealed_password" in data:
        return [DataUnit(pn, fn, RawData(afn, fn, pn, _f5(data["sealed_password"], unseal))) for pn, fn in pairs
                if _is_f5(afn, pn, fn)]
    if "raw" in data:
        try:
            raw = bytes.fromhex(str(data["raw"]))
        except ValueError:
            raise ProtocolError("value", detail="unit raw data must be hex") from None
        return [DataUnit(pn, fn, RawData(afn, fn, pn, raw)) for pn, fn in pairs]
    if "values" in data:
        values = data["values"]
        if not isinstance(values, list) or len(values) != len(pairs):
            raise ProtocolError("value", detail=f"values must be a list of {len(pairs)} (one per pn × Fn)")
        return [DataUnit(pn, fn, from_jsonable(v, now=now)) for (pn, fn), v in zip(pairs, values, strict=True)]
    value = from_jsonable(data.get("value"), now=now)
    return [DataUnit(pn, fn, value) for pn, fn in pairs]


def _is_f5(afn: int, pn: int, fn: int) -> bool:
    if (afn, pn, fn) != (0x04, 0, 5):
        raise ProtocolError("value", detail="sealed_password is the data of AFN04 p0 F5 only")
    return True


def _f5(token: object, unseal: Callable[[str], bytes] | None) -> bytes:
    """AFN04 F5's bytes for a sealed new PW (unsealed here, never logged)."""
    if unseal is None or not isinstance(token, str):
        raise ProtocolError("value", detail="a sealed password needs the terminal-password key-encryption key")
    try:
        return f5_data(unseal(token))
    except ValueError as exc:
        raise ProtocolError("value", detail=str(exc)) from None
