"""Analytics from validated readings on the bus, on both storage modes (R-4.5.3.1–3, R-4.5.3.5, R-4.3.2).

A small fleet (master data and a year and a quarter of daily register values at local midnight,
UTC+8) is published as the archive and the validator would; every figure the API answers is
compared with the figure the test computes from its own truth (the daily consumption function
below), never from the service's tables: monthly totals by region with month-on-month and
year-on-year, a custom period with edges, ranking, TOU split, water, the combined view of a
party, a meter replacement, a register roll-over, and late data (a back-fill across a month
boundary and an estimate replaced by an actual) changing exactly the months it touches.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from emms_bus import BusProducer
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2025, 1, 1), date(2026, 4, 1)  # register values at local midnight of each day
SWAP = date(2026, 2, 15)
E, W = "energy.active.import.total", "water.volume"
TOU_FROM = date(2026, 2, 20)  # M1's tariff registers (read from then on: March is checked)
TOU_SHARE = {"t1": 0.4, "t2": 0.3, "t3": 0.2, "t4": 0.1}
BASE = {"M1": 30, "W1": 1, "M2": 8, "M3": 8, "M4": 20}
MULT = {"M1": 2.0, "W1": 1.0, "M2": 1.0, "M3": 1.0, "M4": 1.0}
GAP = ("W1", date(2026, 3, 1))  # first left out, then back-filled
VOLTAGE = {"C1": 10.0, "C2": 0.22, "C3": 0.38}  # supply voltage level (kV) of each customer's point
NAMES = {"C1": "张三机械厂", "C1w": "张三机械厂", "C3": "李四"}  # account names (户名); C9 (P9) is 李四 too
ESTIMATE = ("M1", date(2026, 2, 1), -7.0)  # first an estimate 7 kWh low, then the actual


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


def used(meter: str, d: date) -> float:
    """The truth: what ``meter`` used on local day ``d`` (register units)."""
    return float(BASE[meter] + d.toordinal() % 5)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def span_of(meter: str) -> tuple[date, date]:
    return {"M2": (FIRST, SWAP), "M3": (SWAP, LAST), "M4": (date(2026, 1, 1), LAST)}.get(meter, (FIRST, LAST))


def register(meter: str, d: date) -> float:
    start, _ = span_of(meter)
    origin = {"M4": 9_900.0}.get(meter, 1000.0 if meter != "M3" else 0.0)
    value = origin + sum(used(meter, x) for x in days(start, d))
    return value % 10_000 if meter == "M4" else value


def truth(meters: list[str], start: date, end: date) -> float:
    """Usage × multiplier of ``meters`` over local days [start, end), each meter over the days it measured."""
    return sum(used(m, d) * MULT[m] for m in meters
               for d in days(max(start, span_of(m)[0]), min(end, span_of(m)[1])))


def change(entity: str, entity_id: str, data: dict[str, Any],
           kind: ChangeKind = ChangeKind.CREATED) -> MasterDataChange:
    return MasterDataChange(change_id=f"{entity}/{entity_id}/{kind}", entity=entity, entity_id=entity_id, kind=kind,
                            changed_at=datetime(2024, 12, 1, tzinfo=UTC), changed_by="test", data=data)


def masterdata() -> list[MasterDataChange]:
    out = [change("company", "CO", {"id": "CO", "name": "Utility"}),
           change("region", "R", {"id": "R", "name": "City", "parent_id": None}),
           change("region", "R1", {"id": "R1", "name": "East", "parent_id": "R"}),
           change("region", "R2", {"id": "R2", "name": "West", "parent_id": "R"}),
           change("network_node", "L1", {"id": "L1", "kind": "line", "utility": "electricity", "company_id": "CO"}),
           change("network_node", "N1", {"id": "N1", "kind": "transformer", "parent_id": "L1", "company_id": "CO",
                                         "capacity_kva": 630}),
           change("custom_group", "G1", {"id": "G1", "name": "Watched", "company_id": "CO"}),
           change("group_member", "G1/customer/C2", {"group_id": "G1", "member_kind": "customer", "member_id": "C2"})]
    customers = [("C1", "P1", "electricity", "e_business", "manufacturing", "R1", "N1", "M1"),
                 ("C1w", "P1", "water", "w_business", None, "R1", None, "W1"),
                 ("C2", "P2", "electricity", "e_residential", None, "R2", "N1", "M2"),
                 ("C3", "P3", "electricity", "e_residential", None, "R1", None, "M4")]
    for cid, party, utility, category, industry, region, node, meter in customers:
        out += [change("customer", cid, {"id": cid, "name": NAMES.get(cid, cid), "party_id": party, "utility": utility,
                                         "category": category, "industry": industry, "company_id": "CO",
                                         "region_id": region}),
                change("metering_point", f"{cid}-P", {"id": f"{cid}-P", "customer_id": cid, "utility": utility,
                                                      "node_id": node, "voltage_level_kv": VOLTAGE.get(cid)}),
                change("meter", meter, {"id": meter, "utility": utility, "multiplier": MULT[meter],
                                        "register_digits": 4 if meter == "M4" else 8}),
                change("meter_installation", f"{cid}-P", {"metering_point_id": f"{cid}-P", "meter_id": meter,
                                                          "valid_from": midnight(span_of(meter)[0]).isoformat(),
                                                          "customer_id": cid, "utility": utility})]
    out += [change("customer", "C9", {"id": "C9", "name": NAMES["C3"], "party_id": "P9", "utility": "water",
                                      "category": "w_residential", "company_id": "CO", "region_id": "R2"}),
            change("meter", "M3", {"id": "M3", "utility": "electricity", "multiplier": 1.0, "register_digits": 8}),
            change("meter_installation", "C2-P", {"metering_point_id": "C2-P", "meter_id": "M3",
                                                  "valid_from": midnight(SWAP).isoformat(), "customer_id": "C2",
                                                  "utility": "electricity"}, ChangeKind.REPLACED)]
    return out


def reading(meter: str, item: str, d: date, value: float, *, status: ValidationStatus = ValidationStatus.VALID,
            version: int = 0) -> ValidatedReading:
    return ValidatedReading(meter_id=meter, item=item, data_time=midnight(d), value=value,
                            unit="kWh" if item.startswith("energy") else "m3", status=status,
                            validated_at=datetime(2026, 4, 2, tzinfo=UTC) + timedelta(hours=version))


def initial_readings() -> list[ValidatedReading]:
    out = []
    for meter in ("M1", "W1", "M2", "M3", "M4"):
        lo, hi = span_of(meter)
        item = W if meter == "W1" else E
        for d in days(lo, hi + timedelta(days=1)):  # the value at the end of the last day too
            if (meter, d) == GAP or d > LAST:
                continue
            value = register(meter, d)
            if (meter, d) == ESTIMATE[:2]:
                out.append(reading(meter, item, d, value + ESTIMATE[2], status=ValidationStatus.ESTIMATED))
            else:
                out.append(reading(meter, item, d, value))
            if meter == "M1" and d >= TOU_FROM:
                out += [reading(meter, f"energy.active.import.{t}", d, value * share)
                        for t, share in TOU_SHARE.items()]
    return out


async def publish(producer: BusProducer, readings: list[ValidatedReading], tag: str) -> None:
    batches = [ValidatedReadingBatch(batch_id=f"{tag}-{i}", terminal="T1", readings=readings[i:i + 400])
               for i in range(0, len(readings), 400)]
    await producer.publish_many(batches, topic="emms.reading.validated.v1")


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0,
                     describe: Callable[[], Awaitable[str]] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            state = await describe() if describe is not None else ""
            raise TimeoutError(f"the analytics did not reach the expected figures in time{state}")
        await asyncio.sleep(0.2)


def month(y: int, m: int) -> tuple[date, date]:
    return date(y, m, 1), date(y + m // 12, m % 12 + 1, 1)


async def monthly(client: httpx.AsyncClient, **params: Any) -> dict[tuple[str, str], float]:
    resp = await client.get("/api/v1/analytics/usage", params={"interval": "month", **params})
    assert resp.status_code == 200, resp.text
    return {(r["bucket"][:7], r["key"]): r["usage"] for r in resp.json()["rows"]}


def close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) < 1e-6 * max(1.0, abs(b))


@pytest.fixture(scope="module")
async def fleet(analytics: tuple[Any, httpx.AsyncClient], producer: BusProducer) -> httpx.AsyncClient:
    _, client = analytics
    # readings first, master data after: the roll-over of M4 becomes usage once its width is known
    await publish(producer, initial_readings(), "initial")
    await producer.publish_many(masterdata(), topic="emms.masterdata.change.v1")
    span = {"from": midnight(FIRST).isoformat(), "to": midnight(LAST).isoformat()}
    expected = {("2025-01", "C1"): truth(["M1"], *month(2025, 1)),
                ("2026-01", "C1"): truth(["M1"], *month(2026, 1)) - 14,
                ("2026-03", "C1"): truth(["M1"], *month(2026, 3)), ("2026-03", "C2"): truth(["M3"], *month(2026, 3)),
                ("2026-03", "C3"): truth(["M4"], *month(2026, 3)), ("2026-01", "C3"): truth(["M4"], *month(2026, 1)),
                ("2025-06", "C1w"): truth(["W1"], *month(2025, 6))}

    async def arrived() -> bool:  # every reading stored and, on TimescaleDB, every window refreshed
        got = await monthly(client, group_by="customer", **span)
        # and the customer rollup (a region filter reads it; on TimescaleDB the refresher writes it)
        resp = await client.get("/api/v1/analytics/usage", params={  # 404 until the region is known
            "interval": "month", "group_by": "customer", "regions": "R", **span})
        if resp.status_code != 200:
            return False
        dims = {(r["bucket"][:7], r["key"]): r["usage"] for r in resp.json()["rows"]}
        return all(close(got.get(k), v) and close(dims.get(k), v) for k, v in expected.items())

    async def describe() -> str:  # what a failure needs to be explained: the figures and the service's backlog
        got = await monthly(client, group_by="customer", **span)
        wrong = {k: (got.get(k), v) for k, v in expected.items() if not close(got.get(k), v)}
        runtime, _ = analytics
        async with runtime.pool.acquire() as conn:
            pending = await conn.fetchval("SELECT count(*) FROM analytics.refresh_window") if runtime.timescale else 0
        return f": (got, expected) {wrong}; refresh windows pending {pending}"
    await eventually(arrived, timeout_s=180.0, describe=describe)  # a deadline for a loaded machine, not a wait
    return client


async def test_monthly_by_customer_with_comparisons_match_the_truth(fleet: httpx.AsyncClient) -> None:
    resp = await fleet.get("/api/v1/analytics/usage", params={
        "regions": "R", "utilities": "electricity", "interval": "month", "group_by": "customer", "compare": "true",
        "from": midnight(date(2026, 1, 1)).isoformat(), "to": midnight(date(2026, 4, 1)).isoformat()})
    assert resp.status_code == 200, resp.text
    rows = {(r["bucket"], r["key"]): r for r in resp.json()["rows"]}
    jan, feb, mar = "2026-01-01T00:00:00+08:00", "2026-02-01T00:00:00+08:00", "2026-03-01T00:00:00+08:00"
    # the estimate of Feb 1 (7 kWh low, × 2) moves usage from January into February until the actual arrives
    assert close(rows[(jan, "C1")]["usage"], truth(["M1"], *month(2026, 1)) - 14)
    assert close(rows[(feb, "C1")]["usage"], truth(["M1"], *month(2026, 2)) + 14)
    assert rows[(feb, "C1")]["estimated"] == 1 and rows[(mar, "C1")]["estimated"] == 0
    march = rows[(mar, "C1")]
    assert close(march["previous"], truth(["M1"], *month(2026, 2)) + 14)
    assert close(march["last_year"], truth(["M1"], *month(2025, 3)))
    assert close(march["yoy_rate"], march["usage"] / truth(["M1"], *month(2025, 3)) - 1)
    # the replacement: both meters of C2 count in February, never one register minus the other
    assert close(rows[(feb, "C2")]["usage"], truth(["M2", "M3"], *month(2026, 2)))
    # the roll-over of C3's four-digit register is usage, not a drop
    assert close(rows[(jan, "C3")]["usage"], truth(["M4"], *month(2026, 1)))
    # region R holds its districts; R2 alone only C2; a group of C2 the same
    by_region = await monthly(fleet, regions="R2", utilities="electricity", group_by="region",
                              **{"from": midnight(date(2026, 3, 1)).isoformat(),
                                 "to": midnight(date(2026, 4, 1)).isoformat()})
    assert by_region.keys() == {("2026-03", "R2")} and close(by_region[("2026-03", "R2")],
                                                             truth(["M3"], *month(2026, 3)))
    by_group = await monthly(fleet, groups="G1", group_by="group", **{
        "from": midnight(date(2026, 3, 1)).isoformat(), "to": midnight(date(2026, 4, 1)).isoformat()})
    assert close(by_group[("2026-03", "G1")], truth(["M3"], *month(2026, 3)))


async def test_custom_period_from_rollups_and_edges(fleet: httpx.AsyncClient) -> None:
    start = datetime(2025, 11, 20, 5, 30, tzinfo=TZ)  # mid-day: that day's interval ends inside the period
    end = datetime(2026, 1, 3, 0, 0, tzinfo=TZ)
    resp = await fleet.get("/api/v1/analytics/usage", params={
        "customers": "C1", "interval": "period", "items": E, "from": start.isoformat(), "to": end.isoformat()})
    assert resp.status_code == 200, resp.text
    [row] = resp.json()["rows"]
    assert close(row["usage"], truth(["M1"], date(2025, 11, 20), date(2026, 1, 3)))
    daily = await fleet.get("/api/v1/analytics/usage", params={
        "customers": "C1", "interval": "day", "items": E, "from": midnight(date(2025, 11, 20)).isoformat(),
        "to": midnight(date(2025, 11, 23)).isoformat()})
    assert [(r["bucket"], r["usage"]) for r in daily.json()["rows"]] == [
        (f"2025-11-{d}T00:00:00+08:00", used("M1", date(2025, 11, d)) * 2) for d in (20, 21, 22)]
    quarter = await fleet.get("/api/v1/analytics/usage", params={
        "customers": "C1", "interval": "quarter", "items": E, "from": midnight(date(2025, 1, 1)).isoformat(),
        "to": midnight(date(2025, 7, 1)).isoformat()})
    assert [r["usage"] for r in quarter.json()["rows"]] == pytest.approx(
        [truth(["M1"], date(2025, 1, 1), date(2025, 4, 1)), truth(["M1"], date(2025, 4, 1), date(2025, 7, 1))])


async def test_ranking_tou_water_and_combined(fleet: httpx.AsyncClient) -> None:
    mar = {"from": midnight(date(2026, 3, 1)).isoformat(), "to": midnight(date(2026, 4, 1)).isoformat()}
    ranking = (await fleet.get("/api/v1/analytics/ranking", params={
        "regions": "R", "utilities": "electricity", "top": 2, **mar})).json()["rows"]
    expected = sorted([("C1", truth(["M1"], *month(2026, 3))), ("C2", truth(["M3"], *month(2026, 3))),
                       ("C3", truth(["M4"], *month(2026, 3)))], key=lambda kv: -kv[1])[:2]
    assert [r["key"] for r in ranking] == [k for k, _ in expected]
    assert [r["usage"] for r in ranking] == pytest.approx([v for _, v in expected])
    energy = (await fleet.get("/api/v1/analytics/electricity/energy", params={
        "customers": "C1", "interval": "month", **mar})).json()
    [tou] = energy["tou"]
    assert tou["total"] == pytest.approx(truth(["M1"], *month(2026, 3)))
    assert tou["shares"] == pytest.approx(TOU_SHARE)
    assert energy["peak_hours"]["peak_hours"] == [23]  # daily registers: each day's usage ends in its last hour
    water = await monthly(fleet, utilities="water", group_by="category", compare="true",
                          **{"from": midnight(date(2026, 1, 1)).isoformat(),
                             "to": midnight(date(2026, 2, 1)).isoformat()})
    assert close(water[("2026-01", "w_business")], truth(["W1"], *month(2026, 1)))
    combined = (await fleet.get("/api/v1/analytics/combined", params={
        "key": "P1", "tiers": "100", "from": midnight(date(2025, 1, 1)).isoformat(),
        "to": midnight(date(2026, 1, 1)).isoformat()})).json()
    assert set(combined["utilities"]) == {"electricity", "water"}
    year_w = truth(["W1"], date(2025, 1, 1), date(2026, 1, 1))
    assert combined["utilities"]["water"]["total"] == pytest.approx(year_w)
    assert [t["usage"] for t in combined["utilities"]["water"]["tiers"]] == pytest.approx([100, year_w - 100])
    # the peak analysis of the party's electricity (R-4.5.3.5), from the truth's days of 2025
    year = [(d, used("M1", d) * MULT["M1"]) for d in days(date(2025, 1, 1), date(2026, 1, 1))]
    high, low = max(year, key=lambda p: p[1]), min(year, key=lambda p: p[1])  # the first of equals: the earliest
    mean = sum(v for _, v in year) / len(year)
    peak = combined["utilities"]["electricity"]["peak"]
    assert peak["buckets"] == 365 and peak["average"] == pytest.approx(mean)
    assert (datetime.fromisoformat(peak["peak"]["bucket"]), datetime.fromisoformat(peak["valley"]["bucket"])) == (
        midnight(high[0]), midnight(low[0]))
    assert (peak["peak"]["usage"], peak["valley"]["usage"]) == pytest.approx((high[1], low[1]))
    assert peak["load_factor"] == pytest.approx(mean / high[1]) and "hours" not in peak  # a year: no hourly profile
    monthly_e = [truth(["M1"], *month(2025, m)) for m in range(1, 13)]
    growth = combined["utilities"]["electricity"]["growth"]
    assert [g["usage"] for g in growth] == pytest.approx(monthly_e)
    assert [g["rate"] for g in growth[1:]] == pytest.approx([b / a - 1 for a, b in itertools.pairwise(monthly_e)])
    quarter = (await fleet.get("/api/v1/analytics/combined", params={
        "key": "P1", "from": midnight(date(2025, 1, 1)).isoformat(),
        "to": midnight(date(2025, 4, 1)).isoformat()})).json()["utilities"]["electricity"]["peak"]
    assert quarter["hours"]["peak_hours"][0] == 23  # daily registers: each day's usage ends in its last hour
    named = (await fleet.get("/api/v1/analytics/combined", params={  # by account name (户名): the same answer
        "key": NAMES["C1"], "by": "name", "tiers": "100", "from": midnight(date(2025, 1, 1)).isoformat(),
        "to": midnight(date(2026, 1, 1)).isoformat()}))
    assert named.status_code == 200, named.text
    assert (named.json()["key"], named.json()["name"], named.json()["utilities"]) == (
        "P1", NAMES["C1"], combined["utilities"])
    both = await fleet.get("/api/v1/analytics/combined", params={"key": "李四", "by": "name", **mar})
    assert both.status_code == 409 and "P3, P9" in both.json()["detail"]
    nobody = await fleet.get("/api/v1/analytics/combined", params={"key": "王五", "by": "name", **mar})
    assert nobody.status_code == 404 and "王五" in nobody.json()["detail"]
    assert (await fleet.get("/api/v1/analytics/combined", params={"key": "P 1", **mar})).status_code == 422


async def test_energy_by_voltage_level_and_by_transformer_capacity(fleet: httpx.AsyncClient) -> None:
    """R-4.5.3.1: March's electricity grouped by the points' voltage levels and by the capacity of the transformer
    each point hangs under (C1's and C2's under N1, 630 kVA; C3's under none)."""
    mar = {"from": midnight(date(2026, 3, 1)).isoformat(), "to": midnight(date(2026, 4, 1)).isoformat()}
    by_level = await monthly(fleet, utilities="electricity", items=E, group_by="voltage_level", **mar)
    assert by_level.keys() == {("2026-03", "10"), ("2026-03", "0.22"), ("2026-03", "0.38")}
    for key, meters in (("10", ["M1"]), ("0.22", ["M3"]), ("0.38", ["M4"])):
        assert close(by_level[("2026-03", key)], truth(meters, *month(2026, 3))), key
    by_capacity = await monthly(fleet, utilities="electricity", items=E, group_by="transformer_capacity", **mar)
    assert by_capacity.keys() == {("2026-03", "630"), ("2026-03", "")}
    assert close(by_capacity[("2026-03", "630")], truth(["M1", "M3"], *month(2026, 3)))
    assert close(by_capacity[("2026-03", "")], truth(["M4"], *month(2026, 3)))
    ranked = (await fleet.get("/api/v1/analytics/usage", params={
        "utilities": "electricity", "items": E, "group_by": "voltage_kv", **mar}))
    assert ranked.status_code == 422  # not a dimension


async def test_load_of_a_point_and_quality_of_a_node(fleet: httpx.AsyncClient, producer: BusProducer) -> None:
    day = date(2026, 3, 10)
    curve = []
    for h in range(24):
        at = midnight(day) + timedelta(hours=h)
        curve += [ValidatedReading(meter_id="M1", item=item, data_time=at, value=value, unit="", validated_at=at,
                                   status=ValidationStatus.VALID)
                  for item, value in (("power.active.total", 10.0 + h), ("current.a", 10.0), ("current.b", 8.0),
                                      ("current.c", 6.0 + (h == 5)))]
    await publish(producer, curve, "curve")
    params = {"from": midnight(day).isoformat(), "to": midnight(day + timedelta(days=1)).isoformat()}

    async def stored() -> bool:
        got = await fleet.get("/api/v1/analytics/electricity/load/C1-P", params=params)
        return got.status_code == 200 and got.json()["points"] == 24 and got.json()["unbalance"]["instants"] == 24
    await eventually(stored)
    load = (await fleet.get("/api/v1/analytics/electricity/load/C1-P", params=params)).json()
    assert load["max"] == {"value": 2 * 33.0, "at": "2026-03-10T23:00:00+08:00"}  # × the meter's multiplier 2
    assert load["min"] == {"value": 2 * 10.0, "at": "2026-03-10T00:00:00+08:00"}
    assert load["average"] == pytest.approx(2 * 21.5) and load["load_rate"] == pytest.approx(21.5 / 33)
    assert load["unbalance"]["worst"] == pytest.approx(0.4) and load["unbalance"]["at"] == "2026-03-10T00:00:00+08:00"
    assert load["trend"]["direction"] == "rising"
    missing = await fleet.get("/api/v1/analytics/electricity/load/NOPOINT", params=params)
    assert missing.status_code == 404 and "NOPOINT" in missing.json()["detail"]
    # line L1 holds transformer N1 with C1's and C2's points: every daily value of February is there, one
    # interval of 56 (C1's estimate of Feb 1) is estimated
    quality = (await fleet.get("/api/v1/analytics/quality/nodes", params={
        "nodes": "L1", "from": midnight(date(2026, 2, 1)).isoformat(),
        "to": midnight(date(2026, 3, 1)).isoformat()})).json()["rows"]
    assert quality == [{"node_id": "L1", "metering_points": 2, "collected": 56, "expected": 56, "intervals": 56,
                        "estimated": 1, "completeness": 1.0, "estimated_share": pytest.approx(1 / 56)}]


async def test_late_data_changes_exactly_the_months_it_touches(fleet: httpx.AsyncClient,
                                                               producer: BusProducer) -> None:
    span = {"from": midnight(date(2026, 1, 1)).isoformat(), "to": midnight(date(2026, 4, 1)).isoformat()}
    before = await monthly(fleet, group_by="customer", **span)
    # W1's missing Mar 1 value put Feb 28's water into March
    assert close(before[("2026-02", "C1w")], truth(["W1"], *month(2026, 2)) - used("W1", date(2026, 2, 28)))
    await publish(producer, [reading("W1", W, GAP[1], register("W1", GAP[1]), version=1),
                             reading("M1", E, ESTIMATE[1], register("M1", ESTIMATE[1]), version=1)], "late")

    async def repaired() -> bool:
        for params in ({}, {"regions": "R"}):  # the meter rollups and the customer rollup
            now = await monthly(fleet, group_by="customer", **params, **span)
            if not (close(now.get(("2026-02", "C1w")), truth(["W1"], *month(2026, 2))) and close(
                    now.get(("2026-01", "C1")), truth(["M1"], *month(2026, 1)))):
                return False
        return True
    await eventually(repaired)
    after = await monthly(fleet, group_by="customer", **span)
    changed = {k for k in after if not close(after[k], before[k])}
    assert changed == {("2026-02", "C1w"), ("2026-03", "C1w"), ("2026-01", "C1"), ("2026-02", "C1")}
    # region R holds this module's customers; other modules' customers share the database
    regional = await monthly(fleet, group_by="customer", regions="R", **span)
    assert {c for _, c in regional} == OWN
    assert regional == {k: v for k, v in after.items() if k[1] in OWN}
    for key in [("2026-03", "C1w"), ("2026-02", "C1")]:
        m = int(key[0][5:])
        assert close(after[key], truth(["W1" if key[1] == "C1w" else "M1"], *month(2026, m)))


async def test_bad_input_is_4xx_with_the_reason(fleet: httpx.AsyncClient) -> None:
    span = {"from": midnight(date(2026, 1, 1)).isoformat(), "to": midnight(date(2026, 2, 1)).isoformat()}
    unknown = await fleet.get("/api/v1/analytics/usage", params={"regions": "NOWHERE", **span})
    assert unknown.status_code == 404 and "NOWHERE" in unknown.json()["detail"]
    group = await fleet.get("/api/v1/analytics/ranking", params={"groups": "NOGROUP", **span})
    assert group.status_code == 404 and "NOGROUP" in group.json()["detail"]
    inverted = await fleet.get("/api/v1/analytics/usage", params={"from": span["to"], "to": span["from"]})
    assert inverted.status_code == 422 and "inverted" in inverted.json()["detail"]
    too_long = await fleet.get("/api/v1/analytics/usage", params={"from": "2000-01-01T00:00:00Z", "to": span["to"]})
    assert too_long.status_code == 422 and "3700 days" in too_long.json()["detail"]
    costly = await fleet.get("/api/v1/analytics/usage", params={
        "interval": "hour", "from": "2023-01-01T00:00:00Z", "to": span["to"]})
    assert costly.status_code == 422 and "50000" in costly.json()["detail"]


Rows = dict[tuple[str, str, str], tuple[float, int, int]]


async def usage_rows(client: httpx.AsyncClient, **params: Any) -> Rows:
    resp = await client.get("/api/v1/analytics/usage", params=params)
    assert resp.status_code == 200, resp.text
    return {(r["bucket"], r["key"], r["item"]): (r["usage"], r["intervals"], r["metering_points"])
            for r in resp.json()["rows"]}


OWN = {"C1", "C1w", "C2", "C3"}


def same(got: Rows, expected: Rows) -> None:
    assert got.keys() == expected.keys()
    for k, (usage, intervals, points) in expected.items():
        assert close(got[k][0], usage) and got[k][1:] == (intervals, points), (k, got[k], expected[k])


async def test_a_customer_moving_region_moves_its_usage_in_the_rollups(
        fleet: httpx.AsyncClient, producer: BusProducer, analytics: tuple[Any, httpx.AsyncClient]) -> None:
    """The customer and region rollups (what a region, customer or party filter reads by the month) answer
    what the meter rollups answer, before and after C3 moves from R1 to R2 and back (R-4.5.3.1)."""
    span = {"from": midnight(date(2025, 1, 1)).isoformat(), "to": midnight(date(2026, 4, 1)).isoformat(),
            "interval": "month"}
    r1_before = truth(["M1"], *month(2026, 1)) + truth(["M4"], *month(2026, 1))

    async def region(name: str, utilities: str = "electricity") -> dict[tuple[str, str], float]:
        return await monthly(fleet, regions=name, utilities=utilities, group_by="region", **span)

    # the customer rollup (a region filter) and the meter rollups (no owner filter) give the same rows
    general = {k: v for k, v in (await usage_rows(fleet, group_by="customer", **span)).items()
               if k[1] in OWN}  # this module's customers: other modules' share the database
    same(await usage_rows(fleet, regions="R", group_by="customer", **span), general)
    assert close((await region("R1"))[("2026-01", "R1")], r1_before)

    async def move(to: str, tag: str) -> None:
        moved = change("customer", "C3", {"id": "C3", "region_id": to}, ChangeKind.UPDATED)
        await producer.publish_many([moved.model_copy(update={"change_id": f"customer/C3/move-{tag}"})],
                                    topic="emms.masterdata.change.v1")

    await move("R2", "1")

    async def moved() -> bool:
        return ("2026-01", "R1") in (got := await region("R1")) and close(
            got[("2026-01", "R1")], truth(["M1"], *month(2026, 1)))
    await eventually(moved)
    r2 = await region("R2")
    runtime, _ = analytics
    async with runtime.pool.acquire() as conn:  # the region rollup itself holds it (what the city's months read)
        stored = await conn.fetchval("SELECT usage FROM analytics.usage_region_monthly WHERE region_id = 'R2'"
                                     " AND item = $1 AND bucket = $2", E, midnight(date(2026, 1, 1)))
    assert close(stored, truth(["M2"], *month(2026, 1)) + truth(["M4"], *month(2026, 1)))
    assert close(r2[("2026-01", "R2")], truth(["M2"], *month(2026, 1)) + truth(["M4"], *month(2026, 1)))
    assert close(r2[("2026-02", "R2")], truth(["M2", "M3", "M4"], *month(2026, 2)))
    city = await region("R")
    assert close(city[("2026-01", "R1")], truth(["M1"], *month(2026, 1)))  # by the customer's region now
    by_utility = await monthly(fleet, regions="R2", group_by="utility", **span)
    assert close(by_utility[("2026-03", "electricity")], truth(["M3", "M4"], *month(2026, 3)))
    assert ("2026-03", "water") not in by_utility  # C1w stayed in R1
    points = await usage_rows(fleet, regions="R2", utilities="electricity", group_by="region", **span)
    assert points[("2026-02-01T00:00:00+08:00", "R2", E)][2] == 2  # C2's point (two meters) and C3's
    same(await usage_rows(fleet, regions="R2", group_by="customer", **span),  # a point filter: the meter rollups
         await usage_rows(fleet, metering_points=["C2-P", "C3-P"], group_by="customer", items=[E], **span))

    await move("R1", "2")

    async def back() -> bool:
        return close((await region("R1")).get(("2026-01", "R1")), r1_before)
    await eventually(back)
    same(await usage_rows(fleet, regions="R", group_by="customer", **span), general)
