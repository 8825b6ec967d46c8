"""100,000 random and mutated frames into a live FEP over TCP: it never crashes, good terminals keep sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import pytest
from fep_harness import BusWatch, Replica, until
from fep_terminal import FakeTerminal

from emms_bus import BusProducer
from emms_messages.terminal import SessionState

pytestmark = pytest.mark.integration
FRAMES = 100_000
CONNECTIONS = 20
GOOD_AREA = "0340"


def _mutants(seeds: list[bytes], rng: random.Random, count: int) -> list[bytes]:
    """Random bytes, bit flips, truncations, wrong lengths, fixed-up checksums, frames glued together."""
    out: list[bytes] = []
    for i in range(count):
        seed = bytearray(rng.choice(seeds))
        kind = i % 6
        if kind == 0:
            out.append(rng.randbytes(rng.randint(1, 64)))
        elif kind == 1:
            for _ in range(rng.randint(1, 4)):
                seed[rng.randrange(len(seed))] ^= 1 << rng.randrange(8)
            out.append(bytes(seed))
        elif kind == 2:
            out.append(bytes(seed[: rng.randrange(1, len(seed))]))
        elif kind == 3:
            seed[1] = seed[3] = rng.randrange(256)  # a length both copies agree on, but wrong
            out.append(bytes(seed))
        elif kind == 4:
            seed[rng.randrange(6, len(seed) - 2)] = rng.randrange(256)
            seed[-2] = sum(seed[6:-2]) & 0xFF  # a valid checksum over a mutated body
            out.append(bytes(seed))
        else:
            out.append(b"\x68" + bytes(seed) + rng.randbytes(rng.randint(0, 8)))
    return out


async def _blast(port: int, frames: list[bytes]) -> tuple[int, int]:
    """Send ``frames`` over one link; when the FEP closes it (a fuzzed logout, the login deadline), carry on
    over a new link. The link ends with a half-close and reads what the FEP sent until it closes, so the
    FEP reads every byte first (closing with unread confirms would reset the link). Returns (sent, links)."""
    sent, links = 0, 0
    while sent < len(frames):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        links += 1
        drained = asyncio.create_task(_drain(reader))
        try:
            for frame in frames[sent:]:
                writer.write(frame)
                sent += 1
                if sent % 200 == 0:
                    await writer.drain()
            await writer.drain()
            writer.write_eof()
            await drained
        except ConnectionError:
            pass
        finally:
            drained.cancel()
            writer.close()
    return sent, links


async def _drain(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


def _bytes_in(replica: Replica) -> int:
    return sum(p.counters.bytes_in for p in replica.fep.gateway.ports.values())


async def test_fuzzing_never_crashes_the_fep_and_good_terminals_keep_their_sessions(
        replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    good = [FakeTerminal(f"{GOOD_AREA}-{n:05d}") for n in range(1, 6)]
    for t in good:
        await t.connect(replica.port)
        await t.login()
        t.keep_alive(interval_s=0.5)
    per_link = FRAMES // CONNECTIONS
    chunks: list[list[bytes]] = []
    for link in range(CONNECTIONS):
        rng = random.Random(20_26 + link)
        seeds = FakeTerminal.sample_frames(rng)  # addresses of its own, so fuzzed logins never replace each other
        chunk: list[bytes] = []
        while len(chunk) < per_link:
            chunk += [f for f in _mutants(seeds, rng, per_link - len(chunk))
                      if not FakeTerminal.is_login_of_area(f, GOOD_AREA)]
        chunks.append(chunk)
    total_bytes = sum(len(f) for chunk in chunks for f in chunk)
    bytes_before = _bytes_in(replica)
    started = time.monotonic()
    sent = links = 0
    for wave in range(0, CONNECTIONS, 5):
        for frames_sent, used in await asyncio.gather(*(_blast(replica.port, c) for c in chunks[wave:wave + 5])):
            sent, links = sent + frames_sent, links + used
    await until(lambda: _bytes_in(replica) - bytes_before >= 0.95 * total_bytes, timeout_s=50)
    elapsed = time.monotonic() - started
    logging.getLogger("fep.fuzz").warning(
        f"fuzz: {sent:,} frames ({total_bytes:,} bytes) over {links} links read by the FEP in {elapsed:.1f} s")
    assert sent >= FRAMES
    assert elapsed < 60
    await asyncio.sleep(1.0)
    for t in good:
        assert replica.fep.sessions.get(t.address) is not None, f"{t.address} lost its session"
        assert (await t.heartbeat()).afn == 0x00
        assert not t.keep_alive_failed
    assert not any(s.terminal.startswith(GOOD_AREA) and s.state is SessionState.OFFLINE for s in watch.sessions)
    health = await replica.client.get("/healthz")
    assert health.status_code == 200
    stats = (await replica.client.get("/api/v1/fep/stats")).json()
    assert stats["totals"]["illegal_frames"] > 1000 and stats["dropped_bytes"] > 10_000
    for t in good:
        await t.close()
    await until(lambda: all(replica.fep.sessions.get(t.address) is None for t in good))
