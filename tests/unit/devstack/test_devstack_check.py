"""``emms-devstack check`` asks the truth of the simulated meter behind each master-data meter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from emms_devstack.check import CheckReport, _truth

AT = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


def _server(request: httpx.Request) -> httpx.Response:
    meter, item = request.url.params["meter"], request.url.params["item"]
    if item == "no.such.item":
        return httpx.Response(422, json={"detail": "unknown item"})
    generation = 1 if meter == "m-000001-0002" else 0
    return httpx.Response(200, json={"meter": meter, "generation": generation, "value": 12.34})


async def _ask(meter: str, item: str = "energy.active.import.total") -> object:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_server), base_url="http://sim") as client:
        return await _truth(client, asyncio.Semaphore(1), meter, item, AT)


async def test_a_replaced_meter_is_the_simulated_meter_in_its_generation() -> None:
    assert await _ask("m-000001-0002-r1") == 12.34
    assert await _ask("m-000001-0002") is None  # the original meter was no longer in the socket then
    assert await _ask("m-000001-0003") == 12.34
    assert await _ask("m-000001-0003", "no.such.item") == "unmodelled"


def test_coverage_is_of_the_meters_known_to_master_data() -> None:
    report = CheckReport(meters=200, collected=197)
    assert report.coverage == 98.5 and "197 (98.5 %)" in report.summary()
