"""``emms-devstack check``: did the running stack collect the fleet, and is what it stored true?

Reads the archive: the current meters known to master data (``archive.installation``) and the
raw readings stored for them; asks the simulator's truth server for the value of every stored
reading at its data time. A meter counts as collected when it has at least one reading and
every reading of it equals the truth (registers to 0.011 of their unit: two decimals). Prints
the coverage and the first mismatches; exits 0 when coverage reaches ``--min`` percent and
nothing differs. ``--wait S`` polls until then (the first runs of ``make up`` take a minute).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import httpx

TOLERANCE = 0.011
REPLACED = re.compile(r"-r(\d+)$")
"""``make up`` names a meter already replaced in the field ``<simulated meter>-r<n>`` (seed_masterdata)."""
METERS = "SELECT DISTINCT meter_id FROM archive.installation WHERE valid_to IS NULL"
READINGS = """SELECT meter_id, item, data_time, value FROM archive.reading_raw
              WHERE meter_id = ANY($1::text[]) AND value IS NOT NULL"""


@dataclass
class CheckReport:
    meters: int = 0
    collected: int = 0
    readings: int = 0
    unchecked: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return 100.0 * self.collected / self.meters if self.meters else 0.0

    def summary(self) -> str:
        return (f"meters known to master data: {self.meters}; collected and equal to the truth: {self.collected}"
                f" ({self.coverage:.1f} %); readings compared: {self.readings}; items the simulator does not"
                f" model: {self.unchecked}; mismatches: {len(self.mismatches)}")


async def _truth(client: httpx.AsyncClient, limit: asyncio.Semaphore, meter: str, item: str,
                 at: datetime) -> float | str | None:
    replaced = REPLACED.search(meter)
    sim_meter = meter[:replaced.start()] if replaced else meter
    async with limit:
        resp = await client.get("/truth", params={"meter": sim_meter, "item": item, "at": at.isoformat()})
    if resp.status_code == 422:
        return "unmodelled"
    resp.raise_for_status()
    body = resp.json()
    if body["generation"] != (int(replaced.group(1)) if replaced else 0):
        return None  # at that time another meter was in the socket: the reading cannot be this meter's
    return None if body["value"] is None else float(body["value"])


async def check_once(database_url: str, sim_url: str) -> CheckReport:
    conn = await asyncpg.connect(database_url)
    try:
        meters = [r["meter_id"] for r in await conn.fetch(METERS)]
        rows = await conn.fetch(READINGS, meters)
    finally:
        await conn.close()
    report = CheckReport(meters=len(meters), readings=len(rows))
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=sim_url, timeout=30) as client:
        truths = await asyncio.gather(*(_truth(client, limit, r["meter_id"], r["item"], r["data_time"])
                                        for r in rows))
    good: dict[str, bool] = {}
    for row, truth in zip(rows, truths, strict=True):
        meter = row["meter_id"]
        if truth == "unmodelled":
            report.unchecked += 1
            continue
        ok = isinstance(truth, float) and abs(row["value"] - truth) <= TOLERANCE
        good[meter] = good.get(meter, True) and ok
        if not ok:
            report.mismatches.append(f"{meter} {row['item']} at {row['data_time'].isoformat()}: stored"
                                     f" {row['value']}, truth {truth}")
    report.collected = sum(good.values())
    return report


async def check(database_url: str, sim_url: str, *, minimum: float, wait_s: float) -> CheckReport:
    deadline = time.monotonic() + wait_s
    while True:
        report = await check_once(database_url, sim_url)
        if (report.coverage >= minimum and not report.mismatches) or time.monotonic() >= deadline:
            return report
        print(f"check    : {report.summary()} — waiting")
        await asyncio.sleep(10)


def run_check(database_url: str, sim_url: str, minimum: float, wait_s: float) -> int:
    report = asyncio.run(check(database_url, sim_url, minimum=minimum, wait_s=wait_s))
    print(f"check    : {report.summary()}")
    for line in report.mismatches[:20]:
        print(f"  differs: {line}")
    return 0 if report.coverage >= minimum and not report.mismatches else 1
