"""Supply quality (R-4.5.5.1–4) against an independent computation from the simulator's truth.

A simulated field (``GroundTruth``, seed 17) has electricity meters with evening sags and night swells,
three-phase meters with harmonic distortion, water / gas meters with abnormal pressure and heat meters with a
night pressure drop (``emms_sim.supply_quality``). One local day of their values — 15-minute voltage, current
and power-factor curves, the terminals' daily voltage statistics and hourly harmonic content (both through the
1376.1 codec: the simulator's F27 / F58 answers encoded, decoded and mapped to items as the collector does),
hourly pressure, flow and temperatures — goes over the real broker as validated readings to the analytics
service on the real database (both storage modes). Each figure is recomputed here from the truth values and
the limits, never from the service's tables; the injected cases are the ones found, the clean ones are not.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from service_harness import area_topics, in_process, own_database
from test_analytics_dashboards import expand_macros, interpolate, panels, timescaledb_flag

from emms_analytics.app import create_app
from emms_analytics.settings import AnalyticsSettings
from emms_bus import BusProducer, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus
from emms_protocol.gdw1376 import DataUnit
from emms_protocol.gdw1376.items_map import items_from_units
from emms_protocol.gdw1376.units import decode_body, encode_units
from emms_protocol.items import ITEMS
from emms_sim import supply_quality as sq
from emms_sim.answer_quality import daily_voltage_statistics, harmonic_answer
from emms_sim.fleet import FieldRates, FleetConfig, MeterSpec
from emms_sim.truth import GroundTruth

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ8 = timedelta(hours=8)
DAY = datetime(2026, 11, 20, tzinfo=UTC) - TZ8  # local midnight (UTC+8)
NEXT = DAY + timedelta(days=1)
SPAN = {"from": DAY.isoformat(), "to": NEXT.isoformat(), "regions": "R-SQ"}
QUARTERS = [DAY + timedelta(minutes=15 * i) for i in range(96)]
HOURS = [DAY + timedelta(hours=h) for h in range(24)]
DROPPED = 5  # voltage values of one clean point not published: that point is incomplete
BALANCE_AT = DAY + timedelta(hours=10)
BOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards" / "analytics" / "supply_quality.json"


def _pick(truth: GroundTruth) -> dict[str, list[MeterSpec]]:
    ok = [m for m in truth.fleet.meters_of(0) if m.present(DAY.timestamp()) and m.present(NEXT.timestamp())]

    def first(n: int, cond: Callable[[MeterSpec], bool]) -> list[MeterSpec]:
        found = [m for m in ok if cond(m)][:n]
        assert len(found) == n
        return found
    elec = lambda m: m.utility == "electricity"  # noqa: E731
    return {
        "sag": first(1, lambda m: elec(m) and sq.voltage_fault(m) == "sag" and m.phases == 1),
        "swell3": first(1, lambda m: elec(m) and sq.voltage_fault(m) == "swell" and m.phases == 3),
        "distorted": first(1, lambda m: elec(m) and sq.distorted(m) and sq.voltage_fault(m) is None),
        "clean3": first(1, lambda m: elec(m) and m.phases == 3 and not sq.distorted(m) and not sq.voltage_fault(m)),
        "clean1": first(2, lambda m: elec(m) and m.phases == 1 and not sq.voltage_fault(m)),
        "water": first(1, lambda m: m.utility == "water" and sq.pressure_fault(m))
        + first(2, lambda m: m.utility == "water" and not sq.pressure_fault(m)),
        "gas": first(1, lambda m: m.utility == "gas" and sq.pressure_fault(m))
        + first(2, lambda m: m.utility == "gas" and not sq.pressure_fault(m)),
        "heat": first(1, lambda m: m.utility == "heat" and sq.pressure_fault(m))
        + first(4, lambda m: m.utility == "heat" and not sq.pressure_fault(m)),
    }


TRUTH = GroundTruth(FleetConfig(seed=17, concentrators=1, meters_per=400, rates=FieldRates.quiet()))
PICKED = _pick(TRUTH)
ELEC = PICKED["sag"] + PICKED["swell3"] + PICKED["distorted"] + PICKED["clean3"] + PICKED["clean1"]
INCOMPLETE = PICKED["clean1"][1]
HEAT_ST1, HEAT_LONE = PICKED["heat"][:4], PICKED["heat"][4]
CATEGORY = {m.meter_id: ("e_business" if m.phases == 3 else "e_residential") for m in ELEC}
PF_CUSTOMER = f"C-{PICKED['clean3'][0].meter_id}"  # its own limits: 0.99 … 1.00


def cid(m: MeterSpec) -> str:
    return f"C-{m.meter_id}"


def mp(m: MeterSpec) -> str:
    return f"MP-{m.meter_id}"


def change(entity: str, entity_id: str, data: dict[str, Any]) -> MasterDataChange:
    return MasterDataChange(change_id=f"sq/{entity}/{entity_id}", entity=entity, entity_id=entity_id,
                            kind=ChangeKind.CREATED, changed_at=datetime(2026, 1, 1, tzinfo=UTC), changed_by="test",
                            data=data)


def masterdata() -> list[MasterDataChange]:
    out = [change("company", "CO-SQ", {"id": "CO-SQ", "name": "Utility"}),
           change("region", "R-SQ", {"id": "R-SQ", "name": "Town", "parent_id": None})]
    for node, kind, parent in (("SQ-ST1", "heat_exchange_station", None), ("SQ-ST2", "heat_exchange_station", None),
                               ("SQ-B1", "building", "SQ-ST1"), ("SQ-B2", "building", "SQ-ST1")):
        out.append(change("network_node", node, {"id": node, "kind": kind, "utility": "heat", "parent_id": parent,
                                                 "company_id": "CO-SQ", "region_id": "R-SQ"}))
    for m in ELEC + PICKED["water"] + PICKED["gas"] + PICKED["heat"]:
        node = None
        if m in HEAT_ST1:
            node = "SQ-B1" if HEAT_ST1.index(m) % 2 else "SQ-B2"
        elif m == HEAT_LONE:
            node = "SQ-ST2"
        category = CATEGORY.get(m.meter_id, f"{m.utility[0]}_residential")
        out += [change("customer", cid(m), {"id": cid(m), "name": cid(m), "utility": m.utility, "category": category,
                                            "company_id": "CO-SQ", "region_id": "R-SQ"}),
                change("metering_point", mp(m), {"id": mp(m), "customer_id": cid(m), "utility": m.utility,
                                                 "node_id": node}),
                change("meter", m.meter_id, {"id": m.meter_id, "utility": m.utility, "multiplier": 1.0}),
                change("meter_installation", mp(m), {"metering_point_id": mp(m), "meter_id": m.meter_id,
                                                     "valid_from": "2020-01-01T00:00:00+00:00",
                                                     "customer_id": cid(m), "utility": m.utility})]
    return out


def value(meter: MeterSpec, item: str, at: datetime) -> float | None:
    reading = TRUTH.reading(meter.meter_id, at) or {}
    v = reading.get(item)
    return None if v is None else float(v)


def vr(meter: MeterSpec, item: str, at: datetime, v: float | None) -> ValidatedReading:
    return ValidatedReading(meter_id=meter.meter_id, item=item, data_time=at, value=v, unit=ITEMS[item].unit,
                            status=ValidationStatus.VALID, validated_at=datetime(2026, 11, 21, tzinfo=UTC))


def through_codec(afn: int, fn: int, value_: object) -> list[tuple[str, float | None]]:
    """The simulator's answer encoded and decoded by the 1376.1 codec, mapped to items as the collector does."""
    units = decode_body(afn, 1, encode_units(afn, 1, [DataUnit(1, fn, value_)]))
    return [(iv.item, iv.value) for iv in items_from_units(afn, units)]


def readings() -> list[ValidatedReading]:
    out: list[ValidatedReading] = []
    elec_items = ["voltage.a", "voltage.b", "voltage.c", "current.a", "current.b", "current.c", "power_factor.total"]
    for m in ELEC:
        for i, at in enumerate(QUARTERS):
            for item in elec_items:
                if m == INCOMPLETE and item == "voltage.a" and i < DROPPED:
                    continue
                v = value(m, item, at)
                if v is not None:
                    out.append(vr(m, item, at, v))
        stats = daily_voltage_statistics(TRUTH.model, m, DAY.timestamp(), (DAY + TZ8).date())
        assert stats is not None
        # stamped as the collector stamps daily frozen data: the local midnight that ends the day
        out += [vr(m, item, NEXT, v) for item, v in through_codec(0x0D, 27, stats) if v is not None]
        for at in HOURS:
            answer = harmonic_answer(m, (at - DAY).total_seconds())
            if answer is not None:
                out += [vr(m, item, at, v) for item, v in through_codec(0x0C, 58, answer) if v is not None]
    for m in PICKED["water"] + PICKED["gas"] + HEAT_ST1:
        for at in HOURS:
            for item in ("pressure", "flow.rate", "temperature.supply", "temperature.return"):
                v = value(m, item, at)
                if v is not None:
                    out.append(vr(m, item, at, v))
    return out


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 180.0,
                     describe: Callable[[], Awaitable[str]] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            state = await describe() if describe is not None else ""
            raise TimeoutError(f"the analytics did not store the supply-quality data in time{state}")
        await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
def database_url(database_url: str) -> Iterator[str]:
    """The module's own database: the loss and curve tests' fleets read the same simulator meter ids."""
    yield from own_database(database_url, "sq")


@pytest.fixture(scope="module")
def sq_kafka(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this module's own (each storage mode's instance starts from an empty topic)."""
    return area_topics(kafka_settings, f"supplyq{secrets.token_hex(2)}")


@pytest.fixture(scope="module")
async def service(database_url: str, sq_kafka: KafkaSettings) -> AsyncIterator[httpx.AsyncClient]:
    kafka = sq_kafka
    settings = AnalyticsSettings(_env_file=None, environment="test", instance_id=f"sq-{secrets.token_hex(2)}",
                                 database=DatabaseSettings(url=database_url), kafka=kafka, shutdown_grace_s=5.0)
    async with in_process(create_app(settings), "http://analytics", role="operator") as (_, _, client):
        producer = BusProducer(kafka, "supply-quality-test")
        await producer.start()
        try:
            await producer.publish_many(masterdata(), topic="emms.masterdata.change.v1")
            rows = readings()
            await producer.publish_many([ValidatedReadingBatch(batch_id=f"sq-{i}", terminal="T-SQ",
                                                               readings=rows[i:i + 500])
                                         for i in range(0, len(rows), 500)], topic="emms.reading.validated.v1")
        finally:
            await producer.stop()
        expected_values = sum(1 for r in rows if r.item in ("voltage.a", "voltage.b", "voltage.c"))

        async def stored() -> bool:
            got = await client.get("/api/v1/analytics/supply-quality/voltage", params=SPAN)
            if got.status_code != 200:
                return False
            points = got.json()["points"]
            heat = await client.get("/api/v1/analytics/supply-quality/heat/deviation",
                                    params={**SPAN, "system": "constant_pressure", "nodes": "SQ-ST1"})
            return (len(points) == len(ELEC) and sum(p["curves"]["values"] for p in points) == expected_values
                    and heat.status_code == 200 and not heat.json()["nodes"][0]["incomplete"])
        async def describe() -> str:
            got = (await client.get("/api/v1/analytics/supply-quality/voltage", params=SPAN)).json()
            heat = (await client.get("/api/v1/analytics/supply-quality/heat/deviation",
                                     params={**SPAN, "system": "constant_pressure", "nodes": "SQ-ST1"})).json()
            values = sum(p["curves"]["values"] for p in got.get("points", []))
            return f": {len(got.get('points', []))} points, {values} of {expected_values} voltage values; heat {heat}"
        await eventually(stored, describe=describe)
        yield client


# --- independent computations from the truth ----------------------------------------------------------

def voltages(m: MeterSpec) -> list[tuple[datetime, str, float]]:
    out = []
    for i, at in enumerate(QUARTERS):
        for p in "abc":
            if m == INCOMPLETE and p == "a" and i < DROPPED:
                continue
            v = value(m, f"voltage.{p}", at)
            if v is not None:
                out.append((at, p, v))
    return out


def within(v: float, nominal: float, up: float, down: float) -> bool:
    return nominal * (1 - down / 100) <= v <= nominal * (1 + up / 100)


async def test_voltage_qualification_per_level_from_curves_and_statistics(service: httpx.AsyncClient) -> None:
    swell = PICKED["swell3"][0]
    put = await service.put("/api/v1/analytics/supply-quality/limits/voltage-levels/0.38kV/points",
                            json={"metering_points": [mp(swell)]})
    assert put.status_code == 204, put.text
    answer = (await service.get("/api/v1/analytics/supply-quality/voltage", params=SPAN)).json()
    levels = {lv["level"]: lv for lv in answer["levels"]}
    points = {p["metering_point_id"]: p for p in answer["points"]}
    limits = {"0.22kV": (220.0, 7.0, 10.0), "0.38kV": (220.0, 7.0, 7.0)}
    expect: dict[str, list[int]] = {"0.22kV": [0, 0], "0.38kV": [0, 0]}
    for m in ELEC:
        level = "0.38kV" if m == swell else "0.22kV"
        vs = voltages(m)
        ok = sum(1 for _, _, v in vs if within(v, *limits[level]))
        row = points[mp(m)]
        assert row["level"] == level and row["curves"]["values"] == len(vs)
        if m == INCOMPLETE:
            assert row["curves"]["status"] == "incomplete" and row["curves"]["rate"] is None
            assert "91 of 96" in row["curves"]["reason"]
            continue
        assert row["curves"]["within"] == ok and row["curves"]["rate"] == pytest.approx(ok / len(vs))
        expect[level][0] += ok
        expect[level][1] += len(vs)
    for level, (ok, n) in expect.items():
        assert levels[level]["curves"]["rate"] == pytest.approx(ok / n), level
    assert levels["0.22kV"]["curves"]["incomplete_points"] == 1
    # the injected sag and swell are below 1, every clean meter at 1
    assert points[mp(PICKED["sag"][0])]["curves"]["rate"] < 0.9
    assert points[mp(swell)]["curves"]["rate"] < 0.95
    for m in PICKED["clean1"][:1] + PICKED["clean3"] + PICKED["distorted"]:
        assert points[mp(m)]["curves"]["rate"] == 1.0
    # the terminals' statistics: every point has the whole day (the dropped curve values do not matter here)
    stat_ok = stat_n = 0
    for m in ELEC:
        row = points[mp(m)]["statistics"]
        if m == swell:
            continue  # 0.38kV level: judged by the terminal with its own 220 V +7 / −10 % parameters
        vs = [(at, p, v) for at in QUARTERS for p in "abc" if (v := value(m, f"voltage.{p}", at)) is not None]
        ok = sum(15 for _, _, v in vs if within(v, 220.0, 7.0, 10.0))
        assert row["status"] == "complete" and row["minutes_within"] == ok and row["minutes_judged"] == 15 * len(vs)
        stat_ok, stat_n = stat_ok + ok, stat_n + 15 * len(vs)
    assert levels["0.22kV"]["statistics"]["rate"] == pytest.approx(stat_ok / stat_n)


async def test_three_phase_unbalance(service: httpx.AsyncClient) -> None:
    answer = (await service.get("/api/v1/analytics/supply-quality/voltage", params=SPAN)).json()
    points = {p["metering_point_id"]: p for p in answer["points"]}
    for m in PICKED["clean3"] + PICKED["distorted"]:
        ratios = []
        for at in QUARTERS:
            vs = [value(m, f"voltage.{p}", at) for p in "abc"]
            if all(v is not None for v in vs):
                mean = sum(vs) / 3  # type: ignore[arg-type]
                ratios.append((max(vs) - mean) / mean)  # type: ignore[type-var, operator]
        got = points[mp(m)]["voltage_unbalance"]
        assert got["instants"] == len(ratios) and got["worst"] == pytest.approx(max(ratios))
        assert got["average"] == pytest.approx(sum(ratios) / len(ratios))
    assert points[mp(PICKED["sag"][0])]["voltage_unbalance"] is None  # single-phase


async def test_power_factor_against_customer_and_category_limits(service: httpx.AsyncClient) -> None:
    base = "/api/v1/analytics/supply-quality/limits/power-factor"
    for path, body, status in ((f"customer/{PF_CUSTOMER}", {"pf_min": 0.99, "pf_max": 1.0}, 204),
                               ("category/e_residential", {"pf_min": 0.80, "pf_max": 1.0}, 204),
                               ("customer/NOBODY", {"pf_min": 0.9, "pf_max": 1.0}, 404),
                               (f"customer/{PF_CUSTOMER}", {"pf_min": 0.99, "pf_max": 0.5}, 422)):
        resp = await service.put(f"{base}/{path}", json=body)
        assert resp.status_code == status, (path, resp.text)
    answer = (await service.get("/api/v1/analytics/supply-quality/power-factor", params=SPAN)).json()
    rows = {r["customer_id"]: r for r in answer["rows"]}
    outside = []
    for m in ELEC:
        pf = [(at, v) for at in QUARTERS if (v := value(m, "power_factor.total", at)) is not None]
        low, high = (0.99, 1.0) if cid(m) == PF_CUSTOMER else (0.80, 1.0) if m.phases == 1 else (0.90, 1.0)
        average = sum(v for _, v in pf) / len(pf)
        row = rows[cid(m)]
        assert row["status"] == "complete" and row["limits"]["min"] == low and row["limits"]["max"] == high
        assert row["max"]["value"] == max(v for _, v in pf) and row["min"]["value"] == min(v for _, v in pf)
        assert row["range"] == pytest.approx(row["max"]["value"] - row["min"]["value"])
        assert row["average"] == pytest.approx(average)
        assert row["instants_outside"] == sum(1 for _, v in pf if v < low or v > high)
        if average < low or average > high:
            outside.append(cid(m))
    assert sorted(answer["outside"]) == sorted(outside) and PF_CUSTOMER in outside
    assert (await service.delete(f"{base}/customer/{PF_CUSTOMER}")).status_code == 204
    assert (await service.delete(f"{base}/customer/{PF_CUSTOMER}")).status_code == 404


async def test_harmonics_daily_maxima_and_violations(service: httpx.AsyncClient) -> None:
    answer = (await service.get("/api/v1/analytics/supply-quality/harmonics", params=SPAN)).json()
    rows = {(r["metering_point_id"], r["quantity"], r["phase"]): r for r in answer["rows"]}
    expected_violations = set()
    for m in PICKED["distorted"] + PICKED["clean3"] + PICKED["swell3"]:
        values = {at: sq.harmonic_content(m, (at - DAY).total_seconds()) for at in HOURS}
        for p in "abc":
            row = rows[(mp(m), "voltage", p)]
            thd = [(at, v[f"thd.voltage.{p}"]) for at, v in values.items() if v]
            top = max(thd, key=lambda x: x[1])
            assert row["thd"]["value"] == top[1] and row["thd"]["values"] == 24
            assert datetime.fromisoformat(row["thd"]["at"]) == top[0]
            for h in range(2, 20):
                hmax = max(v[f"harmonic.voltage.{p}.h{h}"] for v in values.values() if v)
                assert row["orders"][f"h{h}"]["value"] == hmax
                if hmax > (4.0 if h % 2 else 2.0):
                    expected_violations.add((mp(m), p, f"h{h}"))
            if top[1] > 5.0:
                expected_violations.add((mp(m), p, "thd"))
    got = {(r["metering_point_id"], r["phase"], v["of"]) for r in answer["rows"] for v in r["violations"]}
    assert got == expected_violations
    violated = {p for p, _, _ in got}
    assert mp(PICKED["distorted"][0]) in violated and mp(PICKED["clean3"][0]) not in violated
    assert (mp(PICKED["sag"][0]), "voltage", "a") not in rows  # a single-phase meter delivers none


@pytest.mark.parametrize("utility", ["water", "gas"])
async def test_abnormal_pressure_customers_and_share(service: httpx.AsyncClient, utility: str) -> None:
    low, high = {"water": (0.14, 0.45), "gas": (0.0015, 0.0030)}[utility]
    answer = (await service.get("/api/v1/analytics/supply-quality/pressure",
                                params={**SPAN, "utility": utility})).json()
    abnormal = []
    for m in PICKED[utility]:
        vs = [value(m, "pressure", at) for at in HOURS]
        bad = [not low <= v <= high for v in vs if v is not None]
        alarms = sum(1 for i, b in enumerate(bad) if b and (i == 0 or not bad[i - 1]))
        row = next(r for r in answer["rows"] if r["customer_id"] == cid(m))
        assert row["abnormal_values"] == sum(bad) and row["alarms"] == alarms
        if (sum(bad) / len(bad) >= 0.05) if utility == "water" else alarms >= 1.0:
            abnormal.append(cid(m))
    assert answer["summary"]["abnormal_customers"] == abnormal == [cid(PICKED[utility][0])]  # the injected one
    assert answer["summary"]["abnormal_share"] == pytest.approx(1 / 3)


async def test_heat_balance_at_an_instant_and_deviation(service: httpx.AsyncClient) -> None:
    answer = (await service.get("/api/v1/analytics/supply-quality/heat/balance", params={
        "at": BALANCE_AT.isoformat(), "nodes": ["SQ-ST1", "SQ-ST2"]})).json()
    st1, st2 = answer["nodes"]
    flows = {mp(m): value(m, "flow.rate", BALANCE_AT) for m in HEAT_ST1}
    mean = sum(flows.values()) / len(flows)  # type: ignore[arg-type]
    assert st1["status"] == "complete"
    assert st1["total_flow"] == pytest.approx(sum(flows.values()))  # type: ignore[arg-type]
    ratios = {r["metering_point_id"]: r["ratio"] for r in st1["rows"]}
    assert ratios == pytest.approx({k: v / mean for k, v in flows.items()})  # type: ignore[operator]
    assert st1["imbalanced"] == [k for k in sorted(flows) if abs(flows[k] / mean - 1) > 0.15]  # type: ignore[operator]
    delta = [value(m, "temperature.supply", BALANCE_AT) - value(m, "temperature.return", BALANCE_AT)  # type: ignore[operator]
             for m in HEAT_ST1]
    assert st1["mean_delta_t"] == pytest.approx(sum(delta) / len(delta))
    # the lone meter of the other station has no values: no balance, the meter named
    assert st2["status"] == "incomplete" and st2["lacking"] == [mp(HEAT_LONE)] and st2["total_flow"] is None
    deviation = (await service.get("/api/v1/analytics/supply-quality/heat/deviation", params={
        **SPAN, "system": "constant_pressure", "nodes": "SQ-ST1"})).json()["nodes"][0]
    over = []
    for m in HEAT_ST1:
        vs = [value(m, "pressure", at) for at in HOURS]
        avg = sum(vs) / len(vs)  # type: ignore[arg-type]
        dev = max(abs(v - avg) for v in vs) / avg  # type: ignore[operator]
        row = next(r for r in deviation["rows"] if r["metering_point_id"] == mp(m))
        assert row["deviation"] == pytest.approx(dev)
        if dev > 0.10:
            over.append(mp(m))
    assert deviation["over"] == over == [mp(HEAT_ST1[0])]  # the injected night drop
    flow = (await service.get("/api/v1/analytics/supply-quality/heat/deviation", params={
        **SPAN, "system": "constant_flow", "nodes": "SQ-ST1"})).json()["nodes"][0]
    for m in HEAT_ST1:
        vs = [value(m, "flow.rate", at) for at in HOURS]
        avg = sum(vs) / len(vs)  # type: ignore[arg-type]
        row = next(r for r in flow["rows"] if r["metering_point_id"] == mp(m))
        assert row["deviation"] == pytest.approx(max(abs(v - avg) for v in vs) / avg if avg else None)  # type: ignore[operator]


async def test_bad_input_is_4xx_with_the_reason(service: httpx.AsyncClient) -> None:
    base = "/api/v1/analytics/supply-quality"
    unknown = await service.get(f"{base}/voltage", params={**SPAN, "regions": "NOWHERE"})
    assert unknown.status_code == 404 and "NOWHERE" in unknown.json()["detail"]
    level = await service.get(f"{base}/voltage", params={**SPAN, "levels": "99kV"})
    assert level.status_code == 404 and "99kV" in level.json()["detail"]
    inverted = await service.get(f"{base}/power-factor", params={**SPAN, "from": NEXT.isoformat(),
                                                                  "to": DAY.isoformat()})
    assert inverted.status_code == 422 and "inverted" in inverted.json()["detail"]
    assert (await service.get(f"{base}/pressure", params={**SPAN, "utility": "steam"})).status_code == 422
    assert (await service.put(f"{base}/limits/voltage-levels/NOLEVEL/points",
                              json={"metering_points": [mp(ELEC[0])]})).status_code == 404
    assert (await service.put(f"{base}/limits/voltage-levels/0.22kV/points",
                              json={"metering_points": ["MP-NONE"]})).status_code == 404
    assert (await service.put(f"{base}/limits/voltage-levels/0.22kV/points",
                              json={"metering_points": ["MP\u0000X"]})).status_code == 422
    bad = await service.put(f"{base}/limits/pressure/water", json={"min_mpa": 0.5, "max_mpa": 0.1})
    assert bad.status_code == 422
    limits = (await service.get(f"{base}/limits")).json()
    assert {lv["level"] for lv in limits["voltage_levels"]} >= {"0.22kV", "0.38kV", "10kV"}
    assert math.isclose(limits["power_factor_default"]["min"], 0.9)


# --- the Grafana dashboard: every SQL panel as the reporting role, figures equal to the API's ---------------

@pytest.fixture(scope="module")
async def reader(service: httpx.AsyncClient, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as a login role in emms_reporting only (as Grafana's is)."""
    admin = await asyncpg.connect(database_url)
    name = f"grafana_sq_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"CREATE ROLE {name} LOGIN IN ROLE emms_reporting")
    parts = urlsplit(database_url)
    conn = await asyncpg.connect(urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port or 5432}")))
    yield conn
    await conn.close()
    await admin.execute(f"DROP OWNED BY {name}")
    await admin.execute(f"DROP ROLE {name}")
    await admin.close()


async def _panels(reader: asyncpg.Connection, storage_mode: str) -> dict[str, list[asyncpg.Record]]:
    board = json.loads(BOARD.read_text())
    values = {"company": ["CO-SQ"], "region": ["R-SQ"], "utility": ["electricity", "water", "gas", "heat"]}
    out = {}
    for panel in panels(board):
        (target,) = panel["targets"]
        sql = expand_macros(interpolate(target["rawSql"], values), DAY, NEXT - timedelta(milliseconds=1),
                            timescaledb_flag() and storage_mode == "timescaledb")
        assert "$" not in sql, sql
        out[panel["title"]] = await reader.fetch(sql)
    return out


async def test_dashboard_panels_as_the_reporting_role_equal_the_api(
        service: httpx.AsyncClient, reader: asyncpg.Connection, storage_mode: str) -> None:
    got = await _panels(reader, storage_mode)
    assert len(got) == 10 and all(got.values()), {k: len(v) for k, v in got.items()}
    base = "/api/v1/analytics/supply-quality"
    voltage = (await service.get(f"{base}/voltage", params=SPAN)).json()
    api_points = {p["metering_point_id"]: (p["curves"]["values"], p["curves"]["within"]) for p in voltage["points"]}
    rows = got["Points by voltage qualification (worst first)"]
    assert {r["metering_point_id"]: (r["values"], r["within"]) for r in rows} == api_points
    pf = (await service.get(f"{base}/power-factor", params=SPAN)).json()
    rows = got["Power factor per customer against its limits"]
    assert {r["customer_id"]: (pytest.approx(r["average"]), r["min"], r["max"], r["outside"]) for r in rows} == {
        r["customer_id"]: (r["average"], r["min"]["value"], r["max"]["value"], r["outside"]) for r in pf["rows"]}
    harmonics = (await service.get(f"{base}/harmonics", params=SPAN)).json()
    rows = got["Harmonic violations (voltage: THD 5 %, odd 4 %, even 2 %)"]
    assert {(r["metering_point_id"], r["phase"], r["order_of"]) for r in rows} == {
        (r["metering_point_id"], r["phase"], v["of"]) for r in harmonics["rows"] for v in r["violations"]}
    rows = got["Pressure per customer: abnormal share"]
    for utility in ("water", "gas"):
        api = (await service.get(f"{base}/pressure", params={**SPAN, "utility": utility})).json()
        assert {r["customer_id"]: r["abnormal"] for r in rows if r["utility"] == utility} == {
            r["customer_id"]: r["abnormal_values"] for r in api["rows"]}
    flow = (await service.get(f"{base}/heat/deviation", params={
        **SPAN, "system": "constant_flow", "nodes": "SQ-ST1"})).json()["nodes"][0]["rows"]
    rows = got["Heat: flow deviation per meter (constant-flow systems)"]
    assert {r["metering_point_id"]: pytest.approx(r["flow_deviation"]) for r in rows} == {
        r["metering_point_id"]: r["deviation"] for r in flow}
