"""Every SQL panel of the analytics dashboards runs as Grafana's role on both storage modes (issue 16 item 9).

A small fleet of the four utilities (daily registers for two local months, TOU registers, 15-minute
load curves with phase currents, heat meters' supply temperature and thermal power, pipe pressure)
goes through the analytics service from the bus. Then each query of
``deploy/grafana/dashboards/analytics/*.json`` — template variables substituted as Grafana's frontend
does for SQL datasources, macros expanded as Grafana's PostgreSQL datasource does — is executed as a
login role that is a member of ``emms_reporting`` only; each returns rows, and panel figures are
compared with the service's own answers (/usage, /electricity/load, /quality/nodes) and with the
test's truth.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import yaml
from service_harness import FreshBearer, area_topics
from test_analytics_rollups import change, close, days, eventually, midnight, publish, reading

from emms_analytics.keycustomers import chosen
from emms_bus import BusProducer, KafkaSettings
from emms_messages.readings import ValidatedReading

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
OPERATOR = FreshBearer("op-dashboards", "operator")
REPO = Path(__file__).resolve().parents[3]
BOARDS = sorted(p for p in (REPO / "deploy" / "grafana" / "dashboards" / "analytics").glob("*.json")
                if p.stem != "supply_quality")  # its own test: test_analytics_supply_quality.py
DATASOURCE = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "postgres.yaml"
FIRST, LAST = date(2026, 1, 1), date(2026, 3, 1)
CURVE_DAYS = (date(2026, 2, 10), date(2026, 2, 11))
# metering point → (utility, category, region, node of the point, node of the customer, meter, multiplier, base)
POINTS = {
    "GE1": ("electricity", "e_large_industry", "GR1", "GT1", None, "GM1", 2.0, 40),
    "GE2": ("electricity", "e_lv_single_phase", "GR2", "GT1", None, "GM2", 1.0, 9),
    "GW1": ("water", "w_commercial_industrial", "GR1", "GWN", None, "GMW", 1.0, 2),
    "GG1": ("gas", "g_residential", "GR2", "GGN", None, "GMG", 1.0, 3),
    "GH1": ("heat", "h_residential", "GR1", None, "GHX-A-B1", "GMH1", 1.0, 50),
    "GH2": ("heat", "h_residential", "GR2", None, "GHX-A-B2", "GMH2", 1.0, 70),
}
AREA = {"GH1": 80.0, "GH2": 100.0}  # heated m² of the heat customers; GH2-C stopped heating in 2025-2026
MAIN = {"electricity": "energy.active.import.total", "water": "water.volume", "gas": "gas.volume",
        "heat": "heat.energy"}
TOU = {"t1": 0.4, "t2": 0.3, "t3": 0.2, "t4": 0.1}
NODES = [("GL1", "line", "electricity", None), ("GT1", "transformer", "electricity", "GL1"),
         ("GWN", "pipe_network", "water", None), ("GGN", "pipe_network", "gas", None),
         ("GHX", "heat_exchange_station", "heat", None), ("GHX-A", "area", "heat", "GHX"),
         ("GHX-A-B1", "building", "heat", "GHX-A"), ("GHX-A-B2", "building", "heat", "GHX-A")]


def used(point: str, d: date) -> float:
    """The truth: register units ``point``'s meter counted on local day ``d``."""
    return float(POINTS[point][7] + d.toordinal() % 7)


def register(point: str, d: date) -> float:
    return 500.0 + sum(used(point, x) for x in days(FIRST, d))


def truth(point: str, start: date, end: date) -> float:
    return sum(used(point, d) for d in days(start, end)) * POINTS[point][6]


def quarter_hours(d: date) -> list[datetime]:
    return [midnight(d) + timedelta(minutes=15 * i) for i in range(96)]


def power(t: datetime, scale: float) -> float:
    hour = (t.hour + 8) % 24  # local hour
    return scale * (1.0 + (0.8 if 8 <= hour < 22 else 0.0) + t.minute / 600)


def curve(meter: str, item: str, t: datetime, value: float) -> ValidatedReading:
    r = reading(meter, item, FIRST, value)
    return r.model_copy(update={"data_time": t, "unit": ""})


def readings() -> list[ValidatedReading]:
    out = []
    for point, (utility, *_, meter, _mult, _base) in POINTS.items():
        for d in days(FIRST, LAST + timedelta(days=1)):
            value = register(point, d)
            out.append(reading(meter, MAIN[utility], d, value))
            if point == "GE1":
                out += [reading(meter, f"energy.active.import.{t}", d, value * s) for t, s in TOU.items()]
    for d in CURVE_DAYS:
        for t in quarter_hours(d):
            out.append(curve("GM1", "power.active.total", t, power(t, 100.0)))
            out.append(curve("GM2", "power.active.total", t, power(t, 3.0)))
            out += [curve("GM1", f"current.{p}", t, power(t, 10.0) * f) for p, f in (("a", 1.0), ("b", 0.9),
                                                                                      ("c", 0.8 + t.hour / 100))]
        for t in quarter_hours(d)[::4]:
            out += [curve("GMH1", "temperature.supply", t, 55.0 + t.hour / 4), curve("GMH2", "temperature.supply", t,
                                                                                    62.0 - t.hour / 5),
                    curve("GMH1", "heat.power", t, 8.0 + t.hour / 3), curve("GMH2", "heat.power", t, 12.5),
                    curve("GMW", "pressure", t, 0.30 + t.hour / 1000), curve("GMG", "pressure", t, 0.02)]
    return out


def masterdata() -> list[Any]:
    out = [change("company", "GCO", {"id": "GCO", "name": "Grafana test utility"}),
           change("region", "GR", {"id": "GR", "name": "Province", "parent_id": None}),
           change("region", "GR1", {"id": "GR1", "name": "North", "parent_id": "GR"}),
           change("region", "GR2", {"id": "GR2", "name": "South", "parent_id": "GR"})]
    out += [change("network_node", n, {"id": n, "name": n, "kind": kind, "utility": utility, "parent_id": parent,
                                       "company_id": "GCO", "region_id": "GR"}) for n, kind, utility, parent in NODES]
    for point, (utility, category, region, node, customer_node, meter, mult, _) in POINTS.items():
        cid = f"{point}-C"
        out += [change("customer", cid, {"id": cid, "name": f"Person {point}", "party_id": f"{point}-P",
                                         "utility": utility, "category": category, "industry": None,
                                         "company_id": "GCO", "region_id": region, "node_id": customer_node,
                                         "heated_area_m2": AREA.get(point)}),
                change("metering_point", point, {"id": point, "customer_id": cid, "utility": utility,
                                                 "node_id": node}),
                change("meter", meter, {"id": meter, "utility": utility, "multiplier": mult, "register_digits": 9}),
                change("meter_installation", point, {"metering_point_id": point, "meter_id": meter,
                                                     "valid_from": midnight(date(2025, 12, 1)).isoformat(),
                                                     "customer_id": cid, "utility": utility})]
    out += [change("heating_season", "GH2-C/2025-2026", {"customer_id": "GH2-C", "season": "2025-2026",
                                                         "heating": False}),
            change("heating_season", "GH1-C/2024-2025", {"customer_id": "GH1-C", "season": "2024-2025",
                                                         "heating": False})]  # another season: no effect
    return out


@pytest.fixture(scope="module")
def rollup_kafka(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this module's own (the rollup tests' analytics instance committed offsets on theirs)."""
    return area_topics(kafka_settings, "dashboards")


SPAN = {"from": midnight(FIRST).isoformat(), "to": midnight(LAST).isoformat(), "companies": "GCO"}


@pytest.fixture(scope="module")
async def fleet(analytics: tuple[Any, httpx.AsyncClient], producer: BusProducer) -> httpx.AsyncClient:
    ar, client = analytics
    await producer.publish_many(masterdata(), topic="emms.masterdata.change.v1")
    await publish(producer, readings(), "dashboards")
    expected = {(point, "2026-02"): truth(point, date(2026, 2, 1), LAST) for point in POINTS}

    async def arrived() -> bool:
        resp = await client.get("/api/v1/analytics/usage", params={
            **SPAN, "interval": "month", "group_by": "metering_point"})
        got = {(r["key"], r["bucket"][:7]): r["usage"] for r in resp.json()["rows"]} if resp.status_code == 200 else {}
        if not all(close(got.get(k), v) for k, v in expected.items()):
            return False
        # the customer and region rollups (on TimescaleDB the refresher writes them after the aggregates)
        resp = await client.get("/api/v1/analytics/usage", params={
            **SPAN, "interval": "month", "group_by": "customer"})
        got = {(r["key"], r["bucket"][:7]): r["usage"] for r in resp.json()["rows"]} if resp.status_code == 200 else {}
        if not all(close(got.get((f"{p}-C", m)), v) for (p, m), v in expected.items()):
            return False
        load = await client.get("/api/v1/analytics/electricity/load/GE1", params=SPAN)
        return load.status_code == 200 and load.json()["points"] == 2 * 96
    await eventually(arrived, timeout_s=180.0)  # a deadline for a loaded machine, not a wait
    marked = await client.post("/api/v1/analytics/key-customers", json={"customer_id": "GE1-C",
                                                                        "reason": "largest load"}, headers=OPERATOR)
    assert marked.status_code == 201, marked.text  # the hand choice, through the key-customer route
    rule = await client.put("/api/v1/analytics/key-customers/rules/grafana-top", headers=OPERATOR, json={
        "utility": "electricity", "top_n": 3, "period_days": 28, "companies": ["GCO"]})
    assert rule.status_code == 201, rule.text  # chosen by rule: evaluated over February for the view
    assert await chosen.refresh(ar, midnight(LAST), rule_id="grafana-top") > 0
    return client


@pytest.fixture(scope="module")
async def reader(fleet: httpx.AsyncClient, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as a login role in emms_reporting only (as Grafana's emms_grafana is)."""
    admin = await asyncpg.connect(database_url)
    name = f"grafana_dash_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"CREATE ROLE {name} LOGIN IN ROLE emms_reporting")
    parts = urlsplit(database_url)
    conn = await asyncpg.connect(urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port or 5432}")))
    yield conn
    await conn.close()
    await admin.execute(f"DROP OWNED BY {name}")
    await admin.execute(f"DROP ROLE {name}")
    await admin.close()


# --- Grafana's interpolation ------------------------------------------------------------------------

START = midnight(FIRST)
END = midnight(LAST) - timedelta(milliseconds=1)  # an absolute range up to 2026-02-28 23:59:59.999 local
_MACRO = re.compile(r"\$(__\w+)\(([^)]*)\)")


def rfc3339nano(t: datetime) -> str:
    """Go's time.RFC3339Nano of a UTC instant (trailing zeros of the fraction dropped)."""
    t = t.astimezone(UTC)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def seconds(interval: str) -> int:
    n, unit = int(interval[:-1]), interval[-1]
    return n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def expand_macros(sql: str, start: datetime, end: datetime, timescaledb: bool) -> str:
    """The macros of Grafana's PostgreSQL datasource (pkg/tsdb/grafana-postgresql-datasource/macros.go)."""
    def one(m: re.Match[str]) -> str:
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{rfc3339nano(start)}' AND '{rfc3339nano(end)}'"
        if name == "__timeFrom":
            return f"'{rfc3339nano(start)}'"
        if name == "__timeTo":
            return f"'{rfc3339nano(end)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            s = seconds(args[1].strip("'\""))
            group = (f"time_bucket('{s}s',{args[0]})" if timescaledb
                     else f"floor(extract(epoch from {args[0]})/{s})*{s}")
            return group + (' AS "time"' if name == "__timeGroupAlias" else "")
        raise AssertionError(f"macro ${name} is not expanded by this test")
    return _MACRO.sub(one, sql)


def interpolate(sql: str, values: dict[str, list[str]]) -> str:
    """Multi-value variables of a SQL datasource: each value quoted as a literal, joined by commas."""
    def one(m: re.Match[str]) -> str:
        return ",".join("'" + v.replace("'", "''") + "'" for v in values[m.group(1) or m.group(2)])
    names = "|".join(values)
    return re.sub(rf"\$\{{({names})\}}|\$({names})\b", one, sql)


def timescaledb_flag() -> bool:
    (ds,) = yaml.safe_load(DATASOURCE.read_text())["datasources"]
    return bool(ds["jsonData"].get("timescaledb"))


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if any("rawSql" in t for t in p.get("targets", []))]


async def run_board(reader: asyncpg.Connection, board: dict[str, Any], storage_mode: str,
                    ) -> dict[str, list[asyncpg.Record]]:
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"company", "region", "utility"}
    for name in ("company", "region"):  # the variables' own queries run as the role and offer the fleet's ids
        offered = {r["__value"] for r in await reader.fetch(variables[name]["query"])}
        assert {"company": "GCO", "region": "GR"}[name] in offered
    values = {"company": ["GCO"], "region": ["GR"], "utility": variables["utility"]["query"].split(",")}
    ts = timescaledb_flag() and storage_mode == "timescaledb"
    out = {}
    for panel in panels(board):
        (target,) = panel["targets"]
        sql = expand_macros(interpolate(target["rawSql"], values), START, END, ts)
        assert "$" not in sql, sql
        try:
            out[panel["title"]] = await reader.fetch(sql)
        except asyncpg.PostgresError as e:
            raise AssertionError(f"{board['title']}: {panel['title']}: {e}\n{sql}") from e
    return out


@pytest.fixture(scope="module")
async def results(reader: asyncpg.Connection, storage_mode: str) -> dict[str, dict[str, list[asyncpg.Record]]]:
    return {p.stem: await run_board(reader, json.loads(p.read_text()), storage_mode) for p in BOARDS}


def test_one_dashboard_per_family() -> None:
    assert {p.stem for p in BOARDS} == {"electricity", "water", "gas", "heat", "combined", "key_customers"}


async def test_every_sql_panel_returns_rows_as_the_reporting_role(
        results: dict[str, dict[str, list[asyncpg.Record]]]) -> None:
    counted = 0
    for board, by_panel in results.items():
        for title, rows in by_panel.items():
            assert rows, f"{board}: {title} returned no rows"
            counted += 1
    assert counted >= 40


async def usage(client: httpx.AsyncClient, **params: Any) -> dict[tuple[str, str], float]:
    resp = await client.get("/api/v1/analytics/usage", params={**SPAN, **params})
    assert resp.status_code == 200, resp.text
    return {(r["bucket"][:7], r["key"]): r["usage"] for r in resp.json()["rows"]}


async def test_figures_equal_the_service_answers(results: dict[str, dict[str, list[asyncpg.Record]]],
                                                 fleet: httpx.AsyncClient) -> None:
    e = results["electricity"]
    by_region = {(r["time"].astimezone(UTC).isoformat(), r["region_id"]): r["usage"]
                 for r in e["Energy per month by region"]}
    api = await fleet.get("/api/v1/analytics/usage", params={**SPAN, "interval": "month", "group_by": "region",
                                                            "utilities": "electricity"})
    assert api.status_code == 200, api.text
    rows = api.json()["rows"]
    assert len(rows) == 4  # two months × two regions
    for r in rows:
        key = (datetime.fromisoformat(r["bucket"]).astimezone(UTC).isoformat(), r["key"])
        assert close(by_region[key], r["usage"]), key
    assert close(by_region[(midnight(date(2026, 2, 1)).isoformat(), "GR1")], truth("GE1", date(2026, 2, 1), LAST))

    tou = e["Peak / valley split per month (TOU registers t1…t4)"]
    assert close(sum(r["t1"] for r in tou), truth("GE1", FIRST, LAST) * TOU["t1"])

    water = {r["category"]: r["this_period"]
             for r in results["water"]["By category: this period and the same period a year before"]}
    api_w = await usage(fleet, interval="period", group_by="category", utilities="water")
    assert water.keys() == {k for _, k in api_w} and all(close(water[k], v) for (_, k), v in api_w.items())

    combined = {(r["time"].astimezone(UTC).isoformat(), r["utility"]): r["usage"]
                for r in results["combined"]["Usage per month by utility (main registers)"]}
    api_c = await fleet.get("/api/v1/analytics/usage", params={**SPAN, "interval": "month", "group_by": "utility"})
    assert api_c.status_code == 200, api_c.text
    assert len(api_c.json()["rows"]) == 8
    for r in api_c.json()["rows"]:
        key = (datetime.fromisoformat(r["bucket"]).astimezone(UTC).isoformat(), r["key"])
        assert close(combined[key], r["usage"]), key
    for point, utility in (("GG1", "gas"), ("GW1", "water"), ("GH1", "heat")):  # and the truth, month by month
        for start, end in ((FIRST, date(2026, 2, 1)), (date(2026, 2, 1), LAST)):
            expected = truth(point, start, end) + (truth("GH2", start, end) if utility == "heat" else 0.0)
            assert close(combined[(midnight(start).isoformat(), utility)], expected), (utility, start)
    gas = {r["region_id"]: r["this_period"]
           for r in results["gas"]["By region: this period and the same period a year before"]}
    assert gas.keys() == {"GR2"} and close(gas["GR2"], truth("GG1", FIRST, LAST))


async def test_load_unbalance_and_quality_equal_the_service_answers(
        results: dict[str, dict[str, list[asyncpg.Record]]], fleet: httpx.AsyncClient) -> None:
    e = results["electricity"]
    load = await fleet.get("/api/v1/analytics/electricity/load/GE1", params=SPAN)
    assert load.status_code == 200, load.text
    body = load.json()
    per_point = {r["metering_point_id"]: r for r in e["Load per metering point: maximum and minimum with their time, "
                                                     "load rate"]}
    ge1 = per_point["GE1"]
    assert close(ge1["max_kw"], body["max"]["value"]) and close(ge1["min_kw"], body["min"]["value"])
    assert ge1["max_at"] == datetime.fromisoformat(body["max"]["at"]) and close(ge1["load_rate"], body["load_rate"])
    assert close(ge1["max_kw"], 2.0 * max(power(t, 100.0) for d in CURVE_DAYS for t in quarter_hours(d)))
    (unbalance,) = e["Three-phase current unbalance (max − min) / max"]
    assert close(unbalance["worst"], body["unbalance"]["worst"]) and unbalance["instants"] == 2 * 96
    curve_rows = e["Active power, 15-minute load curve (sum of the selection)"]
    assert len(curve_rows) == 2 * 96

    quality = await fleet.get("/api/v1/analytics/quality/nodes", params={**SPAN, "nodes": "GT1"})
    assert quality.status_code == 200, quality.text
    (api_node,) = quality.json()["rows"]
    panel = {r["node_id"]: r for r in e["Collection per network node"]}
    assert panel["GT1"]["collected"] == api_node["collected"] == 2 * len(days(FIRST, LAST))
    assert panel["GL1"]["collected"] == api_node["collected"]
    assert close(panel["GT1"]["completeness"], api_node["completeness"])


async def test_heat_by_building_and_station_match_the_truth(
        results: dict[str, dict[str, list[asyncpg.Record]]], fleet: httpx.AsyncClient) -> None:
    heat = results["heat"]
    nodes = {r["node_id"]: r for r in heat["Heat per heat-exchange station, community and building"]}
    assert close(nodes["GHX-A-B1"]["usage"], truth("GH1", FIRST, LAST))
    assert close(nodes["GHX-A-B2"]["usage"], truth("GH2", FIRST, LAST))
    both = truth("GH1", FIRST, LAST) + truth("GH2", FIRST, LAST)
    assert close(nodes["GHX"]["usage"], both) and nodes["GHX"]["metering_points"] == 2
    api = await usage(fleet, interval="period", group_by="company", utilities="heat")
    assert close(api[(FIRST.isoformat()[:7], "GCO")], both)
    heating = {r["node_id"]: r for r in
               heat["Heated and stopped households and area, heat per m² (season of the range's end)"]}
    for node in ("GHX", "GHX-A"):  # GH1-C heated (80 m²), GH2-C stopped in 2025-2026 (100 m²)
        row = heating[node]
        assert (row["households"], row["heated_households"], row["stopped_households"]) == (2, 1, 1)
        assert close(row["heated_area_m2"], 80.0) and close(row["stopped_area_m2"], 100.0)
        assert close(row["stop_rate_households"], 0.5) and close(row["stop_rate_area"], 100.0 / 180.0)
        assert close(row["heat_kwh"], truth("GH1", FIRST, LAST))  # the stopped household's heat is not counted
        assert close(row["heat_per_m2_kwh"], truth("GH1", FIRST, LAST) / 80.0)
    assert heating["GHX-A-B2"]["heated_households"] == 0 and heating["GHX-A-B2"]["heat_per_m2_kwh"] is None
    temperatures = heat["Customers by supply-temperature interval"]
    assert sum(r["customers"] for r in temperatures) == 2
    by_rule = results["key_customers"]["Key customers chosen by the rules (as last evaluated), with rank and usage"]
    electricity = sorted((p for p, v in POINTS.items() if v[0] == "electricity"),
                         key=lambda p: -truth(p, date(2026, 2, 1), LAST))[:3]
    assert [(r["rule_id"], r["rank"], r["customer_id"]) for r in by_rule] == [
        ("grafana-top", k, f"{p}-C") for k, p in enumerate(electricity, start=1)]
    assert all(close(r["usage"], truth(r["customer_id"][:-2], date(2026, 2, 1), LAST)) for r in by_rule)
    keys = results["key_customers"]["Key customers: usage and estimated share in the period"]
    assert [(r["customer_id"], r["utility"]) for r in keys] == [("GE1-C", "electricity")]
    assert close(keys[0]["usage"], truth("GE1", FIRST, LAST))


async def test_the_reporting_role_reads_no_personal_data(reader: asyncpg.Connection) -> None:
    columns = {r["column_name"] for r in await reader.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'reporting'"
        " AND table_name LIKE 'analytics\\_%'")}
    assert {"customer_id", "usage", "bucket"} <= columns
    assert not {"name", "address", "party_id", "phone", "marked_by", "reason"} & columns
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.fetch("SELECT name FROM analytics.customer LIMIT 1")
