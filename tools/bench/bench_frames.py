"""CPU per answer frame at the FEP and at the collector, for the ways a decoded frame can cross the bus.

Issue #21 item 1 chose between typing the bus field (a pydantic view of the
protocol dataclasses) and letting consumers decode ``raw_hex`` with the pure
codec by this measurement. Mix: the answers of a daily-frozen collection —
AFN 0D F161, F1 and F2 for 8 measurement points each (one frame per Fn, as the
simulator answers) and an AFN 10 F1 forwarded DL/T 645 reply.

Per frame, one core, ``process_time``:

* **fep** — ``read_frame`` (the routing decode every option needs) + what the
  option adds + ``DownlinkResult.model_dump_json`` of one answer frame;
* **collector** — ``DownlinkResult.model_validate_json`` + back to typed units +
  ``items_from_units`` / the 645 items (the canonical values).

Options: ``json view`` (today: ``decoded`` / ``frames`` are the JSON view, read
back by ``json_view.units_from_view``); ``typed`` (a pydantic model of the
protocol dataclasses on the bus, validated back into them); ``raw`` (the FEP
sends the frame bytes, the collector runs ``decode_frame`` + ``decode_units``);
``raw + view`` (raw, and the FEP still publishes the JSON view for people and
other consumers, which the collector does not read).

    .venv/bin/python tools/bench/bench_frames.py      (EMMS_BENCH_FRAMES_SECONDS=1.5 per figure)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Tag

from emms_fep.wire import read_frame
from emms_messages.terminal import DownlinkResult, RequestOutcome
from emms_protocol.gdw1376 import DEVICE_TZ, Address, DataUnit, TimeLabel, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn10 import ForwardReply, decode_inner
from emms_protocol.gdw1376.energy_blocks import EnergyReading, ForwardEnergies, Register, ReverseEnergies
from emms_protocol.gdw1376.items_map import items_from_units
from emms_protocol.gdw1376.json_view import frame_header, tag_of, units_from_view
from emms_protocol.items import items_from_645

REPLY_645 = bytes.fromhex("68 61 10 01 30 12 15 68 91 08 33 33 34 33 AB 39 33 33 49 16")
PNS = range(1, 9)


def mix() -> list[bytes]:
    """Four answer frames of a daily-frozen collection."""
    master = Address(0x3701, 12, master=1)
    tp = TimeLabel(3, datetime(2026, 11, 24, 0, 10, tzinfo=DEVICE_TZ), 5)
    tm = datetime(2026, 11, 24, 0, 5, tzinfo=DEVICE_TZ)
    td = date(2026, 11, 23)

    def reg(base: float) -> Register:
        return Register(base, (base * 0.4, base * 0.3, base * 0.2, base * 0.1))

    def answer(fn: int, value: Callable[[int], object]) -> bytes:
        request = b.request(master, 0x0D, [DataUnit(pn, fn, td) for pn in PNS], fn & 15, tp=tp)
        return encode_frame(b.response(request, [DataUnit(pn, fn, value(pn)) for pn in PNS]))

    fwd = b.request(master, 0x10, [], 5, tp=tp)
    return [
        answer(161, lambda pn: EnergyReading(tm, 1000.0 + pn, (400.0, 300.0, 200.0, 100.0), td)),
        answer(1, lambda pn: ForwardEnergies(tm, reg(1000.0 + pn), reg(50.0 + pn), reg(30.0), reg(20.0), td)),
        answer(2, lambda pn: ReverseEnergies(tm, reg(10.0 + pn), reg(5.0), reg(3.0), reg(2.0), td)),
        encode_frame(b.response(fwd, [DataUnit(0, 1, ForwardReply(31, REPLY_645))])),
    ]


# -- option "typed": a pydantic view of the protocol dataclasses -------------------------------------------------

def _tag(value: Any) -> str:
    if isinstance(value, dict):
        return "ForwardEnergies" if "q1" in value else "ReverseEnergies" if "q2" in value else \
            "ForwardReply" if "payload" in value else "EnergyReading"
    return tag_of(value)


TypedValue = Annotated[
    Annotated[EnergyReading, Tag("EnergyReading")] | Annotated[ForwardEnergies, Tag("ForwardEnergies")]
    | Annotated[ReverseEnergies, Tag("ReverseEnergies")] | Annotated[ForwardReply, Tag("ForwardReply")],
    Discriminator(_tag)]
_BYTES_HEX = ConfigDict(frozen=True, ser_json_bytes="hex", val_json_bytes="hex")


class TypedUnit(BaseModel):
    model_config = _BYTES_HEX
    pn: int
    fn: int
    type: str | None = None
    value: TypedValue | None = None


class TypedFrame(BaseModel):
    model_config = _BYTES_HEX
    afn: int
    header: dict[str, Any]
    units: list[TypedUnit]


class TypedResult(DownlinkResult):
    model_config = _BYTES_HEX
    frames: list[TypedFrame]  # type: ignore[assignment]


# -- the four paths ---------------------------------------------------------------------------------------------

def _result(frames: list[Any], cls: type[DownlinkResult] = DownlinkResult) -> DownlinkResult:
    now = datetime(2026, 11, 24, 0, 10, tzinfo=UTC)
    return cls(request_id="r", terminal="3701-00012", outcome=RequestOutcome.ANSWERED, attempts=1, sent_at=now,
               completed_at=now, round_trip_ms=120.0, frames=frames)


def _with_inner(value: object) -> object:
    """``inner`` (the 645 / 188 frame) is typed ``Any``: the typed option re-decodes it from ``payload``."""
    if isinstance(value, ForwardReply):
        return replace(value, inner=decode_inner(value.payload)[0])
    return value


def _values(afn: int, units: list[DataUnit]) -> int:
    if afn == 0x10:
        n = 0
        for unit in units:
            inner = getattr(unit.value, "inner", None)
            body = getattr(inner, "body", None)
            if body is not None:
                n += len(items_from_645(body.di, body.value))
        return n
    return len(items_from_units(afn, units))


def fep_view(raw: bytes) -> bytes:
    return _result([read_frame(raw).as_dict()]).model_dump_json().encode()


def fep_typed(raw: bytes) -> bytes:
    view = read_frame(raw)
    units = [TypedUnit(pn=u.pn, fn=u.fn, type=tag_of(u.value), value=u.value) for u in decode_units(view.frame)]
    frame = TypedFrame(afn=view.afn, header=frame_header(view.frame), units=units)
    return _result([frame], TypedResult).model_dump_json().encode()


def fep_raw(raw: bytes) -> bytes:
    view = read_frame(raw)
    return _result([{"afn": view.afn, "raw_hex": raw.hex()}]).model_dump_json().encode()


def fep_raw_view(raw: bytes) -> bytes:
    view = read_frame(raw)
    return _result([{**view.as_dict(), "raw_hex": raw.hex()}]).model_dump_json().encode()


def col_view(message: bytes) -> int:
    n = 0
    for frame in DownlinkResult.model_validate_json(message).frames:
        afn, units, _ = units_from_view(frame)
        n += _values(afn, units)
    return n


def col_typed(message: bytes) -> int:
    n = 0
    for frame in TypedResult.model_validate_json(message).frames:
        units = [DataUnit(u.pn, u.fn, _with_inner(u.value)) for u in frame.units]
        n += _values(frame.afn, units)
    return n


def col_raw(message: bytes) -> int:
    n = 0
    for frame in DownlinkResult.model_validate_json(message).frames:
        decoded = decode_frame(bytes.fromhex(frame["raw_hex"]))
        n += _values(decoded.afn, decode_units(decoded))
    return n


OPTIONS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], int]]] = {
    "json view (before)": (fep_view, col_view),
    "typed (pydantic)": (fep_typed, col_typed),
    "raw (codec at the consumer)": (fep_raw, col_raw),
    "raw + view for people": (fep_raw_view, col_raw),
}


def _us_per_call(fn: Callable[[], object], calls: int, seconds: float) -> float:
    """CPU µs per call, best of 3 runs (``process_time``: the machine is shared)."""
    best = float("inf")
    for _ in range(3):
        done = 0
        started = time.process_time()
        deadline = started + seconds / 3
        while time.process_time() < deadline:
            fn()
            done += calls
        best = min(best, (time.process_time() - started) / done * 1e6)
    return best


def run() -> list[dict[str, object]]:
    seconds = float(os.environ.get("EMMS_BENCH_FRAMES_SECONDS", "1.5"))
    frames = mix()
    expected = [col_view(fep_view(raw)) for raw in frames]
    assert expected[0] == 8 * 5 and all(expected), expected  # the mix really yields values
    rows: list[dict[str, object]] = []
    note = "AFN0D F161 / F1 / F2 × 8 points + AFN10 645 reply; per answer frame, one core"
    for name, (fep, col) in OPTIONS.items():
        messages = [fep(raw) for raw in frames]
        assert [col(m) for m in messages] == expected, name  # same canonical values every way

        def at_fep(fep: Callable[[bytes], bytes] = fep) -> None:
            for raw in frames:
                fep(raw)

        def at_collector(col: Callable[[bytes], int] = col, messages: list[bytes] = messages) -> None:
            for m in messages:
                col(m)

        size = sum(len(m) for m in messages) / len(messages)
        rows.append({"benchmark": "frames", "metric": f"{name}: fep µs/frame",
                     "value": _us_per_call(at_fep, len(frames), seconds), "unit": "µs", "target": "", "note": note})
        rows.append({"benchmark": "frames", "metric": f"{name}: collector µs/frame",
                     "value": _us_per_call(at_collector, len(frames), seconds), "unit": "µs", "target": "",
                     "note": note})
        rows.append({"benchmark": "frames", "metric": f"{name}: payload bytes/frame", "value": size,
                     "unit": "B", "target": "", "note": "DownlinkResult JSON with one answer frame"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['metric']:<55} {row['value']:>10,.1f} {row['unit']}")
