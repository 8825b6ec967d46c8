"""Fault injection on the wire, per fleet or per terminal, by rate — decided from the seed.

Kinds: ``no-answer`` (drop an answer), ``late`` (answer after ``late_s``),
``bad-cs`` (corrupt the checksum), ``garbage`` (noise bytes before a frame),
``split`` (a frame written in many small TCP segments), ``duplicate`` (a frame
sent twice), ``disconnect`` (half a frame, then the link drops),
``ignore-confirm`` (a terminal that never takes a confirmation: it keeps
retransmitting its login / heartbeats / reports). Each decision is
``chance(rate, seed, terminal, kind, n)`` with ``n`` the terminal's frame
counter, so a run is reproducible.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from emms_sim.hashing import TAG_FAULT, chance, mix, text_key


class FrameWriter(Protocol):
    """What the wire writes to: an ``asyncio.StreamWriter`` or a session's ``TerminalLink``."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


KINDS = ("no-answer", "late", "bad-cs", "garbage", "split", "duplicate", "disconnect", "ignore-confirm")


@dataclass(frozen=True, slots=True)
class FaultRates:
    rates: dict[str, float] = field(default_factory=dict)
    late_s: float = 5.0
    terminals: frozenset[int] | None = None  # None = the whole fleet

    @classmethod
    def parse(cls, text: str, terminals: frozenset[int] | None = None, late_s: float = 5.0) -> FaultRates:
        """``"no-answer=1%,bad-cs=0.1%"`` (percent or fraction) → rates; unknown kinds raise ValueError."""
        rates: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name not in KINDS:
                raise ValueError(f"unknown fault {name!r}; kinds: {', '.join(KINDS)}")
            rate = float(value.rstrip("%")) / 100.0 if value.endswith("%") else float(value or 1.0)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate of {name} must be within 0..1 (or 0..100%)")
            rates[name] = rate
        return cls(rates, late_s, terminals)

    def applies(self, terminal: int) -> bool:
        return bool(self.rates) and (self.terminals is None or terminal in self.terminals)


class FaultyWire:
    """Writes a terminal's frames to its stream, injecting the configured faults."""

    def __init__(self, rates: FaultRates, seed: int, terminal: int) -> None:
        self.rates = rates
        self.seed = seed
        self.terminal = terminal
        self.active = rates.applies(terminal)
        self.counter = 0
        self.injected: dict[str, int] = {}
        self.ignores_confirms = self.active and chance(rates.rates.get("ignore-confirm", 0.0), seed, TAG_FAULT,
                                                       terminal, text_key("ignore-confirm"))

    def _hit(self, kind: str) -> bool:
        rate = self.rates.rates.get(kind, 0.0)
        if rate <= 0.0 or not chance(rate, self.seed, TAG_FAULT, self.terminal, text_key(kind), self.counter):
            return False
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return True

    async def send(self, writer: FrameWriter, raw: bytes, *, answer: bool) -> bool:
        """Write one frame; False when the link was dropped on purpose (``disconnect``)."""
        self.counter += 1
        if not self.active:
            writer.write(raw)
            return True
        if answer and self._hit("no-answer"):
            return True
        if answer and self._hit("late"):
            await asyncio.sleep(self.rates.late_s)
        data = bytearray(raw)
        if self._hit("bad-cs"):
            data[-2] = (data[-2] + 1) & 0xFF
        if self._hit("garbage"):
            noise = mix(self.seed, self.terminal, self.counter).to_bytes(8, "little")
            data[:0] = noise.replace(b"\x68", b"\x00")
        if self._hit("disconnect"):
            writer.write(bytes(data[: len(data) // 2]))
            await writer.drain()
            writer.close()
            return False
        copies = 2 if self._hit("duplicate") else 1
        for _ in range(copies):
            if self._hit("split"):
                for i in range(0, len(data), 3):
                    writer.write(bytes(data[i:i + 3]))
                    await writer.drain()
                    await asyncio.sleep(0.002)
            else:
                writer.write(bytes(data))
        return True
