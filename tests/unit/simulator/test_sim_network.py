"""The simulated network: head meters sum what is physically behind them, the injected cases, the truth API."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from emms_protocol.gdw1376 import DataUnit, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_sim.answers import answer
from emms_sim.fleet import FieldRates, FleetConfig, NetworkPlan
from emms_sim.http_api import create_app
from emms_sim.manifest import write_manifest
from emms_sim.network import MAIN_ITEM
from emms_sim.network_truth import network_router
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

T0 = datetime(2026, 11, 20, tzinfo=UTC) - timedelta(hours=8)  # local midnight
T1 = T0 + timedelta(days=6)
ONSET = T0 + timedelta(days=2)
CFG = FleetConfig(seed=3, concentrators=10, meters_per=30, rates=FieldRates.quiet(),
                  network=NetworkPlan(zone_terminals=5, station_terminals=10, ntl_from=ONSET.timestamp(),
                                      ntl_spread_days=2.0))
TRUTH = GroundTruth(CFG)
NET = TRUTH.model.network  # type: ignore[attr-defined]


def _metered(item: str, meter: str, a: datetime, z: datetime) -> float:
    lo, hi = TRUTH.truth(meter, item, a), TRUTH.truth(meter, item, z)
    assert lo is not None and hi is not None
    return hi - lo


def test_every_area_loss_is_what_the_registers_show_and_the_truth_adds_up() -> None:
    kinds: set[str] = set()
    for area in NET.areas():
        t = TRUTH.network_loss(area.area_id, T0, T1)
        item = MAIN_ITEM[area.utility]
        head = _metered(item, area.head.meter_id, T0, T1) * area.ct_ratio
        outs = sum(_metered(item, m, T0, T1) for m in area.listed)
        resolution = 0.01 * (area.ct_ratio + len(area.listed)) * 2
        assert head == pytest.approx(t["true_input"], abs=resolution)
        assert head - outs == pytest.approx(t["loss"], abs=resolution)
        assert t["true_input"] == pytest.approx(t["true_outputs"] + t["technical_loss"] + sum(
            c["fraction"] * (T1 - max(T0, datetime.fromtimestamp(c["since"], UTC))).total_seconds() / 3600
            for c in t["cases"] if c["kind"] == "leak"), rel=1e-9)
        assert t["technical_loss"] == pytest.approx(area.loss_rate * t["true_outputs"])
        kinds.update(c["kind"] for c in t["cases"])
        if not t["cases"]:  # a clean area loses only its technical loss
            assert t["non_technical_loss"] == pytest.approx(0.0, abs=1e-6)
            assert t["culprits"] == []
        if area.utility == "heat":
            assert t["true_outputs"] > 0  # in the heating season
    assert kinds == {"bypass", "stopped", "wrong_area", "leak"}


def test_culprit_meters_read_less_from_their_onset() -> None:
    seen = 0
    for area in NET.areas():
        for case in area.cases:
            if case.kind not in ("bypass", "stopped"):
                continue
            seen += 1
            since = datetime.fromtimestamp(case.since, UTC)
            assert ONSET <= since <= ONSET + timedelta(days=2)
            meter = TRUTH.meter(case.meter_id)
            item = MAIN_ITEM[meter.utility]
            after = since + timedelta(hours=30)
            shown = _metered(item, case.meter_id, since, after)
            true = TRUTH.model.true_usage(meter, "imp0", since.timestamp(), after.timestamp())  # type: ignore[attr-defined]
            assert true > 1.0
            assert shown == pytest.approx(case.fraction * true, abs=0.02)
            # before the onset it counts like any meter
            before = _metered(item, case.meter_id, since - timedelta(days=1), since)
            true_before = TRUTH.model.true_usage(  # type: ignore[attr-defined]
                meter, "imp0", (since - timedelta(days=1)).timestamp(), since.timestamp())
            assert before == pytest.approx(true_before, abs=0.02)
    assert seen >= 2


def test_a_wrong_assignment_raises_one_area_and_lowers_the_next() -> None:
    wrong = [c for a in NET.areas() for c in a.cases if c.kind == "wrong_area"]
    assert wrong
    for case in wrong:
        home, listed = NET.area(case.area_id), NET.area(case.listed_under)
        assert case.meter_id in home.physical and case.meter_id not in home.listed
        assert case.meter_id in listed.listed and case.meter_id not in listed.physical
        t_home, t_listed = (TRUTH.network_loss(a, T0, T1) for a in (case.area_id, case.listed_under))
        used = _metered("energy.active.import.total", case.meter_id, T0, T1)
        assert t_home["non_technical_loss"] >= used - 0.05
        assert case.meter_id in t_home["culprits"] and case.meter_id in t_listed["culprits"]


def test_the_same_seed_gives_the_same_network() -> None:
    again = GroundTruth(CFG)
    for area in NET.areas()[:6]:
        assert again.network_loss(area.area_id, T0, T1) == TRUTH.network_loss(area.area_id, T0, T1)


def test_the_concentrator_answers_the_total_meter_like_any_meter() -> None:
    area = NET.area("TA-000001")
    state = TerminalState(TRUTH, 1, started_ts=(T0 - timedelta(days=3)).timestamp())
    day = date(2026, 11, 21)
    request = b.request(state.address, 0x0D, [DataUnit(area.head.pn, 161, day)], 1)
    frames = answer(state, request, (T1 + timedelta(hours=1)).timestamp()).frames
    units = [u for f in frames for u in decode_units(f)]
    assert len(units) == 1 and units[0].pn == area.head.pn
    value = units[0].value
    frozen = TRUTH.frozen_daily(area.head.meter_id, day)
    assert isinstance(value, EnergyReading) and frozen is not None
    assert value.total == frozen["energy.active.import.total"] and value.total is not None
    assert value.total * area.ct_ratio == pytest.approx(area.ct_ratio * TRUTH.model.head_primary(  # type: ignore[attr-defined]
        area, "imp0", TRUTH.daily_freeze_instant(day).timestamp()) / area.ct_ratio, abs=0.01 * area.ct_ratio)
    assert sum(r or 0.0 for r in value.rates) == pytest.approx(value.total, abs=0.05)


def test_manifest_and_http_carry_the_topology_and_the_truth(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    write_manifest(TRUTH.fleet, path)
    doc = json.loads(path.read_text())
    areas = {a["id"]: a for a in doc["network"]["areas"]}
    assert set(areas) == {a.area_id for a in NET.areas()}
    wrong = next(c for a in NET.areas() for c in a.cases if c.kind == "wrong_area")
    assert wrong.meter_id in areas[wrong.listed_under]["members"]
    heads = {m["meter_id"] for t in doc["terminals"] for m in t["meters"]}
    assert all(a["head_meter"] in heads for a in areas.values())
    app = create_app(TRUTH)
    app.include_router(network_router(TRUTH.model))
    client = TestClient(app)
    got = client.get("/network/loss", params={"area": "TA-000002", "from": T0.isoformat(), "to": T1.isoformat()})
    assert got.status_code == 200 and got.json()["loss"] == pytest.approx(
        TRUTH.network_loss("TA-000002", T0, T1)["loss"])
    assert client.get("/network/loss", params={"area": "TA-999999", "from": T0.isoformat(),
                                               "to": T1.isoformat()}).status_code == 404
    assert client.get("/network/loss", params={"area": "TA-000002", "from": T1.isoformat(),
                                               "to": T0.isoformat()}).status_code == 422
    assert client.get("/network").json()["areas"][0]["id"] == NET.areas()[0].area_id
