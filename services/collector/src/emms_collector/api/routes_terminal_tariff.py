"""``/api/v1/terminal-config/terminals/{terminal}/tariff``: the tariff in force of a terminal (AFN0A F21 / F22).

``GET`` shows what was last read: the day's periods (runs of equal rate, 1-based rate numbers), the rates in
厘 and 元 per kWh, and when they were read — 404 for a terminal the collector does not know, 409 with the reason
when its tariff was never read. ``POST …/tariff/read`` reads it now (``terminals:operate``, an operator action
in the duty log); 504 when the terminal does not answer. A new tariff is set like any managed parameter:
``PUT /terminals/{terminal}/params/21`` (periods) and ``…/params/22`` (rates), confirmed and read back.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from emms_collector import duty_log
from emms_collector.api.deps import CollectorDep
from emms_collector.api.params import TerminalPath
from emms_collector.api.responses_terminal_config import TerminalTariff
from emms_collector.api.routes_terminal_config import UPSTREAM, known_terminal, management
from emms_collector.repository import tariff as sql
from emms_collector.repository import terminal_config as params_sql
from emms_collector.terminal_config.tariff import NeverRead, view
from emms_runtime import Conflict, Permission, Principal, UpstreamTimeout, require

router = APIRouter(prefix="/api/v1/terminal-config", tags=["terminal management"])
Reader = Annotated[Principal, require(Permission.TERMINALS_READ)]
Operator = Annotated[Principal, require(Permission.TERMINALS_OPERATE)]
NEVER_READ: dict[int | str, dict[str, Any]] = {409: {"description": "The terminal's tariff was never read (why)"}}


async def _view(c: CollectorDep, key: str) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        held, tried = await sql.held(conn, key), await sql.read_state(conn, key)
    try:
        return view(key, held, tried)
    except NeverRead as exc:
        raise Conflict(str(exc)) from None


@router.get("/terminals/{terminal}/tariff", response_model=TerminalTariff, responses=NEVER_READ,
            summary="The tariff in force of a terminal (AFN0A F21 periods, F22 rates) as last read")
async def tariff(c: CollectorDep, principal: Reader, terminal: TerminalPath) -> dict[str, Any]:
    return await _view(c, await known_terminal(c, principal, terminal))


@router.post("/terminals/{terminal}/tariff/read", response_model=TerminalTariff, responses={**UPSTREAM, **NEVER_READ},
             summary="Read the tariff in force now (AFN0A F21 + F22) and show it")
async def read_tariff(c: CollectorDep, principal: Operator, terminal: TerminalPath) -> dict[str, Any]:
    key = await known_terminal(c, principal, terminal)
    async with c.pool.acquire() as conn:
        action = await params_sql.add_action(conn, principal.subject, key, "read_tariff", {"fns": [21, 22]}, "sent")
    result = await management(c).tariffs.read(key)
    outcome = "read" if result["ok"] else result["outcome"]
    async with c.pool.acquire() as conn:
        await params_sql.finish_action(conn, action, f"{outcome}: {result['detail']}".strip(": "))
    await duty_log.terminal_action(c.producer, category="parameter", action="tariff.read", actor=principal.subject,
                                   terminal=key, action_id=action, outcome=outcome,
                                   detail={"fns": [21, 22], "detail": result["detail"]})
    if result["outcome"] != "answered":
        raise UpstreamTimeout(f"terminal {key} did not answer the tariff read: {result['outcome']} {result['detail']}")
    return await _view(c, key)
