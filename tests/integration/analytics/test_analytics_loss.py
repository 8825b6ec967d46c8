"""Loss analysis against the simulated network's truth (R-4.5.6, issue 17 acceptance, the fast size).

A simulated network (20 transformer areas, 4 water and 4 gas zones, 2 heat stations; every fifth area with a
bypassed meter, a stopped meter or a meter listed under the next area, a leak in every other zone, onsets inside
the period) is loaded into the analytics service in process on the real broker and database, both storage modes:
master data as the archive publishes it (the topology of the simulator's manifest, with the wrong assignments),
then every meter's main register at each local midnight of ten days from ``GroundTruth``, as the validator
publishes it. The models are generated from the topology by the service; the test checks each area's loss against
the simulator's truth (within the registers' resolution: 0.01 per reading, × CT for a total meter), that every
injected case is flagged with its culprit meter ranked first or second, that no clean area is flagged, and the
hand-edited models, versions, completeness and bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from service_harness import area_topics, in_process
from test_analytics_dashboards import expand_macros, interpolate, panels, timescaledb_flag

from emms_analytics.app import create_app
from emms_analytics.runtime import AnalyticsRuntime
from emms_analytics.settings import AnalyticsSettings
from emms_bus import BusProducer, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus
from emms_sim.fleet import REGISTER_WIDTH, FieldRates, FleetConfig, NetworkPlan
from emms_sim.network import MAIN_ITEM, Area
from emms_sim.truth import GroundTruth

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = ZoneInfo("Asia/Shanghai")
FIRST = date(2026, 11, 20)
DAYS = 10
LINES = 4  # transformer areas 5k … 5k+4 hang on line L-k
REGISTER_DIGITS = round(math.log10(REGISTER_WIDTH))  # the simulator's registers roll over at 10**6 (XXXXXX.XX)


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


START, END = midnight(FIRST), midnight(FIRST + timedelta(days=DAYS))
CFG = FleetConfig(seed=3, concentrators=20, meters_per=30, rates=FieldRates.quiet(),
                  network=NetworkPlan(zone_terminals=5, station_terminals=10,
                                      ntl_from=(START + timedelta(days=3)).timestamp(), ntl_spread_days=3.0))
TRUTH = GroundTruth(CFG)
AREAS: list[Area] = TRUTH.model.network.areas()  # type: ignore[attr-defined]


def point(meter_id: str) -> str:
    return f"MP-{meter_id}"


def node(area: Area) -> str:
    return area.area_id


def change(entity: str, entity_id: str, data: dict[str, Any], kind: ChangeKind = ChangeKind.CREATED,
           tag: str = "", at: datetime | None = None) -> MasterDataChange:
    return MasterDataChange(change_id=f"{entity}/{entity_id}/{kind}{tag}", entity=entity, entity_id=entity_id,
                            kind=kind, changed_at=at or datetime(2026, 1, 1, tzinfo=UTC), changed_by="test",
                            data=data)


def masterdata(areas: list[Area] | None = None, lines: int = LINES) -> list[MasterDataChange]:
    areas = AREAS if areas is None else areas
    out = [change("company", "CO", {"id": "CO", "name": "Utility"}),
           change("region", "R", {"id": "R", "name": "City", "parent_id": None})]
    out += [change("region", f"R{k}", {"id": f"R{k}", "name": f"District {k}", "parent_id": "R"}) for k in (1, 2)]
    out += [change("network_node", f"L-{k}", {"id": f"L-{k}", "kind": "line", "utility": "electricity",
                                              "name": f"Line {k}", "company_id": "CO", "region_id": "R"})
            for k in range(lines)]
    for i, area in enumerate(areas):
        region = f"R{1 + i % 2}"
        parent = f"L-{area.terminals[0] // 5}" if area.kind == "transformer" else None
        out.append(change("network_node", node(area), {
            "id": node(area), "kind": area.node_kind, "utility": area.utility, "name": area.area_id,
            "parent_id": parent, "company_id": "CO", "region_id": region}))
        members = [(area.head.meter_id, "network", area.ct_ratio)] + [(m, "residential", 1.0) for m in area.listed]
        for meter_id, category, mult in members:
            cid = f"C-{meter_id}"
            out += [change("customer", cid, {"id": cid, "name": cid, "party_id": cid, "utility": area.utility,
                                             "category": category, "company_id": "CO", "region_id": region}),
                    change("metering_point", point(meter_id), {"id": point(meter_id), "customer_id": cid,
                                                               "utility": area.utility, "node_id": node(area)}),
                    change("meter", meter_id, {"id": meter_id, "utility": area.utility, "multiplier": mult,
                                               "register_digits": REGISTER_DIGITS}),
                    change("meter_installation", point(meter_id), {
                        "metering_point_id": point(meter_id), "meter_id": meter_id,
                        "valid_from": "2024-01-01T00:00:00+00:00", "customer_id": cid, "utility": area.utility})]
    # a point whose meter never reports (for a hand-made model that cannot be complete)
    out += [change("customer", "C-silent", {"id": "C-silent", "name": "silent", "party_id": "C-silent",
                                            "utility": "electricity", "category": "residential", "company_id": "CO",
                                            "region_id": "R1"}),
            change("metering_point", "MP-silent", {"id": "MP-silent", "customer_id": "C-silent",
                                                   "utility": "electricity", "node_id": None}),
            change("meter", "silent", {"id": "silent", "utility": "electricity", "multiplier": 1.0}),
            change("meter_installation", "MP-silent", {"metering_point_id": "MP-silent", "meter_id": "silent",
                                                       "valid_from": "2024-01-01T00:00:00+00:00",
                                                       "customer_id": "C-silent", "utility": "electricity"})]
    return out


def readings(truth: GroundTruth = TRUTH, areas: list[Area] | None = None) -> list[ValidatedReading]:
    out = []
    meters = {(m, a.utility) for a in (AREAS if areas is None else areas) for m in (a.head.meter_id, *a.physical)}
    for k in range(DAYS + 1):
        at = midnight(FIRST + timedelta(days=k))
        for meter_id, utility in sorted(meters):
            item = MAIN_ITEM[utility]
            value = truth.truth(meter_id, item, at)
            assert value is not None
            out.append(ValidatedReading(meter_id=meter_id, item=item, data_time=at, value=value,
                                        unit="kWh" if utility in ("electricity", "heat") else "m3",
                                        status=ValidationStatus.VALID, validated_at=at + timedelta(hours=1)))
    return out


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str | list[Any]) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
def loss_kafka(kafka_settings: KafkaSettings) -> KafkaSettings:
    return area_topics(kafka_settings, "loss")


@contextlib.asynccontextmanager
async def loaded_service(database_url: str, kafka: KafkaSettings, truth: GroundTruth, areas: list[Area], lines: int,
                         timeout_s: float = 240.0) -> AsyncIterator[tuple[httpx.AsyncClient, BusProducer]]:
    """The analytics service in process with the network's master data and readings in, every generated model
    complete (an operator's client, and the test's producer)."""
    settings = AnalyticsSettings(
        _env_file=None, environment="test", instance_id=f"loss-{secrets.token_hex(2)}",
        database=DatabaseSettings(url=database_url), kafka=kafka, shutdown_grace_s=5.0, refresh_interval_s=0.3)
    producer = BusProducer(kafka, "loss-test")
    await producer.start()
    try:
        async with in_process(create_app(settings), "http://analytics", role="admin") as (_, ar, http):
            assert isinstance(ar, AnalyticsRuntime)
            await producer.publish_many(masterdata(areas, lines), topic="emms.masterdata.change.v1")
            batch = readings(truth, areas)
            await producer.publish_many(
                [ValidatedReadingBatch(batch_id=f"loss-{i}", terminal="T", readings=batch[i:i + 400])
                 for i in range(0, len(batch), 400)], topic="emms.reading.validated.v1")
            wanted = {f"gen-{a.area_id}" for a in areas}
            span = {"from": START.isoformat(), "to": END.isoformat(), "interval": "period"}

            seen: list[Any] = []

            async def ready() -> bool:
                resp = await http.get("/api/v1/analytics/loss", params=span)
                seen[:] = [resp.status_code, resp.text[:300]]
                if resp.status_code != 200:
                    return False
                rows = {r["key"]: r for r in resp.json()["rows"]}
                seen[:] = [sorted(wanted - set(rows))[:5], [r for r in rows.values() if not r["complete"]][:3]]
                return set(rows) >= wanted and all(rows[k]["complete"] for k in wanted)

            await eventually(ready, timeout_s, ["the loss models were not generated and complete in time:", seen])
            yield http, producer
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def env(database_url: str, loss_kafka: KafkaSettings) -> AsyncIterator[tuple[httpx.AsyncClient, BusProducer]]:
    async with loaded_service(database_url, loss_kafka, TRUTH, AREAS, LINES) as pair:
        yield pair


@pytest.fixture(scope="module")
def client(env: tuple[httpx.AsyncClient, BusProducer]) -> httpx.AsyncClient:
    return env[0]


def truth(area: Area, a: datetime = START, z: datetime = END) -> dict[str, Any]:
    return TRUTH.network_loss(area.area_id, a, z)


def tolerance(area: Area) -> float:
    return 0.01 * (area.ct_ratio + len(area.listed)) + 1e-6


async def assert_period_losses_equal_the_truth(client: httpx.AsyncClient, truth: GroundTruth,
                                              areas: list[Area]) -> None:
    """Each area's loss, input and rate over the period equal the simulator's truth (also at the issue's size)."""
    resp = await client.get("/api/v1/analytics/loss", params={"from": START.isoformat(), "to": END.isoformat(),
                                                              "interval": "period"})
    assert resp.status_code == 200, resp.text
    rows = {r["key"]: r for r in resp.json()["rows"]}
    for area in areas:
        t, got = truth.network_loss(area.area_id, START, END), rows[f"gen-{area.area_id}"]
        assert got["complete"], (area.area_id, got["reason"])
        assert got["loss"] == pytest.approx(t["loss"], abs=tolerance(area)), area.area_id
        assert got["input"] == pytest.approx(t["true_input"], abs=0.01 * area.ct_ratio + 1e-6), area.area_id
        assert got["rate"] == pytest.approx(t["loss"] / t["true_input"], abs=1e-3), area.area_id


async def assert_cases_flagged_with_their_culprits(client: httpx.AsyncClient, truth: GroundTruth,
                                                   areas: list[Area]) -> set[str]:
    """Every injected case flagged with its culprit first or second, no clean area flagged; the injected areas."""
    flagged, injected = set(), set()
    for area in areas:
        t = truth.network_loss(area.area_id, START, END)
        resp = await client.get(f"/api/v1/analytics/loss/models/gen-{area.area_id}/days",
                                params={"from": START.isoformat(), "to": END.isoformat()})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if body["abnormal"]:
            flagged.add(area.area_id)
        if t["cases"]:
            injected.add(area.area_id)
            top = [r["metering_point_id"] for r in body["ranked"][:2]]
            for culprit in t["culprits"]:
                assert point(culprit) in top, (area.area_id, t["cases"], body["ranked"][:4])
    assert injected and flagged == injected  # every case flagged, no clean area flagged
    return injected


async def assert_daily_run_raises_the_abnormal(client: httpx.AsyncClient, truth: GroundTruth,
                                               areas: list[Area]) -> None:
    """The daily run of the last day covers every model and raises every transformer area beyond 7 % or negative."""
    last = FIRST + timedelta(days=DAYS - 1)
    resp = await client.post("/api/v1/analytics/loss/run", params={"day": last.isoformat()})
    assert resp.status_code == 200, resp.text
    run = resp.json()
    assert run["models"] >= len(areas) and run["complete"] >= len(areas)
    resp = await client.get("/api/v1/analytics/loss/anomalies", params={"from": last.isoformat(),
                                                                        "to": last.isoformat()})
    raised = {r["model_id"] for r in resp.json()["rows"]}
    day = midnight(last)
    above = {f"gen-{a.area_id}" for a in areas
             if (lambda t: t["loss"] > 0.07 * t["true_input"] or t["loss"] < 0)(
                 truth.network_loss(a.area_id, day, day + timedelta(days=1))) and a.kind == "transformer"}
    assert above and above <= raised


async def test_each_area_loss_equals_the_truth(client: httpx.AsyncClient) -> None:
    await assert_period_losses_equal_the_truth(client, TRUTH, AREAS)
    # per day, one area of each kind
    for area in (AREAS[0], next(a for a in AREAS if a.kind == "water"), AREAS[-1]):
        resp = await client.get(f"/api/v1/analytics/loss/models/gen-{area.area_id}/days",
                                params={"from": START.isoformat(), "to": END.isoformat()})
        for d in resp.json()["days"]:
            a = midnight(date.fromisoformat(d["day"]))
            assert d["loss"] == pytest.approx(truth(area, a, a + timedelta(days=1))["loss"], abs=tolerance(area))


async def test_every_injected_case_is_flagged_with_its_culprit_first_or_second(client: httpx.AsyncClient) -> None:
    await assert_cases_flagged_with_their_culprits(client, TRUTH, AREAS)


async def test_the_daily_run_raises_anomalies_and_metrics(client: httpx.AsyncClient) -> None:
    await assert_daily_run_raises_the_abnormal(client, TRUTH, AREAS)
    metrics = (await client.get("/metrics")).text
    assert "emms_analytics_loss_runs_total" in metrics and "emms_analytics_loss_anomalies_total" in metrics


async def test_grouped_by_line_and_region(client: httpx.AsyncClient) -> None:
    span = {"from": START.isoformat(), "to": END.isoformat(), "interval": "period"}
    by_model = {r["key"]: r for r in (await client.get("/api/v1/analytics/loss", params=span)).json()["rows"]}
    resp = await client.get("/api/v1/analytics/loss", params={**span, "group_by": "line", "utilities": "electricity"})
    lines = {r["key"]: r for r in resp.json()["rows"]}
    for k in range(LINES):
        mine = [by_model[f"gen-{a.area_id}"] for a in AREAS if a.kind == "transformer" and a.terminals[0] // 5 == k]
        assert lines[f"L-{k}"]["loss"] == pytest.approx(sum(r["loss"] for r in mine))
        assert lines[f"L-{k}"]["models"] == len(mine)
    resp = await client.get("/api/v1/analytics/loss", params={**span, "group_by": "utility", "interval": "day"})
    assert {r["key"] for r in resp.json()["rows"]} == {"electricity", "water", "gas", "heat"}


async def test_hand_made_models_versions_completeness_and_bad_input(client: httpx.AsyncClient) -> None:
    area = AREAS[1]
    members = [{"metering_point_id": point(area.head.meter_id), "side": "input", "multiplier": 1.0}] + [
        {"metering_point_id": point(m), "side": "output"} for m in area.listed]
    body = {"name": "by hand", "utility": "electricity", "model_class": "transformer", "members": members}
    resp = await client.put("/api/v1/analytics/loss/models/hand-1", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["current_version"] == 1 and resp.json()["source"] == "manual"
    span = {"from": START.isoformat(), "to": END.isoformat(), "interval": "period", "models": "hand-1"}
    row = (await client.get("/api/v1/analytics/loss", params=span)).json()["rows"][0]
    assert row["loss"] == pytest.approx(truth(area)["loss"], abs=tolerance(area))
    # a member without data: incomplete with the reason, never a number
    resp = await client.put("/api/v1/analytics/loss/models/hand-1", json={
        **body, "members": [*members, {"metering_point_id": "MP-silent", "side": "output"}]})
    assert resp.json()["current_version"] == 2 and len(resp.json()["versions"]) == 2
    resp = await client.get("/api/v1/analytics/loss/models/hand-1/days",
                            params={"from": START.isoformat(), "to": END.isoformat()})
    days = resp.json()["days"]
    assert all(not d["complete"] and d["loss"] is None and "MP-silent" in d["reason"] for d in days)
    row = (await client.get("/api/v1/analytics/loss", params=span)).json()["rows"][0]
    assert row["complete"] is False and row["loss"] is None and "MP-silent" in row["reason"]
    # bad input: overlap, unknown point, no input — 422 with the reason, nothing stored
    for wrong, reason in (([*members, {"metering_point_id": point(area.listed[0]), "side": "input"}], "both"),
                          ([*members, {"metering_point_id": "MP-nowhere", "side": "output"}], "MP-nowhere"),
                          (members[1:], "no input")):
        resp = await client.put("/api/v1/analytics/loss/models/hand-2", json={**body, "members": wrong})
        assert resp.status_code == 422 and reason in resp.json()["detail"], resp.text
    assert (await client.get("/api/v1/analytics/loss/models/hand-2")).status_code == 404
    resp = await client.get("/api/v1/analytics/loss", params={**span, "from": (START + timedelta(hours=3)).isoformat()})
    assert resp.status_code == 422 and "midnight" in resp.json()["detail"]
    assert (await client.delete("/api/v1/analytics/loss/models/gen-TA-000000")).status_code == 409
    assert (await client.delete("/api/v1/analytics/loss/models/hand-1")).status_code == 204


async def test_the_figures_summed_in_the_database_equal_those_member_by_member(client: httpx.AsyncClient) -> None:
    """The period query and the daily run sum each model's day in the database; a model's days route sums its
    members in Python (the ranking needs them). Same days, same figures, same incomplete days and reasons."""
    area = AREAS[2]
    members = [{"metering_point_id": point(area.head.meter_id), "side": "input"}] + [
        {"metering_point_id": point(m), "side": "output"} for m in area.listed]
    for version, extra in ((1, []), (2, [{"metering_point_id": "MP-silent", "side": "output"}])):
        resp = await client.put("/api/v1/analytics/loss/models/hand-sum", json={
            "name": "summed", "utility": "electricity", "model_class": "transformer", "members": members + extra})
        assert resp.status_code == 200 and resp.json()["current_version"] == version, resp.text
    ids = [f"gen-{a.area_id}" for a in AREAS] + ["hand-sum"]
    span = {"from": START.isoformat(), "to": END.isoformat()}
    resp = await client.get("/api/v1/analytics/loss", params={**span, "interval": "day", "group_by": "model",
                                                              "models": ids})
    assert resp.status_code == 200, resp.text
    summed = {(r["key"], r["bucket"]): r for r in resp.json()["rows"]}
    compared = incomplete = 0
    for mid in ids:
        days = (await client.get(f"/api/v1/analytics/loss/models/{mid}/days", params=span)).json()["days"]
        for d in days:
            row = summed[(mid, d["day"])]
            assert row["complete"] == d["complete"], (mid, d["day"])
            if d["complete"]:
                assert (row["input"], row["output"]) == pytest.approx((d["input"], d["output"]), rel=1e-9, abs=1e-9)
            else:
                incomplete += 1
                assert row["input"] is None and row["reason"] == f"{mid} {d['day']}: {d['reason']}"
            compared += 1
    assert compared == len(summed) and incomplete >= 1
    assert (await client.delete("/api/v1/analytics/loss/models/hand-sum")).status_code == 204


async def test_a_topology_change_makes_a_new_version(env: tuple[httpx.AsyncClient, BusProducer]) -> None:
    """A customer moved to another transformer: both generated models get a version (by the service's own
    topology worker, from the master-data change on the bus); the days before keep the old member sets."""
    client, producer = env
    a, b = AREAS[6], AREAS[7]
    moved = a.listed[0]
    was = {x.area_id: (await client.get(f"/api/v1/analytics/loss/models/gen-{x.area_id}")).json()["current_version"]
           for x in (a, b)}  # 1, or more when the first generation saw part of the master data
    old = (await client.get("/api/v1/analytics/loss", params={
        "from": START.isoformat(), "to": END.isoformat(), "interval": "period",
        "models": [f"gen-{a.area_id}", f"gen-{b.area_id}"]})).json()["rows"]
    await producer.publish_many([change("metering_point", point(moved), {
        "id": point(moved), "customer_id": f"C-{moved}", "utility": "electricity", "node_id": b.area_id},
        ChangeKind.UPDATED, tag="-moved", at=datetime.now(UTC))], topic="emms.masterdata.change.v1")

    async def versioned() -> bool:
        got = {x.area_id: (await client.get(f"/api/v1/analytics/loss/models/gen-{x.area_id}")).json() for x in (a, b)}
        return all(g["current_version"] == was[k] + 1 for k, g in got.items())

    await eventually(versioned, 60.0, "the generated models did not follow the topology")
    got_a = (await client.get(f"/api/v1/analytics/loss/models/gen-{a.area_id}")).json()
    assert point(moved) not in {m["metering_point_id"] for m in got_a["members"]}
    assert point(moved) in got_a["versions"][-1]["reason"]
    again = (await client.get("/api/v1/analytics/loss", params={
        "from": START.isoformat(), "to": END.isoformat(), "interval": "period",
        "models": [f"gen-{a.area_id}", f"gen-{b.area_id}"]})).json()["rows"]
    assert [r["loss"] for r in again] == pytest.approx([r["loss"] for r in old])  # the past keeps the earlier version



# --- the Grafana loss dashboard: every SQL panel as the reporting role, figures equal to the API's -----------

BOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards" / "loss" / "loss.json"


@pytest.fixture(scope="module")
async def reader(client: httpx.AsyncClient, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as a login role in emms_reporting only (as Grafana's is)."""
    admin = await asyncpg.connect(database_url)
    name = f"grafana_loss_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"CREATE ROLE {name} LOGIN IN ROLE emms_reporting")
    parts = urlsplit(database_url)
    conn = await asyncpg.connect(urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port or 5432}")))
    yield conn
    await conn.close()
    await admin.execute(f"DROP OWNED BY {name}")
    await admin.execute(f"DROP ROLE {name}")
    await admin.close()


async def test_dashboard_panels_as_the_reporting_role_equal_the_api(
        client: httpx.AsyncClient, reader: asyncpg.Connection, storage_mode: str) -> None:
    for k in range(DAYS):  # the daily run of every day of the period
        resp = await client.post("/api/v1/analytics/loss/run", params={"day": (FIRST + timedelta(days=k)).isoformat()})
        assert resp.status_code == 200, resp.text
    board = json.loads(BOARD.read_text())
    assert {v["name"] for v in board["templating"]["list"]} == {"company", "region", "utility", "line", "model"}
    models = [f"gen-{a.area_id}" for a in AREAS]
    values = {"company": ["CO"], "region": ["R"], "utility": ["electricity", "water", "gas", "heat"],
              "line": ["", *(f"L-{k}" for k in range(LINES))], "model": models}
    got = {}
    for panel in panels(board):
        (target,) = panel["targets"]
        sql = expand_macros(interpolate(target["rawSql"], values), START, END - timedelta(milliseconds=1),
                            timescaledb_flag() and storage_mode == "timescaledb")
        assert "$" not in sql, sql
        got[panel["title"]] = await reader.fetch(sql)
    assert all(got.values()), {k: len(v) for k, v in got.items()}
    span = {"from": START.isoformat(), "to": END.isoformat(), "interval": "period", "models": models}
    api = {r["key"]: r for r in (await client.get("/api/v1/analytics/loss", params=span)).json()["rows"]}
    rows = got["Loss by area (highest rate first; incomplete first)"]
    assert {r["model_id"] for r in rows} == set(models)
    for r in rows:
        assert r["days"] == DAYS and r["loss"] == pytest.approx(api[r["model_id"]]["loss"], abs=1e-6)
        assert r["rate"] == pytest.approx(api[r["model_id"]]["rate"], abs=1e-9)
    lines = {r["line"]: r for r in got["Loss by line / network"] if r["utility"] == "electricity"}
    for k in range(LINES):
        mine = [api[f"gen-{a.area_id}"] for a in AREAS if a.kind == "transformer" and a.terminals[0] // 5 == k]
        assert lines[f"L-{k}"]["loss"] == pytest.approx(sum(m["loss"] for m in mine), abs=1e-6)
    flagged = {r["model_id"] for r in got["Abnormal losses and the points that explain them"]}
    assert flagged == {k for k, r in api.items() if r["flags"]}
