"""The concentrator's parameters as the master sets and reads them (AFN04 / 0A), a change behind the master's
back through the truth API, resets counted, the version it reports (AFN09)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient

from emms_protocol.gdw1376 import DataUnit, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn04_0a import MeterConfig, MeterConfigQuery, UplinkCommParams
from emms_protocol.gdw1376.json_view import to_jsonable
from emms_sim import param_admin
from emms_sim.answers import Outcome, answer
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC).timestamp()
F1 = UplinkCommParams(0, 1, 20, 2, True, False, True, 3)


def _state() -> TerminalState:
    truth = GroundTruth(FleetConfig(seed=11, concentrators=2, meters_per=4, rates=FieldRates.quiet()))
    return TerminalState(truth, 0, started_ts=T0 - 86400.0)


def _ask(state: TerminalState, afn: int, units: list[DataUnit]) -> Outcome:
    return answer(state, b.request(state.address, afn, units, 1, bytes(16) if afn in (0x01, 0x04) else None), T0)


def _confirmed(outcome: Outcome) -> bool:
    (frame,) = outcome.frames
    return frame.afn == 0x00 and [u.fn for u in decode_units(frame)] == [1]


def _read(state: TerminalState, fn: int, value: object = None) -> object:
    (frame,) = _ask(state, 0x0A, [DataUnit(0, fn, value)]).frames
    (unit,) = decode_units(frame)
    return unit.value


def test_f1_is_held_whole_and_read_back_as_set() -> None:
    state = _state()
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 1, F1)]))
    assert _read(state, 1) == F1
    assert state.heartbeat_s == 180.0


def test_f1_without_a_heartbeat_is_denied_and_changes_nothing() -> None:
    state = _state()
    before = _read(state, 1)
    assert not _confirmed(_ask(state, 0x04, [DataUnit(0, 1, UplinkCommParams(0, 1, 20, 2, True, False, True, 0))]))
    assert _read(state, 1) == before


def test_a_change_behind_the_masters_back_is_what_the_terminal_answers() -> None:
    state = _state()
    runner = SimpleNamespace(sessions=[SimpleNamespace(state=state)])
    app = FastAPI()
    param_admin.add_param_routes(app, runner)  # type: ignore[arg-type]
    client = TestClient(app)
    changed = {**to_jsonable(F1), "heartbeat_min": 9}
    resp = client.post(f"/terminals/{state.address.key}/params", json={"fn": 1, "value": changed})
    assert resp.status_code == 200, resp.text
    read = _read(state, 1)
    assert isinstance(read, UplinkCommParams) and read.heartbeat_min == 9
    held = client.get(f"/terminals/{state.address.key}/params").json()
    assert held["params"]["1"] == changed and held["version"]["vendor"] == "EMMS"
    pns = [r["pn"] for r in held["table"]]
    record = {"type": "MeterRecord", "serial": pns[0], "pn": 0, "port": 31, "baud": 0, "protocol": 30,
              "address": "000000000000", "password": "000000000000", "tariffs": 4, "integer_digits": 6,
              "decimal_digits": 2, "collector": "000000000000", "big_class": 0, "small_class": 0}
    client.post(f"/terminals/{state.address.key}/params", json={"fn": 10, "value": {"type": "MeterConfig",
                                                                                    "records": [record]}})
    table = _read(state, 10, MeterConfigQuery(()))
    assert isinstance(table, MeterConfig) and pns[0] not in [r.pn for r in table.records]
    assert client.post(f"/terminals/{state.address.key}/params", json={"fn": 7, "value": {}}).status_code == 422
    wrong = client.post(f"/terminals/{state.address.key}/params", json={"fn": 3, "value": to_jsonable(F1)})
    assert wrong.status_code == 422 and "MasterAddress" in wrong.text
    assert client.get("/terminals/9999-00001/params").status_code == 404


def test_resets_are_counted_by_fn() -> None:
    state = _state()
    assert _confirmed(_ask(state, 0x01, [DataUnit(0, 2, None)]))
    assert _confirmed(_ask(state, 0x01, [DataUnit(0, 2, None)]))
    assert state.resets == {"F2": 2}
