"""Heat analyses against an independent computation from the simulator's truth (R-4.5.3.4).

The archive (in process, real database and broker) gets heat master data through its import API —
stations, a community, buildings, units, floors, customers placed on them with their heated area,
stopped customers of the season — and the heat meters' validated readings (the simulator's truth at
local midnights, stored by the archive's own writer), for a period and the same period a year before.
The analytics service with the heat routes answers totals by building / station / floor, heating
figures of the season and counts by interval; the test computes each figure from ``GroundTruth``
and its own placement table, not from the service's tables.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from service_harness import in_process

from emms_analytics.app import SPEC
from emms_analytics.settings import AnalyticsSettings
from emms_archive.app import create_app as create_archive
from emms_archive.readings.validated import store_rows
from emms_archive.settings import ArchiveSettings
from emms_bus import KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_runtime import create_service_app
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.truth import GroundTruth

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ8 = timedelta(hours=8)
START = datetime(2026, 11, 20, tzinfo=UTC) - TZ8  # local midnights (UTC+8)
END = START + timedelta(days=3)
BEFORE = (START.replace(year=2025), END.replace(year=2025))
SEASON = "2026-2027"
ADMIN = {"Authorization": f"Bearer {issue_token(AuthSettings(), 'admin-1', 'admin')}"}
# node → (kind, parent); the customers are spread over the floors / units / buildings below
NODES = {"ST1": ("heat_exchange_station", None), "ST2": ("heat_exchange_station", None),
         "A1": ("area", "ST1"), "B1": ("building", "A1"), "B2": ("building", "A1"), "B3": ("building", "ST2"),
         "U1": ("unit", "B1"), "U2": ("unit", "B2"), "F1": ("floor", "U1"), "F2": ("floor", "U1"),
         "F3": ("floor", "U2")}
PLACES = ["F1", "F2", "F3", "B3", "U1", "F1", "F2", "B3", "F3", "U2", "F1", "B3"]


def _ancestors(node: str | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {"floor": None, "unit": None, "building": None, "community": None, "station": None}
    kinds = {"floor": "floor", "unit": "unit", "building": "building", "area": "community",
             "heat_exchange_station": "station"}
    while node is not None:
        kind, parent = NODES[node]
        out[kinds[kind]] = out[kinds[kind]] or node
        node = parent
    return out


@pytest.fixture(scope="module")
async def services(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[tuple[Any, Any, Any]]:
    archive_settings = ArchiveSettings(database=DatabaseSettings(url=database_url), kafka=kafka_settings,
                                       environment="test", shutdown_grace_s=5.0)
    settings = AnalyticsSettings(_env_file=None, environment="test", instance_id=f"heat-{secrets.token_hex(2)}",
                                 database=DatabaseSettings(url=database_url), kafka=kafka_settings,
                                 shutdown_grace_s=5.0)
    archive_app = create_archive(archive_settings)
    async with archive_app.router.lifespan_context(archive_app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=archive_app), base_url="http://archive", headers=ADMIN) as archive, \
            in_process(create_service_app(settings, SPEC), "http://analytics") as (_, _, analytics):
        yield archive_app, archive, analytics


def _fleet() -> tuple[GroundTruth, list[Any]]:
    truth = GroundTruth(FleetConfig(seed=5, concentrators=1, meters_per=12, mix=(("heat", 1.0),),
                                    rates=FieldRates.quiet()))
    meters = [m for m in truth.fleet.meters_of(0) if m.utility == "heat"
              and all(m.present(t.timestamp()) for t in (START, END, *BEFORE))][:len(PLACES)]
    return truth, meters


async def _master_data(archive: httpx.AsyncClient, meters: list[Any]) -> dict[str, dict[str, Any]]:
    ids = {m.meter_id: f"H-{i}" for i, m in enumerate(meters)}
    customers = {ids[m.meter_id]: {"node": PLACES[i], "area": 60.0 + 7.5 * i, "meter": m.meter_id,
                                   "stopped": i % 4 == 3} for i, m in enumerate(meters)}
    steps: list[tuple[str, list[dict[str, Any]]]] = [
        ("companies", [{"id": "CO-H", "name": "Heat company", "utilities": ["heat"]}]),
        ("regions", [{"id": "R-H", "name": "City", "level": 1},
                     {"id": "R-H-1", "name": "District", "parent_id": "R-H", "level": 2}]),
        ("service-areas", [{"company_id": "CO-H", "region_id": "R-H", "utility": "heat"}]),
        ("network-nodes", [{"id": n, "utility": "heat", "kind": kind, "name": f"node {n}", "parent_id": parent,
                            "company_id": "CO-H", "region_id": "R-H-1"} for n, (kind, parent) in NODES.items()]),
        ("terminals", [{"id": "T-H", "kind": "concentrator", "address": "37010063", "company_id": "CO-H",
                        "region_id": "R-H-1"}]),
        ("customer-meters", [{"customer_id": ids[m.meter_id], "customer_name": f"Household {i}", "utility": "heat",
                              "category": "h_residential", "company_id": "CO-H", "region_id": "R-H-1",
                              "metering_point_id": f"MP-{ids[m.meter_id]}", "terminal_id": "T-H", "pn": m.pn,
                              "meter_id": m.meter_id, "protocol": "cjt188-2004", "meter_address": m.address(0),
                              "installed_at": "2020-01-01T00:00:00Z"} for i, m in enumerate(meters)]),
        ("customers", [{"id": cid, "name": f"Household {i}", "utility": "heat", "category": "h_residential",
                        "company_id": "CO-H", "region_id": "R-H-1", "node_id": c["node"],
                        "heated_area_m2": c["area"]} for i, (cid, c) in enumerate(customers.items())]),
        ("heating-seasons", [{"customer_id": cid, "season": SEASON, "heating": not c["stopped"]}
                             for cid, c in customers.items()]),
    ]
    for kind, rows in steps:
        resp = await archive.post(f"/api/v1/import/{kind}", json=rows)
        assert resp.status_code == 200, (kind, resp.text)
    return customers


async def _readings(archive_app: Any, truth: GroundTruth, meters: list[Any]) -> None:
    """Daily validated readings of every heat meter from the truth, stored by the archive's writer."""
    rows = []
    now = datetime.now(UTC)
    for start, end in ((START, END), BEFORE):
        t = start
        while t <= end:
            for m in meters:
                reading = truth.reading(m.meter_id, t) or {}
                for item, unit in (("heat.energy", "kWh"), ("volume.heat", "m³"), ("temperature.supply", "°C"),
                                   ("heat.power", "kW")):
                    if reading.get(item) is not None:
                        rows.append((m.meter_id, item, t, now, "valid", reading[item], unit, "", "scheduled", []))
            t += timedelta(hours=12)
    archive = archive_app.state.runtime.state
    await archive.partitions.ensure([r[2] for r in rows])
    async with archive.pool.acquire() as conn, conn.transaction():
        await store_rows(conn, rows)


def _expected_heat(truth: GroundTruth, meter: str, start: datetime, end: datetime, item: str) -> float:
    a, z = truth.truth(meter, item, start), truth.truth(meter, item, end)
    assert a is not None and z is not None
    return z - a


async def test_heat_figures_equal_the_truth(services: tuple[Any, httpx.AsyncClient, httpx.AsyncClient]) -> None:
    archive_app, archive, analytics = services
    truth, meters = _fleet()
    assert len(meters) >= 6
    customers = await _master_data(archive, meters)
    await _readings(archive_app, truth, meters)
    span = {"from": START.isoformat(), "to": END.isoformat()}

    # cumulative heat and flow by building, with the same period a year before
    expected: dict[str | None, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for c in customers.values():
        key = _ancestors(c["node"])["building"]
        expected[key][0] += _expected_heat(truth, c["meter"], START, END, "heat.energy")
        expected[key][1] += _expected_heat(truth, c["meter"], START, END, "volume.heat")
        expected[key][2] += _expected_heat(truth, c["meter"], *BEFORE, "heat.energy")
    resp = await analytics.get("/api/v1/analytics/heat/totals", params={**span, "by": "building", "compare": True})
    assert resp.status_code == 200, resp.text
    got = {r["key"]: r for r in resp.json()["rows"]}
    assert set(got) == set(expected)
    for key, (heat, flow, before) in expected.items():
        assert got[key]["heat_kwh"] == pytest.approx(heat, abs=0.011)
        assert got[key]["flow_m3"] == pytest.approx(flow, abs=0.011)
        assert got[key]["previous_heat_kwh"] == pytest.approx(before, abs=0.011)

    # by station and by floor: every customer counted once, unplaced ones under null
    for level in ("station", "floor", "community", "customer"):
        rows = (await analytics.get("/api/v1/analytics/heat/totals", params={**span, "by": level})).json()["rows"]
        assert sum(r["customers"] for r in rows) == len(customers)
        want: dict[str | None, int] = defaultdict(int)
        for cid, c in customers.items():
            want[cid if level == "customer" else _ancestors(c["node"])[level]] += 1
        assert {r["key"]: r["customers"] for r in rows} == want

    # heated / stopped households and area, heat per m² of the heated area, per station
    resp = await analytics.get("/api/v1/analytics/heat/heating", params={**span, "season": SEASON, "by": "station"})
    assert resp.status_code == 200, resp.text
    for row in resp.json()["rows"]:
        mine = [c for c in customers.values() if _ancestors(c["node"])["station"] == row["key"]]
        heated = [c for c in mine if not c["stopped"]]
        area = sum(c["area"] for c in heated)
        stopped_area = sum(c["area"] for c in mine if c["stopped"])
        assert (row["households"], row["stopped_households"]) == (len(mine), len(mine) - len(heated))
        assert row["heated_area_m2"] == pytest.approx(area) and row["stopped_area_m2"] == pytest.approx(stopped_area)
        assert row["stop_rate_area"] == pytest.approx(stopped_area / (area + stopped_area), abs=1e-4)
        heat = sum(_expected_heat(truth, c["meter"], START, END, "heat.energy") for c in heated)
        assert row["heat_per_m2_kwh"] == (pytest.approx(heat / area, abs=1e-3) if area else None)

    # customer counts by interval of heat and of supply temperature
    heats = sorted(_expected_heat(truth, c["meter"], START, END, "heat.energy") for c in customers.values())
    edge = (heats[len(heats) // 2 - 1] + heats[len(heats) // 2]) / 2
    resp = await analytics.get("/api/v1/analytics/heat/distribution", params={**span, "of": "heat", "edges": [edge]})
    assert [i["customers"] for i in resp.json()["intervals"]] == [
        sum(1 for h in heats if h < edge), sum(1 for h in heats if h >= edge)]
    temps = []
    for c in customers.values():
        values = [truth.truth(c["meter"], "temperature.supply", START + timedelta(hours=12 * k)) for k in range(7)]
        temps.append(sum(v for v in values if v is not None) / len([v for v in values if v is not None]))
    cut = sorted(temps)[len(temps) // 2] + 1e-6
    resp = await analytics.get("/api/v1/analytics/heat/distribution",
                               params={**span, "of": "supply_temperature", "edges": [cut]})
    assert [i["customers"] for i in resp.json()["intervals"]] == [
        sum(1 for t in temps if t < cut), sum(1 for t in temps if t >= cut)]

    # bad input: unknown region → 404 naming it; inverted period, bad season, unsorted edges → 422
    resp = await analytics.get("/api/v1/analytics/heat/totals", params={**span, "regions": ["R-NOPE"]})
    assert resp.status_code == 404 and "R-NOPE" in resp.text
    assert (await analytics.get("/api/v1/analytics/heat/totals",
                                params={"from": END.isoformat(), "to": START.isoformat()})).status_code == 422
    assert (await analytics.get("/api/v1/analytics/heat/heating",
                                params={**span, "season": "2026-2028"})).status_code == 422
    for edges in ([5, 1], [1, "inf"]):
        assert (await analytics.get("/api/v1/analytics/heat/distribution",
                                    params={**span, "edges": edges})).status_code == 422
