"""The channel contract, run over every channel kind (TCP server, TCP client, serial over a pty)."""

from __future__ import annotations

import asyncio
import os
import random

from channel_harness import Harness, RecordingAcceptor


async def test_a_new_link_is_offered_to_the_acceptor(harness: Harness) -> None:
    _remote, handler = await harness.connect()
    link = handler.link
    assert link.port.startswith(harness.kind)
    assert link.peer and link.peer_host
    assert link.number > 0
    expected_bound = {"tcp-server": None, "tcp-client": "0171-00042", "serial": "0171-00043"}[harness.kind]
    assert harness.acceptor.bound[-1] == expected_bound


async def test_bytes_from_the_terminal_arrive_whole_and_in_order(harness: Harness) -> None:
    remote, handler = await harness.connect()
    rng = random.Random(7)
    payload = rng.randbytes(3000)
    cuts = sorted(rng.sample(range(1, len(payload)), 20))
    for start, end in zip([0, *cuts], [*cuts, len(payload)], strict=True):
        await remote.send(payload[start:end])
    assert await handler.wait_bytes(len(payload)) == payload


async def test_bytes_to_the_terminal_arrive_whole_and_in_order(harness: Harness) -> None:
    remote, handler = await harness.connect()
    frames = [bytes([0x68, i]) * 50 for i in range(10)]
    for frame in frames:
        handler.link.write(frame)
    assert await remote.recv(sum(map(len, frames))) == b"".join(frames)


async def test_the_terminal_closing_is_reported_once(harness: Harness) -> None:
    remote, handler = await harness.connect()
    await remote.close()
    assert await handler.wait_lost()
    await asyncio.sleep(0.1)
    assert len(handler.lost) == 1


async def test_closing_from_the_fep_side_ends_the_link(harness: Harness) -> None:
    remote, handler = await harness.connect()
    handler.link.close()
    assert await remote.at_end()
    assert await handler.wait_lost()
    handler.link.write(b"after close")  # harmless


async def test_paused_reading_holds_bytes_until_resumed(harness: Harness) -> None:
    remote, handler = await harness.connect()
    await remote.send(b"first")
    await handler.wait_bytes(5)
    handler.link.pause_reading()
    await asyncio.sleep(0.3)  # a read already waiting for the serial port may still deliver one chunk
    before = len(handler.data)
    await remote.send(b"second")
    await asyncio.sleep(0.4)
    held = len(handler.data) - before
    handler.link.resume_reading()
    assert (await handler.wait_bytes(11))[-6:] == b"second"
    assert held <= 6 if harness.kind == "serial" else held == 0


async def test_a_refused_link_is_closed() -> None:
    from emms_fep.channels.tcp_server import TcpServerChannel

    acceptor = RecordingAcceptor(refuse=True)
    channel = TcpServerChannel("127.0.0.1", 0, acceptor)
    await channel.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", channel.bound_port)
        async with asyncio.timeout(5):
            assert await reader.read(10) == b""
        writer.close()
        assert acceptor.bound == [None]
    finally:
        await channel.stop()


async def test_stopping_the_channel_ends_its_dialled_or_wired_links(harness: Harness) -> None:
    _remote, handler = await harness.connect()
    if harness.kind == "tcp-server":
        handler.link.close()  # a server's accepted links are closed by the gateway, not by the listener
    await harness.channel.stop()
    assert await handler.wait_lost()
    assert os.environ.get("PYTEST_CURRENT_TEST")
