"""DL/T 645 decode throughput: emms_protocol.dlt645 against the PyPI package ``dlt645`` on the same frames.

The frames are read replies a collector sees every day (energy totals with a
FE preamble, phase voltage and current, active power, power factor, frequency,
reverse energy). Two comparisons, both on one core in this process:

* *full decode* — bytes to an engineering value: ours ``decode_frame`` against
  ``DLT645Protocol.deserialize`` + ``MeterClientService.handle_response`` (what
  the package's own client does with a reply; the service is built without a
  connection and only its pure decoding method is called);
* *framing only* — ours (still doing the full decode) against ``deserialize``
  alone (find, check and unscramble the frame): a lower bound of the ratio.

Both decoders are checked to agree on every value before timing. Best of 5 runs.

    .venv/bin/python tools/bench/bench_protocol_645.py
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from emms_protocol import cjt188, dlt645
from emms_protocol.dlt645 import ReadReply

ADDRESS = "151230011061"
N = int(os.environ.get("EMMS_BENCH_645_FRAMES", "40000"))
READINGS: list[tuple[int, float]] = [
    (0x00010000, 6.78), (0x02010100, 220.1), (0x02020100, -1.234), (0x02030000, 1.2345),
    (0x02060000, 0.987), (0x02800002, 50.01), (0x00020000, 123.45),
]


def _frames() -> list[bytes]:
    return [dlt645.read_reply(ADDRESS, di, value, preamble=4 if i == 0 else 0)
            for i, (di, value) in enumerate(READINGS)]


def _rate(decode: Callable[[bytes], object], frames: list[bytes], n: int = N) -> float:
    """Frames per second, best of five runs of ``n`` decodes."""
    count = len(frames)
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        for i in range(n):
            decode(frames[i % count])
        best = max(best, n / (time.perf_counter() - started))
    return best


def _ours(raw: bytes) -> float | None:
    body = dlt645.decode_frame(raw).body
    assert isinstance(body, ReadReply)
    value = body.value
    return value if isinstance(value, float) else None


def _reference() -> tuple[Callable[[bytes], object], Callable[[bytes], object]] | None:
    try:
        from dlt645 import DLT645Protocol, MeterClientService
    except ImportError:
        return None
    service = MeterClientService(None)  # no transport: only the pure handle_response is used

    def full(raw: bytes) -> object:
        frame = DLT645Protocol.deserialize(raw)
        service.address = bytearray(frame.addr)
        item = service.handle_response(frame)
        return None if item is None else item.value

    return DLT645Protocol.deserialize, full


def _row(metric: str, value: float, unit: str, target: str, note: str) -> dict[str, object]:
    return {"benchmark": "protocol_645", "metric": metric, "value": value, "unit": unit, "target": target,
            "note": note}


def run() -> list[dict[str, object]]:
    frames = _frames()
    ours = _rate(_ours, frames)
    mix = f"{len(frames)} read replies (energy, U, I, P, PF, f), one core, best of 5 × {N:,}"
    rows = [_row("decode, ours (bytes → value)", ours, "frames/s", "", mix)]
    reference = _reference()
    if reference is None:
        rows.append(_row("ratio vs PyPI dlt645", 0.0, "×", "≥ 2", "package dlt645 not installed"))
        return rows
    framing, full = reference
    for raw, (_, value) in zip(frames, READINGS, strict=True):
        if full(raw) != value or _ours(raw) != value:
            raise AssertionError(f"decoders disagree on {raw.hex(' ')}")
    theirs_full = _rate(full, frames)
    theirs_framing = _rate(framing, frames)
    rows += [
        _row("decode, dlt645 3.x deserialize + handle_response", theirs_full, "frames/s", "", mix),
        _row("decode, dlt645 3.x deserialize only (framing)", theirs_framing, "frames/s", "", mix),
        _row("ratio ours / dlt645 (full decode)", ours / theirs_full, "×", "≥ 2", "same frames, same values"),
        _row("ratio ours / dlt645 (vs its framing only)", ours / theirs_framing, "×", "≥ 2",
             "lower bound: ours still decodes the value"),
    ]
    water = cjt188.read_reply(0x10, "00000805000001", 0x901F, bytes.fromhex(
        "00230100 2C 00000000 2C 31012211051520 0000"))
    rows.append(_row("CJ/T 188 901F water reply decode, ours", _rate(cjt188.decode_frame, [water], N // 2),
                     "frames/s", "", "one core, best of 5"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['metric']:<52} {row['value']:>12,.1f} {row['unit']:<9} {row['target']:<5} {row['note']}")
