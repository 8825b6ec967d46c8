"""Acceptance against the simulator's ground truth: simulated fleet → FEP → collector → validator → analytics.

The simulator, the FEP and the collector run as their own processes on real sockets (the collection stack
of ``tests/e2e``), the validator and the analytics service in the test process, all on the real broker
(a topic prefix of this test's own) and one database of this test's own. The analytics service gets the
master data as the archive would publish it (company, two regions under a city, a customer and a metering
point per meter, the meter installed where the manifest says it is wired — the collector pushes that into
the concentrators' meter tables). The electricity meters of a small fleet (seed 7) are collected by a daily
frozen task re-run for the past slots of six local days, one after another — except one day, left out as a
failed collection would leave it: the validator sees the gap and asks for it (``emms.collection.backfill``),
the collector reads it from the concentrators' history, and it reaches analytics late (a back-fill).

Every figure ``/usage`` answers — per point and local day, a customer's month, each region's month, the
city's month by utility (the last three read the customer and region rollups) — is compared with the same
figure computed from the simulator's ``/frozen`` truth (the register frozen at each day's freeze instant,
differences of consecutive freezes in the bucket of the interval's last microsecond), never from the
service's tables.

One meter is **replaced** in the field during the second collected day (``emms-sim --replace-meter``: a new
address, its register from zero). After the first day is collected, master data says so as the archive
publishes a replacement (a new meter id on the same metering point from the swap instant, with the new
address); the collector puts the new meter in the old one's place in the task and pushes the new address into
the concentrator's meter table; the field crew's record of the swap — the old meter's final register and the
new one's initial register, from the simulator's ``/truth`` just before and at the swap — is entered as manual
readings through the validator (``POST /meters/{m}/items/{i}/edits``). The point's usage then equals the
truth's: the old register's rise up to the swap plus the new register's rise after it.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from service_harness import in_process

from emms_analytics.app import create_app
from emms_analytics.settings import AnalyticsSettings
from emms_bus import BusProducer, KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_db.settings import DatabaseSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings
from emms_sim.fleet import FieldRates, Fleet, FleetConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validator"))
from test_e2e_collection_stack import Stack, http, stack_env
from validator_harness import running_validator, validator_settings

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = ZoneInfo("Asia/Shanghai")
E = "energy.active.import.total"
MICRO = timedelta(microseconds=1)
DAYS = 6  # collected local days, the last one yesterday
LATE = 3  # the index of the day left out: back-filled on the validator's request
SWAP_DAY, SWAP_TIME = 1, "10:30"  # the replaced meter is swapped on this collected day, at this local time
SEED, CONCENTRATORS, METERS_PER = 7, 2, 8


async def until(check: Callable[[], Any], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{what} not within {timeout_s} s")


def change(entity: str, entity_id: str, data: dict[str, Any]) -> MasterDataChange:
    return MasterDataChange(change_id=f"{entity}/{entity_id}", entity=entity, entity_id=entity_id,
                            kind=ChangeKind.CREATED, changed_at=datetime(2020, 1, 1, tzinfo=UTC), changed_by="e2e",
                            data=data)


def region_of(meter: dict[str, Any]) -> str:
    return "R1" if meter["terminal"].endswith(("0", "2", "4", "6", "8")) else "R2"


def masterdata(meters: list[dict[str, Any]]) -> list[MasterDataChange]:
    out = [change("company", "CO", {"id": "CO", "name": "Utility"}),
           change("region", "R", {"id": "R", "name": "City", "parent_id": None}),
           change("region", "R1", {"id": "R1", "name": "East", "parent_id": "R"}),
           change("region", "R2", {"id": "R2", "name": "West", "parent_id": "R"})]
    for m in meters:
        mid = str(m["meter_id"])
        out += [change("customer", f"C-{mid}", {"id": f"C-{mid}", "name": mid, "party_id": f"P-{mid}",
                                                 "utility": "electricity", "category": "e_residential",
                                                 "company_id": "CO", "region_id": region_of(m)}),
                change("metering_point", f"MP-{mid}", {"id": f"MP-{mid}", "customer_id": f"C-{mid}",
                                                       "utility": "electricity"}),
                change("meter", mid, {"id": mid, "utility": "electricity", "multiplier": 1.0, "register_digits": 8}),
                change("meter_installation", f"MP-{mid}", {  # where it is wired, as the archive says (the
                    # collector pushes it into the concentrator's meter table)
                    "metering_point_id": f"MP-{mid}", "meter_id": mid, "customer_id": f"C-{mid}",
                    "utility": "electricity", "valid_from": datetime(2020, 1, 1, tzinfo=UTC).isoformat(),
                    "terminal_address": m["terminal"], "pn": m["pn"], "port": m["port"], "protocol": m["protocol"],
                    "meter_address": m["address"]})]
    return out


def replaced_meter() -> str:
    """The meter the field replaces: the fleet's first electricity meter (the fleet is a pure function of the
    seed, so it is known before the simulator starts)."""
    fleet = Fleet(FleetConfig(SEED, CONCENTRATORS, METERS_PER, rates=FieldRates.quiet()))
    return next(m.meter_id for t in fleet.terminals() for m in fleet.meters_of(t) if m.utility == "electricity")


def truth_value(sim: str, meter: str, at: datetime) -> float:
    status, body = http("GET", f"{sim}/truth?meter={meter}&item={E}&at={at.timestamp()!r}")
    assert status == 200 and body["present"], body
    return float(body["value"])


@dataclass(frozen=True)
class Swap:
    """A replacement as the field crew records it: when, the old register's last value, the new one's first."""

    meter: str
    at: datetime
    final: float
    initial: float


class Truth:
    """The simulator's frozen registers of the collected days, and the usage they make per local bucket."""

    def __init__(self, sim: str, meters: list[str], days: list[date], swap: Swap) -> None:
        self.frozen: dict[str, list[tuple[datetime, float]]] = {}
        self.swap = swap
        for meter in meters:
            series = []
            for d in days:
                status, body = http("GET", f"{sim}/frozen?meter={meter}&date={d.isoformat()}")
                assert status == 200, body
                series.append((datetime.fromisoformat(body["instant"]).astimezone(UTC), float(body["values"][E])))
            self.frozen[meter] = series

    def usage(self, collected: set[int], unit: str) -> dict[tuple[str, str], float]:
        """(local bucket start, meter) → usage between consecutive collected freezes, in the bucket of the
        interval's last microsecond (the service's rule, stated by the issue: late data lands where it ends);
        across the swap: the old register's rise to its final value, then the new one's from its initial value
        (both intervals end in the swap's bucket or the next freeze's)."""
        out: dict[tuple[str, str], float] = defaultdict(float)
        for meter, series in self.frozen.items():
            kept = [series[i] for i in sorted(collected)]
            for (then, before), (at, value) in pairwise(kept):
                if meter == self.swap.meter and then < self.swap.at <= at:
                    out[(bucket(self.swap.at, unit), meter)] += self.swap.final - before
                    out[(bucket(at, unit), meter)] += value - self.swap.initial
                else:
                    out[(bucket(at, unit), meter)] += value - before
        return dict(out)


def bucket(end: datetime, unit: str) -> str:
    """The local day or month an interval ending at ``end`` belongs to (that of its last microsecond)."""
    start = (end - MICRO).astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return (start.replace(day=1) if unit == "month" else start).isoformat()


def close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 0.011 + 1e-9 * abs(b)  # the register's resolution, 0.01 kWh


async def rows(client: httpx.AsyncClient, **params: Any) -> dict[tuple[str, str], float]:
    resp = await client.get("/api/v1/analytics/usage", params=params)
    assert resp.status_code == 200, resp.text
    return {(r["bucket"], r["key"]): r["usage"] for r in resp.json()["rows"]}


async def test_usage_answers_equal_the_simulators_truth(service_env: dict[str, str], database_url: str,
                                                        kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/emms_e2e_analytics_{secrets.token_hex(3)}"))
    ks = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}an{secrets.token_hex(2)}."})
    await ensure_database(url)
    await ensure_topics(ks)
    env = stack_env({**service_env, "EMMS_DATABASE_URL": url, "EMMS_TOPIC_PREFIX": ks.topic_prefix})
    today = datetime.now(TZ).date()
    days = [today - timedelta(days=DAYS - i) for i in range(DAYS)]  # the last one is yesterday
    swapped = replaced_meter()
    hour, minute = (int(x) for x in SWAP_TIME.split(":"))
    swap_at = datetime.combine(days[SWAP_DAY], datetime.min.time(), TZ).replace(hour=hour, minute=minute)
    stack = Stack(env, tmp_path, concentrators=CONCENTRATORS, meters_per=METERS_PER, seed=SEED,
                  sim_args=["--replace-meter", f"{swapped}@{swap_at.timestamp()!r}"])
    try:
        stack.start()
        meters = [m for m in stack.manifest_meters() if m["utility"] == "electricity" and not m["added_later"]
                  and m["removed_at"] is None
                  and datetime.fromisoformat(str(m["installed_at"])).astimezone(TZ).date() < days[0]]
        assert len(meters) >= 4, "the fleet of seed 7 has electricity meters present over the days"
        ids = [str(m["meter_id"]) for m in meters]
        replaced = next(m for m in meters if m["meter_id"] == swapped)
        assert [r["at"] for r in replaced["replacements"]] == [swap_at.astimezone(UTC).isoformat()], replaced
        probe = next(str(m["meter_id"]) for m in stack.manifest_meters() if m["utility"] == "heat")
        regions = {str(m["meter_id"]): region_of(m) for m in meters}
        swap = Swap(swapped, swap_at, await asyncio.to_thread(truth_value, stack.sim, swapped, swap_at - MICRO),
                    await asyncio.to_thread(truth_value, stack.sim, swapped, swap_at))
        truth = await asyncio.to_thread(Truth, stack.sim, ids, days, swap)
        await until(lambda: stack.online_terminals() == 2, 60, "terminals online")
        await until(lambda: http("GET", f"{stack.collector}/api/v1/points?limit=1")[1]["total"] >= len(meters),
                    60, "the collector's points imported from the manifest")
        settings = AnalyticsSettings(_env_file=None, environment="test", instance_id="analytics-e2e",
                                     database=DatabaseSettings(url=url), kafka=ks, shutdown_grace_s=5.0,
                                     refresh_interval_s=0.3)
        producer = BusProducer(ks, "e2e-archive")
        await producer.start()
        try:
            async with running_validator(validator_settings(url, ks)) as validator, \
                    in_process(create_app(settings), "http://analytics") as (_, _rt, client):
                await producer.publish_many(masterdata(meters), topic="emms.masterdata.change.v1")

                last: list[Any] = []

                def answered() -> bool:  # a manual read (of a meter not analysed): the terminals know their meters
                    status, body = http("POST", f"{stack.collector}/api/v1/reads", {"meters": [probe], "wait_s": 10})
                    last[:] = [status, body]
                    return status == 200 and bool(body["results"][0]["values"])
                try:
                    await until(lambda: asyncio.to_thread(answered), 60, "a manual read")
                except TimeoutError as exc:
                    raise TimeoutError(f"{exc}: {last}") from None
                status, body = http("POST", f"{stack.collector}/api/v1/tasks", {
                    "id": "e2e-analytics-daily", "name": "daily frozen", "type": "daily_frozen",
                    "target": {"meters": ids}, "period": {"unit": "daily", "at": "00:20"}, "retries": 2,
                    "retry_delay_s": 1, "backfill_days": 0})
                assert status == 201, body

                def collect(i: int) -> None:
                    slot = datetime.combine(days[i] + timedelta(days=1), datetime.min.time(), TZ) + timedelta(
                        minutes=20)
                    status, run = http("POST", f"{stack.collector}/api/v1/tasks/e2e-analytics-daily/runs",
                                       {"slot": slot.isoformat()})
                    assert status == 202, run
                    deadline = time.monotonic() + 90
                    while (state := http("GET", f"{stack.collector}/api/v1/runs/{run['run_id']}")[1])["status"] not in (
                            "done", "failed"):
                        assert time.monotonic() < deadline, f"the run of {days[i]} did not finish: {state}"
                        time.sleep(0.5)
                    assert state["status"] == "done" and state["ok_final"] == state["expected"], state

                for i in range(SWAP_DAY):  # the days frozen before the swap: the old meter
                    await asyncio.to_thread(collect, i)
                await record_the_swap(stack, producer, validator.client, replaced, swap)
                for i in range(SWAP_DAY, DAYS):
                    if i != LATE:
                        await asyncio.to_thread(collect, i)
                # the day left out: the validator sees the gap and asks for it (emms.collection.backfill), the
                # collector reads it from the concentrators' history, and it flows through like any reading
                await check(client, truth, regions, set(range(DAYS)), days)
                status, gaps = http("GET", f"{stack.collector}/api/v1/runs?task_id=e2e-analytics-daily&limit=50")
                assert status == 200 and len(gaps["items"]) == DAYS - 1, gaps  # no run of the late day
        finally:
            await producer.stop()
    finally:
        stack.stop()
        await drop_database(url)


async def record_the_swap(stack: Stack, producer: BusProducer, validator: httpx.AsyncClient, meter: dict[str, Any],
                          swap: Swap) -> None:
    """The replacement as the archive publishes it (a new meter on the point from the swap, the old one's period
    closed, the meter ``replaced``), then — once the collector has put the new address into the concentrator's
    table — the field crew's final and initial registers entered as manual readings."""
    new_id, point = f"{swap.meter}.r1", f"MP-{swap.meter}"
    new_address = meter["replacements"][0]["new_address"]
    install = {"metering_point_id": point, "meter_id": new_id, "customer_id": f"C-{swap.meter}",
               "utility": "electricity", "valid_from": swap.at.isoformat(), "terminal_address": meter["terminal"],
               "pn": meter["pn"], "port": meter["port"], "protocol": meter["protocol"], "meter_address": new_address}

    def replaced(entity: str, entity_id: str, data: dict[str, Any]) -> MasterDataChange:
        return MasterDataChange(change_id=f"{entity}/{entity_id}/replaced", entity=entity, entity_id=entity_id,
                                kind=ChangeKind.REPLACED, changed_at=swap.at, changed_by="e2e", data=data)
    await producer.publish_many([
        change("meter", new_id, {"id": new_id, "utility": "electricity", "multiplier": 1.0, "register_digits": 8}),
        replaced("meter_installation", point, install),
        replaced("meter", new_id, {**install, "old_meter_id": swap.meter, "replaced_at": swap.at.isoformat(),
                                   "start_value": swap.initial})], topic="emms.masterdata.change.v1")

    def pushed() -> bool:  # the F10 record of the new address confirmed and read back
        status, body = http("GET", f"{stack.collector}/api/v1/terminal-config/pushes?terminal={meter['terminal']}")
        return status == 200 and any(p["state"] == "done" and new_address[-12:] in str(p["value"])
                                     for p in body["items"])
    await until(lambda: asyncio.to_thread(pushed), 60, "the new meter's address in the concentrator's table")
    operator = {"Authorization": f"Bearer {issue_token(AuthSettings(), 'field-crew', 'operator')}"}
    for meter_id, value, what in ((swap.meter, swap.final, "final"), (new_id, swap.initial, "initial")):
        resp = await validator.post(f"/api/v1/meters/{meter_id}/items/{E}/edits", headers=operator, json={
            "data_time": swap.at.isoformat(), "value": value, "unit": "kWh",
            "reason": f"meter change order: {what} register of {meter_id}"})
        assert resp.status_code == 201, resp.text


async def check(client: httpx.AsyncClient, truth: Truth, regions: dict[str, str], collected: set[int],
                days: list[date]) -> None:
    """Per point and day, a customer's month, each region's month and the city's month by utility = the truth."""
    span = {"from": datetime.combine(days[0] - timedelta(days=1), datetime.min.time(), TZ).isoformat(),
            "to": datetime.combine(days[-1] + timedelta(days=2), datetime.min.time(), TZ).isoformat()}
    daily = {(b, f"MP-{m}"): v for (b, m), v in truth.usage(collected, "day").items()}
    monthly = truth.usage(collected, "month")

    seen: dict[tuple[str, str], float] = {}

    async def arrived() -> bool:
        seen.clear()
        seen.update(await rows(client, interval="day", group_by="metering_point", **span))
        return same(seen, daily)
    try:
        await until(arrived, 120, "every collected day's usage in /usage")
    except TimeoutError as exc:
        diff = {k: (seen.get(k), daily.get(k)) for k in sorted(set(seen) | set(daily))
                if not close(seen.get(k), daily.get(k, 0.0))}
        raise TimeoutError(f"{exc}; (got, truth) where they differ: {diff}") from None

    meter = sorted(truth.frozen)[0]
    customer = {(b, f"C-{m}"): v for (b, m), v in monthly.items() if m == meter}
    by_region: dict[tuple[str, str], float] = defaultdict(float)
    city: dict[tuple[str, str], float] = defaultdict(float)
    for (b, m), v in monthly.items():
        by_region[(b, regions[m])] += v
        city[(b, "electricity")] += v

    async def months_arrived() -> bool:  # the customer and region rollups (the refresher's on TimescaleDB)
        got = await rows(client, interval="month", group_by="customer", customers=f"C-{meter}", **span)
        cty = await rows(client, interval="month", group_by="utility", regions="R", **span)
        return same(got, customer) and same(cty, city)
    await until(months_arrived, 60, "a customer's and the city's months")
    for region in ("R1", "R2"):
        expected = {k: v for k, v in by_region.items() if k[1] == region}
        got = await rows(client, interval="month", group_by="region", regions=region, **span)
        assert same(got, expected), (got, expected)


def same(got: dict[tuple[str, str], float], expected: dict[tuple[str, str], float]) -> bool:
    return got.keys() == expected.keys() and all(close(got[k], v) for k, v in expected.items())
