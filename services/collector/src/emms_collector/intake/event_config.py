"""The important ERCs of a terminal class told to its terminals (R-4.5.4.3): AFN 04 F9, the terminal's event
record configuration — every ERC 1..64 recorded, the class's ``important_ercs`` important (class 1: they raise
ACD and are read at once). The master applies the same set to the events it reads (:mod:`event_class`)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from emms_collector.scheduling.dispatch import Dispatcher
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, RequestOutcome

ALL_ERCS = list(range(1, 65))


async def push(dispatcher: Dispatcher, terminals: list[str], important: list[int]) -> list[dict[str, Any]]:
    """AFN 04 F9 to each terminal; per terminal its outcome (``confirmed``, ``denied``, or why not)."""
    codes = sorted(c for c in set(important) if 1 <= c <= 64)

    async def one(terminal: str) -> dict[str, Any]:
        value = {"type": "EventConfig", "recorded": ALL_ERCS, "important": codes}
        request = DownlinkRequest(request_id=f"col-f9-{secrets.token_hex(8)}", terminal=terminal, afn=0x04,
                                  units=[DataUnitRequest(pn=[0], fn=[9], data={"value": value})],
                                  requested_by="collector:event-config", priority=2,
                                  timeout_s=dispatcher.settings.request_timeout_s,
                                  retries=dispatcher.settings.fep_retries)
        result = await dispatcher.send(request, "event-config")
        if result.outcome is RequestOutcome.ANSWERED:
            return {"terminal": terminal, "outcome": "confirmed", "detail": ""}
        outcome = "denied" if result.outcome is RequestOutcome.DENIED else "failed"
        return {"terminal": terminal, "outcome": outcome, "detail": f"{result.outcome.value} {result.detail}".strip()}

    return list(await asyncio.gather(*(one(t) for t in terminals)))
