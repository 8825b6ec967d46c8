"""Every fault kind is seen on the wire: bytes written through FaultyWire into a real socket."""

from __future__ import annotations

import asyncio

import pytest

from emms_protocol.framing import StreamFramer
from emms_protocol.gdw1376 import Address, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_sim.wire_faults import KINDS, FaultRates, FaultyWire

FRAME = encode_frame(b.heartbeat(Address(0x3701, 1), 3))


async def _through_socket(kind: str, frames: int = 1) -> tuple[list[bytes], FaultyWire, float]:
    received: list[bytes] = []
    done = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(4096):
            received.append(chunk)
        done.set()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    wire = FaultyWire(FaultRates.parse(f"{kind}=100%", late_s=0.3), seed=1, terminal=0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(frames):
        if not await wire.send(writer, FRAME, answer=True):
            break
        await writer.drain()
    elapsed = loop.time() - started
    writer.close()
    await asyncio.wait_for(done.wait(), 5)
    server.close()
    return received, wire, elapsed


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "ignore-confirm"])
async def test_fault_is_visible_on_the_wire(kind: str) -> None:
    chunks, wire, elapsed = await _through_socket(kind)
    data = b"".join(chunks)
    frames = StreamFramer().feed(data)
    assert wire.injected.get(kind) == 1
    if kind == "no-answer":
        assert data == b""
    elif kind == "late":
        assert elapsed >= 0.3 and frames == [FRAME]
    elif kind == "bad-cs":
        assert frames == [] and len(data) == len(FRAME)
    elif kind == "garbage":
        framer = StreamFramer()
        assert framer.feed(data) == [FRAME] and framer.dropped_bytes > 0
    elif kind == "split":
        assert frames == [FRAME] and len(chunks) > 1
    elif kind == "duplicate":
        assert frames == [FRAME, FRAME]
    elif kind == "disconnect":
        assert 0 < len(data) < len(FRAME) and frames == []


def test_ignore_confirm_is_a_per_terminal_trait() -> None:
    wire = FaultyWire(FaultRates.parse("ignore-confirm=1"), seed=1, terminal=4)
    assert wire.ignores_confirms
    assert not FaultyWire(FaultRates.parse("ignore-confirm=1", terminals=frozenset({1})), 1, 4).ignores_confirms


def test_bad_fault_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FaultRates.parse("explode=1%")
    with pytest.raises(ValueError, match="within"):
        FaultRates.parse("late=150%")
    assert FaultRates.parse("no-answer=1%,bad-cs=0.1%").rates == {"no-answer": 0.01, "bad-cs": 0.001}
