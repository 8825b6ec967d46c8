"""Electricity usage split by the tariff in force of each point's terminal (issue 16), on both storage modes.

Tariffs arrive as the collector publishes them (``emms.terminal.tariff.v1``), master data and validated 15-minute,
hourly and daily register values as the archive and the validator publish them. ``/electricity/energy``'s
``tou_by_tariff`` is compared with the test's own split of the readings by the tariff: each interval's usage
(register increase × multiplier) goes to the rate of the local half hour holding its last microsecond. A point
whose terminal has no tariff and a point with daily values only are counted as not split. A redelivered and an
older tariff message change nothing; a newer one replaces the tariff.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from service_harness import area_topics, in_process, own_database

from emms_analytics.app import create_app
from emms_analytics.runtime import AnalyticsRuntime
from emms_analytics.settings import AnalyticsSettings
from emms_analytics.tariffs import store
from emms_bus import BusProducer, Delivery, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_messages.envelope import wrap
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus
from emms_messages.terminal import TerminalTariff

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = ZoneInfo("Asia/Shanghai")
E = "energy.active.import.total"
DAY = date(2026, 3, 2)
# customer → (meter, multiplier, terminal address as the archive has it, minutes between register values)
FLEET = {"TS1": ("TSM1", 1.0, "3701-00101", 15), "TS2": ("TSM2", 2.0, "37010066", 60),  # 0x66 = 102
         "TS3": ("TSM3", 1.0, "3701-00103", 60),  # no tariff ever heard of for this terminal
         "TS4": ("TSM4", 1.0, "3701-00101", 1440)}  # daily values only, behind a terminal with a tariff
PEAK_FLAT_VALLEY = [3] * 14 + [1] * 2 + [0] * 6 + [1] * 12 + [0] * 8 + [1] * 4 + [2] * 2  # 费率 4 valley 00:00–07:00 …
NIGHT_AND_DAY = [1] * 15 + [0] * 29 + [1] * 4  # 费率 2 until 07:30: the hourly 07:00–08:00 is 费率 1 (its end)
READ = datetime(2026, 3, 1, 8, tzinfo=UTC)


def local(d: date, minutes: int = 0) -> datetime:
    return (datetime(d.year, d.month, d.day, tzinfo=TZ) + timedelta(minutes=minutes)).astimezone(UTC)


def times(customer: str) -> list[datetime]:
    step = FLEET[customer][3]
    return [local(DAY, m) for m in range(0, 1440 + 1, step)]


def increase(customer: str, i: int) -> float:
    """The truth: the register increase of the customer's i-th interval of the day (exact binary fractions)."""
    return 0.25 * (1 + (i * 7 + len(customer)) % 9) * (24 if FLEET[customer][3] == 1440 else 1)


def register(customer: str) -> list[float]:
    out = [500.0]
    for i in range(len(times(customer)) - 1):
        out.append(out[-1] + increase(customer, i))
    return out


def day_total(customer: str) -> float:
    return sum(increase(customer, i) for i in range(len(times(customer)) - 1)) * FLEET[customer][1]


def tariff(terminal: str, slots: list[int], rates: list[int] | None, read_at: datetime) -> TerminalTariff:
    return TerminalTariff(terminal=terminal, slots=slots, rate_count=max(slots) + 1, rates=rates,
                          periods_read_at=read_at, rates_read_at=read_at if rates is not None else None,
                          read_at=read_at)


def split_truth(customer: str, slots: list[int], rates: list[int] | None) -> dict[int, tuple[float, float | None]]:
    """Usage and cost by rate (1-based), from the readings: an interval's rate is the one of the local half hour
    containing its last microsecond."""
    out: dict[int, tuple[float, float | None]] = {}
    ts, mult = times(customer), FLEET[customer][1]
    for i, end in enumerate(ts[1:]):
        last = (end - timedelta(microseconds=1)).astimezone(TZ)
        number = slots[last.hour * 2 + last.minute // 30]
        usage = increase(customer, i) * mult
        cost = None if rates is None else usage * rates[number] / 1000
        before = out.get(number + 1, (0.0, 0.0))
        out[number + 1] = (before[0] + usage, None if cost is None or before[1] is None else before[1] + cost)
    return out


def change(entity: str, entity_id: str, data: dict[str, Any]) -> MasterDataChange:
    return MasterDataChange(change_id=f"{entity}/{entity_id}/ts", entity=entity, entity_id=entity_id,
                            kind=ChangeKind.CREATED, changed_at=datetime(2026, 2, 1, tzinfo=UTC), changed_by="test",
                            data=data)


def masterdata() -> list[MasterDataChange]:
    out = [change("company", "TSCO", {"id": "TSCO", "name": "Tariff utility"}),
           change("region", "TSR", {"id": "TSR", "name": "Tariff city", "parent_id": None})]
    for cid, (meter, mult, address, _) in FLEET.items():
        out += [change("customer", cid, {"id": cid, "name": f"Customer {cid}", "party_id": cid,
                                         "utility": "electricity", "category": "ts_business", "company_id": "TSCO",
                                         "region_id": "TSR"}),
                change("metering_point", f"{cid}-P", {"id": f"{cid}-P", "customer_id": cid,
                                                      "utility": "electricity"}),
                change("meter", meter, {"id": meter, "utility": "electricity", "multiplier": mult,
                                        "register_digits": 8}),
                change("meter_installation", f"{cid}-P", {
                    "metering_point_id": f"{cid}-P", "meter_id": meter,
                    "valid_from": local(date(2026, 2, 1)).isoformat(), "customer_id": cid, "utility": "electricity",
                    "terminal_address": address})]
    return out


def readings() -> list[ValidatedReading]:
    return [ValidatedReading(meter_id=FLEET[cid][0], item=E, data_time=at, value=v, unit="kWh",
                             status=ValidationStatus.VALID, validated_at=datetime(2026, 3, 4, tzinfo=UTC))
            for cid in FLEET for at, v in zip(times(cid), register(cid), strict=True)]


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("analytics did not reach the expected figures in time")
        await asyncio.sleep(0.2)


PARAMS = {"regions": "TSR", "group_by": "customer", "interval": "day", "from": local(DAY).isoformat(),
          "to": local(DAY + timedelta(days=1)).isoformat(), "by_tariff": "true"}


async def by_customer(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    resp = await client.get("/api/v1/analytics/electricity/energy", params=PARAMS)
    assert resp.status_code == 200, resp.text
    return {e["key"]: e for e in resp.json()["tou_by_tariff"] or []}


def matches(entry: dict[str, Any] | None, customer: str, slots: list[int], rates: list[int] | None) -> bool:
    if entry is None:
        return False
    truth = split_truth(customer, slots, rates)
    got = {r["rate"]: (r["usage"], r["cost_yuan"]) for r in entry["rates"]}
    if set(got) != set(truth):
        return False
    for rate, (usage, cost) in truth.items():
        if abs(got[rate][0] - usage) > 1e-6 or (cost is None) != (got[rate][1] is None):
            return False
        if cost is not None and abs(got[rate][1] - cost) > 1e-6:
            return False
    return True


@pytest.fixture(scope="module")
def database_url(database_url: str) -> Iterator[str]:
    """The module's own database: the other analytics tests total March 2026's electricity over every region."""
    yield from own_database(database_url, "tarsplit")


@pytest.fixture(scope="module")
def topics(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this module's own (its analytics instance's consumer groups start from their beginning)."""
    return area_topics(kafka_settings, "tarsplit")


@pytest.fixture(scope="module")
async def world(database_url: str, topics: KafkaSettings
                ) -> AsyncIterator[tuple[AnalyticsRuntime, httpx.AsyncClient, BusProducer]]:
    settings = AnalyticsSettings(
        _env_file=None, environment="test", instance_id=f"analytics-{secrets.token_hex(2)}",
        database=DatabaseSettings(url=database_url), kafka=topics, shutdown_grace_s=5.0, refresh_interval_s=0.3,
        budget={"max_scan_rows": 5_000})
    producer = BusProducer(topics, "analytics-tariff-test")
    await producer.start()
    try:
        async with in_process(create_app(settings), "http://analytics") as (_, ar, client):
            assert isinstance(ar, AnalyticsRuntime)
            await producer.publish_many(masterdata(), topic="emms.masterdata.change.v1")
            batch = readings()
            await producer.publish_many([ValidatedReadingBatch(batch_id=f"ts-{i}", terminal="3701-00101",
                                                               readings=batch[i:i + 200])
                                         for i in range(0, len(batch), 200)], topic="emms.reading.validated.v1")
            await producer.publish_many([tariff("3701-00101", PEAK_FLAT_VALLEY, [1200, 900, 600, 300], READ),
                                         tariff("3701-00102", NIGHT_AND_DAY, None, READ)],
                                        topic="emms.terminal.tariff.v1")
            yield ar, client, producer
    finally:
        await producer.stop()


async def test_the_split_by_the_terminals_tariff_equals_the_readings_split_by_hand(
        world: tuple[AnalyticsRuntime, httpx.AsyncClient, BusProducer]) -> None:
    _, client, _ = world

    async def arrived() -> bool:
        if (await client.get("/api/v1/analytics/electricity/energy", params=PARAMS)).status_code == 404:
            return False  # the region's master data not consumed yet
        resp = await client.get("/api/v1/analytics/electricity/energy", params=PARAMS)
        rolled = {r["key"]: r["usage"] for r in resp.json()["rows"]}  # the rollups (TimescaleDB: refreshed)
        if any(abs(rolled.get(c, -1.0) - day_total(c)) > 1e-6 for c in FLEET):
            return False
        got = {e["key"]: e for e in resp.json()["tou_by_tariff"]}
        return (matches(got.get("TS1"), "TS1", PEAK_FLAT_VALLEY, [1200, 900, 600, 300])
                and matches(got.get("TS2"), "TS2", NIGHT_AND_DAY, None) and {"TS3", "TS4"} <= set(got)
                and got["TS4"]["total"] == pytest.approx(sum(increase("TS4", i) for i in range(1))))
    await eventually(arrived)
    resp = await client.get("/api/v1/analytics/electricity/energy", params=PARAMS)
    body = resp.json()
    got = {e["key"]: e for e in body["tou_by_tariff"]}
    totals = {r["key"]: r["usage"] for r in body["rows"]}
    bucket = datetime.fromisoformat(got["TS1"]["bucket"])
    assert bucket == local(DAY)
    # 15-minute values, four rates with F22's prices: every kWh split, shares and cost from the readings
    ts1 = got["TS1"]
    truth1 = split_truth("TS1", PEAK_FLAT_VALLEY, [1200, 900, 600, 300])
    assert ts1["split"] == pytest.approx(sum(u for u, _ in truth1.values())) == pytest.approx(totals["TS1"])
    assert totals == pytest.approx({c: day_total(c) for c in FLEET})
    assert ts1["not_split"] == 0 and ts1["total"] == pytest.approx(totals["TS1"])
    assert [r["share"] for r in ts1["rates"]] == pytest.approx([truth1[k][0] / ts1["split"] for k in sorted(truth1)])
    assert ts1["cost_yuan"] == pytest.approx(sum(c for _, c in truth1.values() if c is not None))
    assert ts1["metering_points"] == {"split": 1, "no_tariff": 0, "no_sub_daily": 0}
    # hourly values × multiplier 2, the terminal's address in the archive's hex form, rates never read: no cost
    ts2 = got["TS2"]
    assert ts2["split"] == pytest.approx(totals["TS2"]) and ts2["cost_yuan"] is None
    assert [r["rate"] for r in ts2["rates"]] == [1, 2]
    # never guessed: no tariff for TS3's terminal, TS4 has daily values only
    assert got["TS3"]["rates"] == [] and got["TS3"]["not_split"] == pytest.approx(totals["TS3"])
    assert got["TS3"]["metering_points"] == {"split": 0, "no_tariff": 1, "no_sub_daily": 0}
    assert got["TS4"]["rates"] == [] and got["TS4"]["not_split"] == pytest.approx(totals["TS4"])
    assert got["TS4"]["metering_points"] == {"split": 0, "no_tariff": 0, "no_sub_daily": 1}
    # the meters' own TOU registers' answer is still there, unchanged in shape
    assert isinstance(body["tou"], list)
    # the whole region in one key: the points counted by state, the split summed over terminals
    total = (await client.get("/api/v1/analytics/electricity/energy",
                              params={**PARAMS, "group_by": "total", "interval": "period"})).json()
    [whole] = total["tou_by_tariff"]
    assert whole["metering_points"] == {"split": 2, "no_tariff": 1, "no_sub_daily": 1}
    assert whole["split"] == pytest.approx(ts1["split"] + ts2["split"])
    assert whole["total"] == pytest.approx(sum(totals.values()))
    assert whole["cost_yuan"] is None  # TS2's terminal has no rates
    unasked = {k: v for k, v in PARAMS.items() if k != "by_tariff"}  # the split is asked for: not by default
    off = (await client.get("/api/v1/analytics/electricity/energy", params=unasked)).json()
    assert off["tou_by_tariff"] is None and off["rows"] == body["rows"]
    # the split reads intervals: 4 points × 30 days of 15-minute ones is over this service's 5,000-row budget
    month = {**PARAMS, "to": local(DAY + timedelta(days=30)).isoformat()}
    refused = await client.get("/api/v1/analytics/electricity/energy", params=month)
    assert refused.status_code == 422 and "5000" in refused.json()["detail"]
    assert "by_tariff=true" in refused.json()["detail"]
    without = await client.get("/api/v1/analytics/electricity/energy", params={**month, "by_tariff": "false"})
    assert without.status_code == 200 and without.json()["tou_by_tariff"] is None
    unknown = await client.get("/api/v1/analytics/electricity/energy", params={**PARAMS, "regions": "NOPE"})
    assert unknown.status_code == 404


async def test_a_redelivered_or_older_tariff_changes_nothing_and_a_newer_one_replaces_it(
        world: tuple[AnalyticsRuntime, httpx.AsyncClient, BusProducer]) -> None:
    ar, client, producer = world

    async def first() -> bool:
        if (await client.get("/api/v1/analytics/electricity/energy", params=PARAMS)).status_code == 404:
            return False
        return matches((await by_customer(client)).get("TS1"), "TS1", PEAK_FLAT_VALLEY, [1200, 900, 600, 300])
    await eventually(first)
    await producer.publish_many([
        tariff("3701-00101", PEAK_FLAT_VALLEY, [1200, 900, 600, 300], READ),  # redelivered
        tariff("3701-00101", NIGHT_AND_DAY, [500, 100], READ - timedelta(hours=1)),  # an older read, late
        tariff("3701-00102", PEAK_FLAT_VALLEY, [1000, 800, 500, 200], READ + timedelta(hours=1))],  # newer
        topic="emms.terminal.tariff.v1")

    async def replaced() -> bool:
        return matches((await by_customer(client)).get("TS2"), "TS2", PEAK_FLAT_VALLEY, [1000, 800, 500, 200])
    await eventually(replaced, timeout_s=30)
    await asyncio.sleep(2.0)  # the consumer's other partitions: the T1 messages were published first
    got = await by_customer(client)
    assert matches(got.get("TS1"), "TS1", PEAK_FLAT_VALLEY, [1200, 900, 600, 300])
    async with ar.pool.acquire() as conn:
        held = await conn.fetchrow("SELECT slots, rates, read_at FROM analytics.terminal_tariff WHERE terminal = $1",
                                   "3701-00101")
    assert held is not None
    assert (list(held["slots"]), list(held["rates"]), held["read_at"]) == (
        PEAK_FLAT_VALLEY, [1200, 900, 600, 300], READ)

    # the consumer's handler, one delivery per batch (the bus may batch them either way): the same verdicts
    def delivery(message: TerminalTariff, offset: int) -> Delivery:
        return Delivery(topic="emms.terminal.tariff.v1", partition=0, offset=offset, key=b"3701-00101",
                        envelope=wrap(message, "emms-collector"))
    for i, late in enumerate([tariff("3701-00101", PEAK_FLAT_VALLEY, [1200, 900, 600, 300], READ),
                              tariff("3701-00101", NIGHT_AND_DAY, [500, 100], READ - timedelta(minutes=1))]):
        await store.store(ar.pool, "analytics", [delivery(late, i)])
        async with ar.pool.acquire() as conn:
            again = await conn.fetchrow("SELECT slots, rates, read_at FROM analytics.terminal_tariff"
                                        " WHERE terminal = $1", "3701-00101")
        assert again is not None and dict(again) == dict(held)
    assert matches((await by_customer(client)).get("TS1"), "TS1", PEAK_FLAT_VALLEY, [1200, 900, 600, 300])
