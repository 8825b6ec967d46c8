"""A fleet child process's line to its parent: JSON lines on stdout, requests on stdin.

Out (one JSON object per line, ``type`` first): ``started`` (pid, share,
terminals, event loop, file budget, RSS before the sessions were built),
``counts`` every ``--status-s``, ``ledger`` (a trip / close / meter clock sync /
protection on or off this process's terminals received, so the parent's truth
API includes it),
``event`` (a run-time event), ``reply`` (to a request), ``stopped`` (final
counts). In: ``{"type": "status", "id": N}`` asks for the per-terminal status.
End of stdin means the parent is gone: the child stops (its terminals log out).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from emms_sim.controls import LedgerChange


class ParentChannel:
    def __init__(self, status: Callable[[], list[dict[str, Any]]], out: TextIO | None = None) -> None:
        self._status = status
        self._out = out if out is not None else sys.stdout

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._out.write(json.dumps(message, separators=(",", ":"), default=str) + "\n")
            self._out.flush()
        except (BrokenPipeError, ValueError):
            pass  # the parent is gone; stdin's end stops us

    def forward_ledger(self, change: LedgerChange) -> None:
        self.send({"type": "ledger", "change": change})

    def forward_event(self, event: dict[str, Any]) -> None:
        self.send({"type": "event", "event": event})

    async def serve(self, stop: asyncio.Event) -> None:
        """Answer the parent's requests until stdin closes (then set ``stop``) or ``stop`` is set."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        try:
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    break
                self._answer(line)
        finally:
            transport.close()
            stop.set()

    def _answer(self, line: bytes) -> None:
        try:
            request = json.loads(line)
            kind, ident = request["type"], request.get("id")
        except (ValueError, KeyError, TypeError):
            self.send({"type": "error", "reason": f"bad request {line[:80]!r}"})
            return
        if kind == "status":
            self.send({"type": "reply", "id": ident, "body": self._status()})
        else:
            self.send({"type": "reply", "id": ident, "error": f"unknown request {kind!r}"})
