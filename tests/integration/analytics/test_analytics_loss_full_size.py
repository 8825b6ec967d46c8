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

import httpx
import pytest
from service_harness import area_topics
from test_analytics_loss import (
    START,
    assert_cases_flagged_with_their_culprits,
    assert_daily_run_raises_the_abnormal,
    assert_period_losses_equal_the_truth,
    loaded_service,
)

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


async def test_each_area_loss_equals_the_truth(client: httpx.AsyncClient) -> None:
    await assert_period_losses_equal_the_truth(client, TRUTH, AREAS)


async def test_every_injected_case_is_flagged_with_its_culprit_first_or_second(client: httpx.AsyncClient) -> None:
    assert len(await assert_cases_flagged_with_their_culprits(client, TRUTH, AREAS)) >= 40


async def test_the_daily_run_covers_every_model(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    await assert_daily_run_raises_the_abnormal(client, TRUTH, AREAS)
    assert time.monotonic() - started < 60
