"""Terminal management against the simulator (R-4.6.3, R-4.6.5): real FEP, broker, database, frames over TCP.

One world per module: a FEP replica and the collector in the test loop, a simulator fleet of three
concentrators (the first one unknown to master data), and a second simulator started only when a test needs a
terminal to come online late. What the terminals hold is checked in the simulator's truth API
(``GET /terminals/{key}/params``), never only in the collector's own view.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from collector_harness import DutyLogWatch, ReadingWatch, Running, collector_settings, running_collector
from service_harness import FreshBearer, area_topics
from terminal_config_harness import (
    Replica,
    Sim,
    fep_settings,
    installation,
    manifest,
    running_fep,
    simulator,
    until,
    wait_downlink_ready,
)

from emms_archive.app import create_app as create_archive
from emms_archive.settings import ArchiveSettings
from emms_bus import BusProducer, KafkaSettings
from emms_collector.settings import CollectorSettings
from emms_db.settings import DatabaseSettings
from emms_messages.masterdata import ChangeKind

pytestmark = pytest.mark.integration
CFG = "/api/v1/terminal-config"
F1 = {"type": "UplinkCommParams", "rts_20ms": 0, "master_delay_min": 1, "response_timeout_s": 20, "resend_count": 2,
      "confirm_class1": True, "confirm_class2": False, "confirm_class3": True, "heartbeat_min": 3}
STEP_UP = FreshBearer("op-reset", "operator", step_up=True)
ADMIN = FreshBearer("archive-admin", "admin")


@dataclass
class World:
    settings: CollectorSettings
    archive: httpx.AsyncClient
    fep: Replica
    collector: Running
    sim: Sim
    producer: BusProducer
    watch: ReadingWatch
    terminals: list[dict[str, Any]]
    held_back: dict[str, Any]  # installed in master data only by a test
    unadopted: dict[str, Any]  # never in master data: the concentrator holds it
    tmp: Path
    duty: DutyLogWatch  # the collector's entries in the duty log

    @property
    def client(self) -> httpx.AsyncClient:
        return self.collector.client

    async def push_state(self, push_id: int, *final: str) -> str | None:
        body = (await self.client.get(f"{CFG}/pushes/{push_id}")).json()
        state: str = body["state"]
        return state if state in final else None


def _settings(database_url: str, kafka: KafkaSettings, instance: str) -> CollectorSettings:
    return collector_settings(
        database_url, kafka, instance, backfill={"enabled": False}, timesync={"enabled": False},
        dispatch={"request_timeout_s": 3.0, "fep_retries": 1, "result_slack_s": 2.0, "send_within_s": 5.0},
        terminal_config={"every_s": 0.3, "retry_s": 0.5, "offline_retry_s": 60.0, "request_timeout_s": 3.0,
                         "check_every_s": 2.0})


@pytest.fixture(scope="module")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of the module's own: on the area's, the collector's master-data group would first work through
    every change other modules published before its terminals' changes arrive."""
    return area_topics(kafka_settings, "tcfg")


@pytest.fixture(scope="module")
async def world(database_url: str, kafka_settings: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("terminal-config")
    terminals = manifest(tmp / "fleet.json", 3, 4, 201)
    settings = _settings(database_url, kafka_settings, "collector-it-terminal-config")
    fep_cfg = fep_settings(database_url, kafka_settings, "fep-terminal-config",
                           sessions={"login_timeout_s": 10.0, "heartbeat_timeout_s": 300.0})
    async with contextlib.AsyncExitStack() as stack:
        watch = await stack.enter_async_context(ReadingWatch(kafka_settings))
        duty = await stack.enter_async_context(DutyLogWatch(kafka_settings))
        fep = await stack.enter_async_context(running_fep(fep_cfg))
        await wait_downlink_ready(watch.producer, fep)
        collector = await stack.enter_async_context(running_collector(settings, role="admin"))
        # the archive, in the loop too; the collector writes accepted terminals and adopted meters into it
        archive_app = create_archive(ArchiveSettings(database=DatabaseSettings(url=database_url), kafka=kafka_settings,
                                                     environment="test", shutdown_grace_s=5.0))
        await stack.enter_async_context(archive_app.router.lifespan_context(archive_app))
        archive = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=archive_app), base_url="http://archive", headers=ADMIN))
        assert collector.c.terminals is not None
        await collector.c.terminals.archive.client.aclose()
        collector.c.terminals.archive.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=archive_app),
                                                                 base_url="http://archive")
        for kind, rows in (("companies", [{"id": "CO-A", "name": "A", "utilities": ["electricity"]}]),
                           ("regions", [{"id": "R-1", "name": "City", "level": 1}]),
                           ("service-areas", [{"company_id": "CO-A", "region_id": "R-1", "utility": "electricity"}]),
                           ("terminals", [{"id": f"T-{t['key']}", "kind": "concentrator", "address": t["key"],
                                           "company_id": "CO-A", "region_id": "R-1"} for t in terminals[1:]])):
            made = await archive.post(f"/api/v1/import/{kind}", json=rows)
            assert made.status_code == 200, made.text
        # master data: terminals 2 and 3 with their meters, except one held back on each
        # (a calm fleet has no meters added later: one installed meter left out of master data stands for
        # them — the concentrator's table holds it, master data does not)
        held_back, unadopted = terminals[1]["meters"][0], terminals[2]["meters"][1]
        changes = [installation(t["key"], m) for t in terminals[1:] for m in t["meters"]
                   if m is not held_back and m is not unadopted and not m["added_later"]]
        await watch.producer.publish_many(changes)
        await until(lambda: collector.c.masterdata.settled(5.0), 30, "master data applied")

        sim = stack.enter_context(simulator(fep.port, 3, 4, 201, tmp))
        ids = [f"T-{t['key']}" for t in terminals[1:]]

        async def terminals_known() -> bool:
            async with collector.c.pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM collector.md_terminal WHERE id = ANY($1::text[])",
                                                ids) == len(ids))

        await until(terminals_known, 30, "the archive's terminals in the collector")
        yield World(settings, archive, fep, collector, sim, watch.producer, watch, terminals, held_back, unadopted, tmp,
                    duty)


async def test_first_login_registers_a_new_terminal_and_reads_its_configuration(world: World) -> None:
    new, known = world.terminals[0]["key"], world.terminals[1]["key"]

    async def registered() -> dict[str, Any] | None:
        items = (await world.client.get(f"{CFG}/registered")).json()["items"]
        row = next((r for r in items if r["terminal"] == new and r["read_state"] == "done"), None)
        return row if row and any(r["terminal"] == known for r in items) else None

    row = await until(registered, 40, "the new terminal registered and read")
    assert row["status"] == "new"
    truth = world.sim.params(new)
    assert row["version"] == truth["version"]  # AFN09 F1 as the terminal answers it
    assert row["config"]["1"] == truth["params"]["1"]  # AFN0A F1
    table = {(r["pn"], r["address"]) for r in row["config"]["10"]["records"]}
    assert table == {(r["pn"], r["address"][-12:]) for r in truth["table"]}
    items = (await world.client.get(f"{CFG}/registered", params={"status": "known"})).json()["items"]
    assert known in {r["terminal"] for r in items}  # in master data: not new
    body = {"terminal_id": f"T-{new}", "company_id": "CO-A", "region_id": "R-1"}
    refused = await world.client.post(f"{CFG}/registered/{new}/accept", json={**body, "company_id": "NOBODY"})
    assert refused.status_code == 422 and "archive refused" in refused.json()["detail"]  # the archive's rules
    accepted = await world.client.post(f"{CFG}/registered/{new}/accept", json=body)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    stored = (await world.archive.get(f"/api/v1/terminals/T-{new}")).json()  # in master data, as reported
    assert (stored["address"], stored["vendor"], stored["firmware"], stored["hardware_version"]) == (
        new, truth["version"]["vendor"], truth["version"]["software_version"], truth["version"]["hardware_version"])
    again = await world.client.post(f"{CFG}/registered/{new}/accept")
    assert again.status_code == 409
    assert (await world.client.post(f"{CFG}/registered/{known}/accept")).status_code == 409
    actions = (await world.client.get(f"{CFG}/actions", params={"terminal": new})).json()["items"]
    assert actions[0]["action"] == "accept_terminal" and actions[0]["actor"] == "tester"
    logged = await world.duty.entry("terminal.accept", terminal=new)
    assert (logged.service, logged.actor, logged.outcome, logged.category) == (
        "collector", "tester", "accepted", "masterdata")


async def test_a_push_is_confirmed_read_back_and_held_by_the_terminal(world: World) -> None:
    terminal = world.terminals[1]["key"]
    made = await world.client.put(f"{CFG}/terminals/{terminal}/params/1", json={"value": F1})
    assert made.status_code == 202, made.text
    push_id = made.json()["id"]
    assert await until(lambda: world.push_state(push_id, "done", "denied", "failed", "mismatch"), 30,
                       "the push") == "done"
    assert world.sim.params(terminal)["params"]["1"] == F1  # the terminal holds what was pushed
    view = (await world.client.get(f"{CFG}/terminals/{terminal}")).json()
    f1 = next(p for p in view["params"] if p["fn"] == 1)
    assert f1["state"] == "in_sync" and f1["desired"] == F1 and f1["reported"] == F1
    asked = await world.duty.entry("parameter.push", push_id=push_id)  # the duty log: request, then result
    result = await world.duty.entry("parameter.push.done", push_id=push_id)
    assert (asked.actor, asked.outcome, asked.terminal, asked.category) == (
        "tester", "requested", terminal, "parameter")
    assert (result.outcome, result.reason, result.at >= asked.at) == ("done", "confirmed and read back equal", True)


async def test_a_refused_value_is_recorded_as_denied(world: World) -> None:
    terminal = world.terminals[2]["key"]
    before = world.sim.params(terminal)["params"]["1"]
    made = await world.client.put(f"{CFG}/terminals/{terminal}/params/1", json={"value": {**F1, "heartbeat_min": 0}})
    assert made.status_code == 202, made.text
    state = await until(lambda: world.push_state(made.json()["id"], "done", "denied", "failed", "mismatch"), 30,
                        "the push")
    assert state == "denied"
    push = (await world.client.get(f"{CFG}/pushes/{made.json()['id']}")).json()
    assert "refused" in push["detail"]
    assert world.sim.params(terminal)["params"]["1"] == before  # nothing changed at the terminal
    view = (await world.client.get(f"{CFG}/terminals/{terminal}")).json()
    f1 = next(p for p in view["params"] if p["fn"] == 1)
    assert f1["desired"] is None and f1["state"] == "unknown"  # the refused value is not the master's wish
    denied = await world.duty.entry("parameter.push.denied", push_id=made.json()["id"])
    assert denied.outcome == "denied" and denied.reason is not None and "refused" in denied.reason


async def test_the_periodic_read_back_finds_drift_unasked(world: World) -> None:
    terminal = world.terminals[2]["key"]
    made = await world.client.put(f"{CFG}/terminals/{terminal}/params/1", json={"value": F1})
    await until(lambda: world.push_state(made.json()["id"], "done"), 30, "the push")
    world.sim.change(terminal, 1, {**F1, "heartbeat_min": 11})

    async def drifting() -> bool:
        items = (await world.client.get(f"{CFG}/drift")).json()["items"]
        return any(d["terminal"] == terminal and d["reported"]["heartbeat_min"] == 11 for d in items)

    await until(drifting, 30, "drift found by the periodic read-back")  # check_every_s = 2 in this world
    world.sim.change(terminal, 1, F1)  # put right at the terminal: the next read-back ends the drift

    async def settled() -> bool:
        items = (await world.client.get(f"{CFG}/drift")).json()["items"]
        return not any(d["terminal"] == terminal for d in items)

    await until(settled, 30, "drift ended by the periodic read-back")


async def test_bad_values_and_unknown_terminals_are_refused(world: World) -> None:
    terminal = world.terminals[1]["key"]
    bad = await world.client.put(f"{CFG}/terminals/{terminal}/params/1", json={"value": {**F1, "resend_count": 9}})
    assert bad.status_code == 422 and "F1" in bad.json()["detail"]
    unmanaged = await world.client.put(f"{CFG}/terminals/{terminal}/params/7", json={"value": {}})
    assert unmanaged.status_code == 422
    assert (await world.client.put(f"{CFG}/terminals/3799-00001/params/1", json={"value": F1})).status_code == 404
    reset = await world.client.post(f"{CFG}/terminals/3799-00001/reset", json={"kind": "hardware"}, headers=STEP_UP)
    assert reset.status_code == 404


async def test_a_parameter_changed_behind_the_masters_back_is_drift(world: World) -> None:
    terminal = world.terminals[1]["key"]
    made = await world.client.put(f"{CFG}/terminals/{terminal}/params/1", json={"value": F1})
    await until(lambda: world.push_state(made.json()["id"], "done"), 30, "the push")
    world.sim.change(terminal, 1, {**F1, "heartbeat_min": 9})  # a field engineer's hand-held
    checked = await world.client.post(f"{CFG}/terminals/{terminal}/check")
    assert checked.status_code == 200, checked.text
    f1 = next(p for p in checked.json()["params"] if p["fn"] == 1)
    assert f1["state"] == "drift" and f1["reported"]["heartbeat_min"] == 9
    drift = (await world.client.get(f"{CFG}/drift")).json()["items"]
    assert any(d["terminal"] == terminal and d["fn"] == 1 for d in drift)

    def alarmed() -> bool:
        return any(e.code == "parameter_drift" and e.terminal == terminal and e.detail["fields"] == ["heartbeat_min"]
                   for e in world.watch.events)

    await until(lambda: asyncio.sleep(0, alarmed()), 20, "the drift event on the bus")
    metrics = (await world.client.get("/metrics")).text
    assert "emms_collector_terminal_param_drift_total" in metrics
    # pushed again, the drift ends
    again = await world.client.put(f"{CFG}/terminals/{terminal}/params/1", json={"value": F1})
    await until(lambda: world.push_state(again.json()["id"], "done"), 30, "the corrective push")
    drift = (await world.client.get(f"{CFG}/drift")).json()["items"]
    assert not any(d["terminal"] == terminal and d["fn"] == 1 for d in drift)


async def _collected_in_a_run(world: World, meter_id: str) -> list[dict[str, Any]]:
    """A realtime task over the meter, run now: the meter's row of the run once it is done."""
    task_id = f"tc-{meter_id}-{int(time.time() * 1000) % 100_000}"
    made = await world.client.post("/api/v1/tasks", json={
        "id": task_id, "name": "terminal config", "type": "realtime", "target": {"meters": [meter_id]},
        "period": {"unit": "daily", "at": "03:00"}, "retries": 1, "retry_delay_s": 1})
    assert made.status_code == 201, made.text
    run = await world.client.post(f"/api/v1/tasks/{task_id}/runs", json={})
    assert run.status_code == 202, run.text
    run_id = run.json()["run_id"]

    async def finished() -> bool:
        return (await world.client.get(f"/api/v1/runs/{run_id}")).json()["status"] in ("done", "failed")

    await until(finished, 40, "the run")
    items: list[dict[str, Any]] = (await world.client.get(f"/api/v1/runs/{run_id}/meters")).json()["items"]
    return items


async def _read_values(world: World, meter_id: str) -> dict[str, Any]:
    resp = await world.client.post("/api/v1/reads", json={"meters": [meter_id], "wait_s": 15})
    assert resp.status_code == 200, resp.text
    values: dict[str, Any] = resp.json()["results"][0]["values"]
    return values


async def test_a_meter_installed_in_master_data_reaches_the_table_and_is_collected(world: World) -> None:
    terminal, meter = world.terminals[1]["key"], world.held_back
    pn = meter["pn"]
    # the concentrator lost the record (a field change): the meter is not read through it
    world.sim.change(terminal, 10, {"type": "MeterConfig", "records": [
        {"type": "MeterRecord", "serial": pn, "pn": 0, "port": 31, "baud": 0, "protocol": 30,
         "address": "000000000000", "password": "000000000000", "tariffs": 4, "integer_digits": 6,
         "decimal_digits": 2, "collector": "000000000000", "big_class": 0, "small_class": 0}]})
    assert pn not in {r["pn"] for r in world.sim.params(terminal)["table"]}
    await world.producer.publish(installation(terminal, meter))

    async def in_table() -> bool:
        return any(r["pn"] == pn and r["address"] == meter["address"][-12:]
                   for r in world.sim.params(terminal)["table"])

    await until(in_table, 30, "the meter in the concentrator's table")
    pushes = (await world.client.get(f"{CFG}/pushes", params={"terminal": terminal})).json()["items"]
    table_push = next(p for p in pushes if p["fn"] == 10)
    await until(lambda: world.push_state(table_push["id"], "done"), 30, "the table push read back")
    values = await until(lambda: _read_values(world, meter["meter_id"]), 40, "the meter read")
    assert values
    rows = await _collected_in_a_run(world, meter["meter_id"])
    assert [(r["meter_id"], r["state"]) for r in rows] == [(meter["meter_id"], "ok")], rows
    # removed from master data: the record goes from the table
    await world.producer.publish(installation(terminal, meter, ChangeKind.REMOVED))

    async def gone() -> bool:
        return pn not in {r["pn"] for r in world.sim.params(terminal)["table"]}

    await until(gone, 30, "the record deleted from the table")


async def test_a_meter_master_data_lacks_is_listed_and_once_adopted_collected(world: World) -> None:
    terminal, meter = world.terminals[2]["key"], world.unadopted
    read = await world.client.post(f"{CFG}/terminals/{terminal}/table/read")
    assert read.status_code == 200, read.text
    listed = {u["pn"]: u for u in read.json()["unknown"]}
    assert set(listed) == {meter["pn"]}  # exactly what master data lacks
    assert listed[meter["pn"]]["meter_address"] == meter["address"][-12:]
    unread = await world.client.post("/api/v1/reads", json={"meters": [meter["meter_id"]], "wait_s": 5})
    assert unread.status_code == 404, unread.text  # not a point of the collector: not collected
    customer = {"customer_id": f"C-{meter['meter_id']}", "customer_name": "Found in the field",
                "category": "e_residential", "company_id": "CO-A", "region_id": "R-1",
                "metering_point_id": f"MP-{meter['meter_id']}"}
    partial = await world.client.post(f"{CFG}/unknown-meters/{terminal}/{meter['pn']}/adopt",
                                      json={"meter_id": meter["meter_id"], "customer_id": "C-x"})
    assert partial.status_code == 422  # the customer fields go together
    adopted = await world.client.post(f"{CFG}/unknown-meters/{terminal}/{meter['pn']}/adopt",
                                      json={"meter_id": meter["meter_id"], "utility": "electricity", **customer})
    assert adopted.status_code == 200, adopted.text
    assert adopted.json()["state"] == "adopted"
    installs = (await world.archive.get("/api/v1/installations", params={"terminal_id": f"T-{terminal}"})).json()
    rows = installs if isinstance(installs, list) else installs.get("items", [])
    mine = [r for r in rows if r["meter_id"] == meter["meter_id"]]
    assert mine and mine[0]["pn"] == meter["pn"] and mine[0]["meter_address"] == meter["address"][-12:]
    assert (await world.client.post(f"{CFG}/unknown-meters/{terminal}/{meter['pn']}/adopt",
                                    json={"meter_id": meter["meter_id"]})).status_code == 404
    values = await until(lambda: _read_values(world, meter["meter_id"]), 40, "the adopted meter read")
    assert values
    rows = await _collected_in_a_run(world, meter["meter_id"])
    assert [(r["meter_id"], r["state"]) for r in rows] == [(meter["meter_id"], "ok")], rows
    left = (await world.client.get(f"{CFG}/unknown-meters", params={"terminal": terminal})).json()["items"]
    assert left == []
    logged = await world.duty.entry("meter.adopt", meter_id=meter["meter_id"])
    assert (logged.terminal, logged.outcome, logged.detail["pn"]) == (terminal, "adopted", meter["pn"])


async def test_a_reset_needs_step_up_is_recorded_and_reaches_the_terminal(world: World) -> None:
    terminal = world.terminals[2]["key"]
    plain = await world.client.post(f"{CFG}/terminals/{terminal}/reset", json={"kind": "data"})
    assert plain.status_code == 403 and "step-up" in plain.json()["detail"]
    done = await world.client.post(f"{CFG}/terminals/{terminal}/reset", json={"kind": "data"}, headers=STEP_UP)
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "confirmed"
    assert world.sim.params(terminal)["resets"] == {"F2": 1}
    actions = (await world.client.get(f"{CFG}/actions", params={"terminal": terminal})).json()["items"]
    assert actions[0]["action"] == "reset" and actions[0]["actor"] == "op-reset"
    assert actions[0]["outcome"].startswith("confirmed")
    logged = await world.duty.entry("reset.data", terminal=terminal)
    assert (logged.actor, logged.outcome, logged.category, logged.detail["fn"]) == ("op-reset", "confirmed", "reset", 2)


async def test_a_terminal_whose_master_data_came_after_its_first_login_is_not_new(world: World) -> None:
    late = "3799-00042"  # logged in before master data named it (a fleet loaded while it logs in)
    async with world.collector.c.pool.acquire() as conn:
        await conn.execute("INSERT INTO collector.terminal_registry (terminal, status, first_seen, last_seen)"
                           " VALUES ($1, 'new', now(), now()) ON CONFLICT DO NOTHING", late)
    new = (await world.client.get(f"{CFG}/registered", params={"status": "new"})).json()["items"]
    assert late in {r["terminal"] for r in new}
    await world.producer.publish(installation(late, {**world.terminals[1]["meters"][1], "meter_id": "m-late-1"}))

    async def known() -> bool:
        items = (await world.client.get(f"{CFG}/registered", params={"status": "known"})).json()["items"]
        return late in {r["terminal"] for r in items}

    await until(known, 30, "the terminal known once its master data arrived")
    assert (await world.client.post(f"{CFG}/registered/{late}/accept")).status_code == 409
