"""Issue 17's loss acceptance at its full size (slow: ``.venv/bin/pytest -m slow`` this file; not in ``make test``).

The simulated network of ``test_analytics_loss`` at the size the issue names: 200 transformer areas, 10 water and
10 gas zones, 10 heat stations (200 terminals × 30 meters; every fifth area with a bypassed meter, a stopped meter
or a meter listed under the next area, a leak in every other zone, onsets inside the ten days), loaded into the
analytics service in process on the real broker and database, both storage modes. Checked against the
simulator's truth: each area's loss over the period within the registers' resolution, every injected case flagged
with its culprit meter ranked first or second, no clean area flagged, and the daily run over every model.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from service_harness import area_topics
from test_analytics_loss import DAYS, END, FIRST, START, loaded_service, midnight, point

from emms_bus import BusProducer, KafkaSettings
from emms_sim.fleet import FieldRates, FleetConfig, NetworkPlan
from emms_sim.network import Area
from emms_sim.truth import GroundTruth

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.both_storage_modes, pytest.mark.timeout(1800)]
CFG = FleetConfig(seed=11, concentrators=200, meters_per=30, rates=FieldRates.quiet(),
                  network=NetworkPlan(zone_terminals=20, station_terminals=20,
                                      ntl_from=(START + timedelta(days=3)).timestamp(), ntl_spread_days=3.0))
TRUTH = GroundTruth(CFG)
AREAS: list[Area] = TRUTH.model.network.areas()  # type: ignore[attr-defined]
LINES = 40


def test_the_network_has_the_issues_size() -> None:
    kinds = [a.kind for a in AREAS]
    assert kinds.count("transformer") >= 200
    assert kinds.count("water") + kinds.count("gas") >= 20 and kinds.count("water") >= 10
    assert kinds.count("heat") >= 10


@pytest.fixture(scope="module")
def full_kafka(kafka_settings: KafkaSettings) -> KafkaSettings:
    return area_topics(kafka_settings, "lossfull")


@pytest.fixture(scope="module")
async def client(database_url: str, full_kafka: KafkaSettings) -> AsyncIterator[httpx.AsyncClient]:
    pair: tuple[httpx.AsyncClient, BusProducer]
    async with loaded_service(database_url, full_kafka, TRUTH, AREAS, LINES, timeout_s=600.0) as pair:
        yield pair[0]


def _truth(area: Area) -> dict[str, Any]:
    return TRUTH.network_loss(area.area_id, START, END)


def _tolerance(area: Area) -> float:
    return 0.01 * (area.ct_ratio + len(area.listed)) + 1e-6


async def test_each_area_loss_equals_the_truth(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/analytics/loss", params={"from": START.isoformat(), "to": END.isoformat(),
                                                              "interval": "period"})
    assert resp.status_code == 200, resp.text
    rows = {r["key"]: r for r in resp.json()["rows"]}
    for area in AREAS:
        t, got = _truth(area), rows[f"gen-{area.area_id}"]
        assert got["complete"], (area.area_id, got["reason"])
        assert got["loss"] == pytest.approx(t["loss"], abs=_tolerance(area)), area.area_id
        assert got["input"] == pytest.approx(t["true_input"], abs=0.01 * area.ct_ratio + 1e-6), area.area_id


async def test_every_injected_case_is_flagged_with_its_culprit_first_or_second(client: httpx.AsyncClient) -> None:
    flagged, injected = set(), set()
    for area in AREAS:
        t = _truth(area)
        resp = await client.get(f"/api/v1/analytics/loss/models/gen-{area.area_id}/days",
                                params={"from": START.isoformat(), "to": END.isoformat()})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if body["abnormal"]:
            flagged.add(area.area_id)
        if t["cases"]:
            injected.add(area.area_id)
            top = [r["metering_point_id"] for r in body["ranked"][:2]]
            for culprit in t["culprits"]:
                assert point(culprit) in top, (area.area_id, t["cases"], body["ranked"][:4])
    assert len(injected) >= 40 and flagged == injected  # every case flagged, no clean area flagged


async def test_the_daily_run_covers_every_model(client: httpx.AsyncClient) -> None:
    last = FIRST + timedelta(days=DAYS - 1)
    started = time.monotonic()
    resp = await client.post("/api/v1/analytics/loss/run", params={"day": last.isoformat()})
    assert resp.status_code == 200, resp.text
    run = resp.json()
    assert run["models"] >= len(AREAS) and run["complete"] >= len(AREAS)
    assert time.monotonic() - started < 60
    resp = await client.get("/api/v1/analytics/loss/anomalies", params={"from": last.isoformat(),
                                                                        "to": last.isoformat()})
    raised = {r["model_id"] for r in resp.json()["rows"]}
    day = midnight(last)
    above = {f"gen-{a.area_id}" for a in AREAS if a.kind == "transformer"
             and (lambda t: t["loss"] > 0.07 * t["true_input"] or t["loss"] < 0)(
                 TRUTH.network_loss(a.area_id, day, day + timedelta(days=1)))}
    assert above and above <= raised
