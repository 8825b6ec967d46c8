"""The master's clock against real NTP servers (R-4.6.1.2): chronyd on localhost, one of them 30 s ahead
(libfaketime), one address where nothing answers — measured through the collector's API and metrics."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from collector_harness import Running, collector_settings, running_collector
from ntp_servers import _free_udp_port, chrony_server

from emms_bus import KafkaSettings
from emms_collector.settings import MasterClockSettings
from emms_collector.timesync.master_clock import MasterClock

pytestmark = pytest.mark.integration
SKEW_S = 30.0


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(a true server, a server 30 s ahead, an address where no server answers)."""
    work: Path = tmp_path_factory.mktemp("chrony")
    with chrony_server(work) as good, chrony_server(work, skew_s=SKEW_S) as ahead:
        yield good, ahead, f"127.0.0.1:{_free_udp_port()}"


@pytest.fixture(scope="module")
async def collector(database_url: str, kafka_settings: KafkaSettings,
                    servers: tuple[str, str, str]) -> AsyncIterator[Running]:
    good, ahead, silent = servers
    # the true server twice (by name and by address): with the skewed one, the median stays true
    settings = collector_settings(database_url, kafka_settings, "collector-it-ntp", timesync={
        "master": {"servers": [good, good.replace("127.0.0.1", "localhost"), ahead, silent],
                   "tolerance_s": 0.5, "every_s": 3600, "timeout_s": 0.5}})
    async with running_collector(settings) as running:
        yield running


async def test_the_master_offset_from_each_server_is_measured_and_exposed(
        collector: Running, servers: tuple[str, str, str]) -> None:
    good, ahead, silent = servers
    body = (await collector.client.get("/api/v1/clock/master", params={"check": "true"})).json()
    by_server = {s["server"]: s for s in body["servers"]}
    assert abs(by_server[good]["offset_s"]) < 0.1 and by_server[good]["stratum"] == 8  # "local stratum 8"
    # the server runs 30 s ahead: the master is 30 s behind it
    assert by_server[ahead]["offset_s"] == pytest.approx(-SKEW_S, abs=0.2)
    assert by_server[silent]["offset_s"] is None and by_server[silent]["error"]
    assert by_server[good]["delay_s"] is not None and 0 <= by_server[good]["delay_s"] < 0.1
    # one wrong server does not move the verdict (median of the three that answered)
    assert abs(body["offset_s"]) < 0.1 and body["within_tolerance"] is True and body["tolerance_s"] == 0.5

    text = (await collector.client.get("/metrics")).text
    offset = re.search(rf'emms_master_clock_offset_seconds{{server="{re.escape(ahead)}"}} (\S+)', text)
    assert offset and float(offset.group(1)) == pytest.approx(-SKEW_S, abs=0.2)
    assert f'emms_master_clock_reachable{{server="{silent}"}} 0.0' in text
    assert f'emms_master_clock_reachable{{server="{good}"}} 1.0' in text
    assert "emms_master_clock_tolerance_seconds 0.5" in text


async def test_a_master_clock_off_from_its_only_server_is_out_of_tolerance(
        servers: tuple[str, str, str]) -> None:
    _, ahead, silent = servers
    clock = MasterClock(MasterClockSettings(servers=[ahead, silent], tolerance_s=0.5, timeout_s=0.5))
    await clock.check()
    status = clock.status()
    assert status["offset_s"] == pytest.approx(-SKEW_S, abs=0.2) and status["within_tolerance"] is False


async def test_no_server_answering_gives_no_verdict() -> None:
    clock = MasterClock(MasterClockSettings(servers=[f"127.0.0.1:{_free_udp_port()}"], timeout_s=0.3))
    checks = await clock.check()
    assert checks[0].offset_s is None and clock.status()["within_tolerance"] is None
