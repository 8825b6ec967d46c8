"""Remote reset of a terminal (AFN01, R-4.6.3) with the safety of a control command.

The route needs ``control:send`` with a step-up token (as control's commands do); the action is recorded
(who, which reset, when) before the frame leaves and its outcome after, so an interrupted reset is still
on record. F1 hardware initialisation, F2 data area, F3 parameters and data (factory), F4 parameters
except master communication, and data.
"""

from __future__ import annotations

from typing import Any

import structlog

from emms_collector import duty_log
from emms_collector.repository import tariff as tariff_sql
from emms_collector.repository import terminal_config as sql
from emms_collector.terminal_config.pushes import TerminalConfig
from emms_messages.terminal import DataUnitRequest, RequestOutcome

log = structlog.get_logger("emms.collector.terminal_reset")
RESET_FN = {"hardware": 1, "data": 2, "factory": 3, "parameters_and_data": 4}


async def reset(config: TerminalConfig, terminal: str, kind: str, actor: str) -> dict[str, Any]:
    fn = RESET_FN[kind]
    async with config.pool.acquire() as conn:
        action = await sql.add_action(conn, actor, terminal, "reset", {"kind": kind, "fn": fn}, "sent")
    log.warning("terminal reset", audit=True, terminal=terminal, kind=kind, by=actor)
    result = await config.send(terminal, 0x01, [DataUnitRequest(pn=[0], fn=[fn])], "terminal-reset")
    outcome = {RequestOutcome.ANSWERED: "confirmed"}.get(result.outcome, result.outcome.value)
    detail = result.detail or ("confirmed by the terminal (AFN00)" if outcome == "confirmed" else "")
    async with config.pool.acquire() as conn:
        await sql.finish_action(conn, action, f"{outcome}: {detail}".strip(": "))
        if outcome == "confirmed" and fn in (3, 4):  # parameters initialised: the tariff in force is the factory's
            await tariff_sql.mark_due(conn, terminal)
    await duty_log.terminal_action(config.producer, category="reset", action=f"reset.{kind}", actor=actor,
                                   terminal=terminal, action_id=action, outcome=outcome,
                                   detail={"fn": fn, "detail": detail})
    return {"terminal": terminal, "kind": kind, "fn": fn, "outcome": outcome, "detail": detail, "action_id": action}
