"""Truth API of the terminals' parameters: what each concentrator holds, and changes made behind the master's back.

* ``GET /terminals/{key}/params`` — the parameters the terminal holds now (F21 / F22: its tariff), in the JSON view of
  ``emms_protocol.gdw1376.json_view`` (``{"1": {"type": "UplinkCommParams", …}}``), its measurement-point
  table (AFN04 F10 records: serial, pn, port, protocol code, address), its version (AFN09 F1) and how often it
  was reset (AFN01, by Fn);
* ``POST /terminals/{key}/params`` ``{"fn": 1, "value": {"type": "UplinkCommParams", …}}`` — a local change
  (a field engineer's hand-held, a firmware default): the terminal holds the new value and says nothing;
  the master finds it only by reading the parameters back (drift). F1, F3, F10, F25 and F89 are accepted.

Only a single-process fleet serves these (the terminals' state lives in the process that runs them);
``run_local`` adds the routes to its truth app. Bad input is a 4xx with a reason.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Body, FastAPI, HTTPException

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.afn04_0a import (
    MasterAddress,
    MeterConfig,
    PointBasicParams,
    TerminalAddress,
    UplinkCommParams,
)
from emms_protocol.gdw1376.json_view import from_jsonable, to_jsonable
from emms_protocol.gdw1376.purchase import EnergyRates
from emms_protocol.gdw1376.tariff import TariffPeriods
from emms_sim import answer_admin, answer_purchase
from emms_sim.fleet_runner import FleetRunner
from emms_sim.terminal_state import TableEntry, TerminalState

SETTABLE: dict[int, type] = {1: UplinkCommParams, 3: MasterAddress, 10: MeterConfig, 25: PointBasicParams,
                             89: TerminalAddress}


def _state(runner: FleetRunner, key: str) -> TerminalState:
    for session in runner.sessions:
        if session.state.address.key == key.upper():
            return session.state
    raise HTTPException(404, f"no terminal {key!r} in this process")


def params_of(state: TerminalState, ts: float) -> dict[str, Any]:
    """The terminal's parameters as the master would read them back."""
    held: dict[str, Any] = {"1": to_jsonable(state.uplink())}
    held.update({str(fn): to_jsonable(v) for fn, v in sorted(state.params.items()) if fn != 1})
    tariff = answer_purchase.tariff(state)  # F21 / F22: the tariff in force (the ledger's, or the default)
    held["21"] = to_jsonable(TariffPeriods(tariff.slots, tariff.rate_count))
    held["22"] = to_jsonable(EnergyRates(tariff.rates))
    return {"terminal": state.address.key, "params": held,
            "table": [{"serial": e.serial, "pn": e.pn, "port": e.port, "protocol": e.protocol, "address": e.address}
                      for e in state.entries(ts)],
            "version": to_jsonable(answer_admin.VERSION), "resets": dict(state.resets)}


def change_locally(state: TerminalState, fn: int, value: object) -> None:
    """Apply a parameter the way the terminal's own menu would: no event, no confirm to anyone."""
    if isinstance(value, UplinkCommParams):
        state.set_uplink(value)
    elif isinstance(value, MeterConfig):
        for r in value.records:
            state.set_entry(TableEntry(r.serial, r.pn, r.port, r.protocol, r.address, r.tariffs))
    else:
        state.params[fn] = value


def add_param_routes(app: object, runner: FleetRunner) -> None:
    """Add the routes to the truth app of a single-process fleet."""
    if not isinstance(app, FastAPI):
        raise TypeError(f"the truth app is a {type(app).__name__}, not a FastAPI app")

    def get_params(key: str) -> dict[str, Any]:
        return params_of(_state(runner, key), time.time())

    def post_params(key: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008 (FastAPI)
        state = _state(runner, key)
        fn = body.get("fn")
        if not isinstance(fn, int) or fn not in SETTABLE:
            raise HTTPException(422, f"fn must be one of {sorted(SETTABLE)}")
        try:
            value = from_jsonable(body.get("value"))
        except ProtocolError as exc:
            raise HTTPException(422, f"value: {exc}") from None
        if not isinstance(value, SETTABLE[fn]):
            raise HTTPException(422, f"F{fn} takes a {SETTABLE[fn].__name__}, got {type(value).__name__}")
        change_locally(state, fn, value)
        return params_of(state, time.time())

    app.get("/terminals/{key}/params")(get_params)
    app.post("/terminals/{key}/params")(post_params)
