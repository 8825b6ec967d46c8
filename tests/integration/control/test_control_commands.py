"""Remote control end to end: control + FEP in the test loop, the simulator over real sockets, the real broker
and database. Trip / close / valves verified against the simulator's truth, protection, safety checks, jobs
(region, confirmation, cancel, non-answering devices), and the immutable command log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from commands_harness import change, installations, publish_topology, simulator, truth, wait_for
from control_harness import Control, running_control, token
from fep_harness import BusWatch, Replica

from emms_bus import BusProducer, KafkaSettings
from emms_control.commands import ProtectedCustomer, configure, policy, submit_command

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
SILENT = 5  # terminal index that answers nothing (its devices fail after retries)
HEADERS = token("operator")


@pytest.fixture(scope="module")
def world(fep: Replica, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[dict[str, Any]], str]]:
    manifest = tmp_path_factory.mktemp("sim") / "fleet.json"
    with simulator(fep.port, manifest, concentrators=6, meters_per=8, mix="electricity=50,water=25,gas=25",
                   faults="no-answer=100%", fault_terminals=str(SILENT)) as pair:
        yield pair


@pytest.fixture(scope="module")
async def ctl(database_url: str, kafka_settings: KafkaSettings, fep: Replica, world: Any,
              bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[Control]:
    before = policy()
    configure(request_timeout_s=2.0, fep_retries=0, attempts=2, retry_delay_s=0.2, result_grace_s=5.0,
              confirm_above=20, jobs_per_operator_per_min=1000)
    terminals, _ = world
    async with running_control(database_url, kafka_settings) as svc:
        configure(request_timeout_s=2.0, fep_retries=0, attempts=2, retry_delay_s=0.2, result_grace_s=5.0,
                  confirm_above=20, jobs_per_operator_per_min=1000)
        changes = installations(terminals, region_of=lambda t: f"R-{t['index'] % 2}")
        changes += [change("region", "R-0", parent_id="R-TOP"), change("region", "R-1", parent_id="R-TOP")]
        await publish_topology(bus[1], changes)
        total = sum(len(t["meters"]) for t in terminals)

        async def loaded() -> bool:
            async with svc.cr.pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM control.devices") >= total)
        await wait_for(loaded, 30)
        await wait_for(lambda: _online(fep, terminals), 30)
        yield svc
    configure(**{f: getattr(before, f) for f in before.__dataclass_fields__})


async def _online(fep: Replica, terminals: list[dict[str, Any]]) -> bool:
    return all(fep.fep.sessions.get(t["key"]) is not None for t in terminals)


def _meters(world: Any, utility: str, *, silent: bool = False) -> list[dict[str, Any]]:
    terminals, _ = world
    return [m | {"terminal": t["key"], "index": t["index"]} for t in terminals for m in t["meters"]
            if m["utility"] == utility and (t["index"] == SILENT) == silent]


async def _run(ctl: Control, body: dict[str, Any], *, timeout_s: float = 30) -> dict[str, Any]:
    resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json={"reason": "test", **body})
    assert resp.status_code == 201, resp.text
    return await _finished(ctl, resp.json()["job_id"], timeout_s)


async def _finished(ctl: Control, job_id: str, timeout_s: float = 30) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        job = (await ctl.client.get(f"/api/v1/jobs/{job_id}", headers=HEADERS)).json()
        return job if job["state"] in ("done", "cancelled", "expired") and job["finished_devices"] == job["total"] \
            else None
    job: dict[str, Any] = await wait_for(done, timeout_s)
    return job


async def _devices(ctl: Control, job_id: str) -> list[dict[str, Any]]:
    resp = await ctl.client.get(f"/api/v1/jobs/{job_id}/devices", headers=HEADERS)
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()
    return rows


async def test_trip_allow_close_direct_close_verified_in_truth(ctl: Control, world: Any) -> None:
    meter = _meters(world, "electricity")[0]
    base = world[1]
    job = await _run(ctl, {"action": "trip", "target": {"meter_ids": [meter["meter_id"]]}})
    [row] = await _devices(ctl, job["job_id"])
    assert (row["state"], row["verified_state"]) == ("verified", "open"), row
    assert await truth(base, meter["meter_id"], "relay.state") == 0.0
    job = await _run(ctl, {"action": "allow_close", "target": {"meter_ids": [meter["meter_id"]]}})
    assert (await _devices(ctl, job["job_id"]))[0]["verified_state"] == "closed"
    assert await truth(base, meter["meter_id"], "relay.state") == 1.0
    await _run(ctl, {"action": "trip", "target": {"meter_ids": [meter["meter_id"]]}})
    job = await _run(ctl, {"action": "direct_close", "target": {"meter_ids": [meter["meter_id"]]}})
    [row] = await _devices(ctl, job["job_id"])
    assert (row["state"], row["verified_state"]) == ("verified", "closed"), row
    assert await truth(base, meter["meter_id"], "relay.state") == 1.0


@pytest.mark.parametrize("utility", ["water", "gas"])
async def test_valve_close_and_open(ctl: Control, world: Any, utility: str) -> None:
    meter = _meters(world, utility)[0]
    job = await _run(ctl, {"action": "valve_close", "target": {"meter_ids": [meter["meter_id"]]}})
    [row] = await _devices(ctl, job["job_id"])
    assert (row["state"], row["verified_state"]) == ("verified", "closed"), row
    assert await truth(world[1], meter["meter_id"], "valve.state") == 0.0
    job = await _run(ctl, {"action": "valve_open", "target": {"meter_ids": [meter["meter_id"]]}})
    assert (await _devices(ctl, job["job_id"]))[0]["verified_state"] == "open"
    assert await truth(world[1], meter["meter_id"], "valve.state") == 1.0


async def test_protect_on_blocks_a_trip(ctl: Control, world: Any) -> None:
    meters = [m for m in _meters(world, "electricity") if m["index"] == 1]
    ids = [meters[0]["meter_id"]]
    job = await _run(ctl, {"action": "protect_on", "target": {"meter_ids": ids}, "duration_half_hours": 2})
    # verified by the terminal's own control settings state (AFN0C F5 read back), not only its confirm
    assert [(d["state"], d["verified_state"]) for d in await _devices(ctl, job["job_id"])] == [
        ("verified", "protected")]
    job = await _run(ctl, {"action": "trip", "target": {"meter_ids": ids}})
    [row] = await _devices(ctl, job["job_id"])
    assert row["state"] == "failed" and "denied" in row["reason"], row
    assert await truth(world[1], ids[0], "relay.state") == 1.0
    job = await _run(ctl, {"action": "protect_off", "target": {"meter_ids": ids}})
    assert [(d["state"], d["verified_state"]) for d in await _devices(ctl, job["job_id"])] == [
        ("verified", "unprotected")]
    job = await _run(ctl, {"action": "trip", "target": {"meter_ids": ids}})
    assert (await _devices(ctl, job["job_id"]))[0]["state"] == "verified"
    await _run(ctl, {"action": "allow_close", "target": {"meter_ids": ids}})


async def test_protected_customer_needs_override_and_is_never_cut_automatically(ctl: Control, world: Any,
                                                                                bus: Any) -> None:
    meter = _meters(world, "electricity")[1]
    resp = await ctl.client.put("/api/v1/protected", headers=HEADERS, json={
        "kind": "customer", "id": f"C-{meter['meter_id']}", "protection_class": "medical", "reason": "oxygen"})
    assert resp.status_code == 200, resp.text
    body = {"action": "trip", "target": {"meter_ids": [meter["meter_id"]]}, "reason": "arrears"}
    resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json=body)
    assert resp.status_code == 409 and "override_protection" in resp.json()["detail"], resp.text
    async with ctl.cr.pool.acquire() as conn:
        with pytest.raises(ProtectedCustomer, match="never cuts a protected customer"):
            await submit_command(conn, meter_ids=[meter["meter_id"]], action="trip", origin="prepayment",
                                 reason="balance below trip threshold", requested_by="prepayment")
    resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json=body | {"override_protection": True})
    assert resp.status_code == 422, resp.text
    job = await _run(ctl, body | {"override_protection": True, "override_reason": "doctor agreed"})
    assert (await _devices(ctl, job["job_id"]))[0]["state"] == "verified"
    await _run(ctl, {"action": "allow_close", "target": {"meter_ids": [meter["meter_id"]]}})
    resp = await ctl.client.delete(f"/api/v1/protected/customer/C-{meter['meter_id']}", headers=HEADERS)
    assert resp.status_code == 204


async def test_refusals_create_nothing(ctl: Control, world: Any) -> None:
    async with ctl.cr.pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM control.jobs")
    water = _meters(world, "water")[0]["meter_id"]
    resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json={
        "action": "trip", "target": {"meter_ids": [water]}, "reason": "x"})
    assert resp.status_code == 422 and "has no relay" in resp.json()["detail"]
    resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json={
        "action": "trip", "target": {"meter_ids": ["no-such-meter"]}, "reason": "x"})
    assert resp.status_code == 404 and "no-such-meter" in resp.json()["detail"]
    resp = await ctl.client.post("/api/v1/commands", headers=token("viewer"), json={
        "action": "trip", "target": {"meter_ids": [water]}, "reason": "x"})
    assert resp.status_code == 403
    async with ctl.cr.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM control.jobs") == before


async def test_region_job_confirmation_progress_and_silent_devices(ctl: Control, world: Any) -> None:
    resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json={
        "action": "trip", "target": {"query": {"utility": "electricity", "region_id": "R-TOP"}}, "reason": "drill"})
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["state"] == "awaiting_confirmation" and job["total"] > 20
    resp = await ctl.client.post(f"/api/v1/jobs/{job['job_id']}/confirm", headers=token("operator"))
    assert resp.status_code == 200 and resp.json()["state"] == "running", resp.text
    job = await _finished(ctl, job["job_id"], 60)
    rows = await _devices(ctl, job["job_id"])
    silent = {m["meter_id"] for m in _meters(world, "electricity", silent=True)}
    assert {r["meter_id"] for r in rows if r["state"] == "failed"} == silent
    assert all(r["state"] == "verified" for r in rows if r["meter_id"] not in silent)
    reasons = [r["reason"] for r in rows if r["meter_id"] in silent]
    assert all("after 2 attempts" in why for why in reasons), reasons
    assert job["progress"] == 1.0 and job["counts"]["verified"] == len(rows) - len(silent)
    for m in (r["meter_id"] for r in rows if r["meter_id"] not in silent):
        assert await truth(world[1], m, "relay.state") == 0.0
    resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json={
        "action": "allow_close", "target": {"query": {"utility": "electricity", "region_id": "R-0"}}, "reason": "end"})
    assert resp.status_code == 201
    await _finished(ctl, resp.json()["job_id"], 60)


async def test_cancel_a_scheduled_job(ctl: Control, world: Any) -> None:
    ids = [m["meter_id"] for m in _meters(world, "gas")][:3]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json={
        "action": "valve_close", "target": {"meter_ids": ids}, "reason": "later", "not_before": later})
    assert resp.status_code == 201 and resp.json()["state"] == "scheduled"
    job_id = resp.json()["job_id"]
    resp = await ctl.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=HEADERS)
    assert resp.status_code == 200 and resp.json()["counts"] == {"cancelled": 3}
    assert (await ctl.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=HEADERS)).status_code == 409


async def test_rate_limit_per_operator(ctl: Control, world: Any) -> None:
    configure(jobs_per_operator_per_min=1)
    try:
        ids = [_meters(world, "gas")[0]["meter_id"]]
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        resp = await ctl.client.post("/api/v1/commands", headers=HEADERS, json={
            "action": "valve_close", "target": {"meter_ids": ids}, "reason": "r", "not_before": later})
        assert resp.status_code == 429 and "per operator" in resp.json()["detail"], resp.text
    finally:
        configure(jobs_per_operator_per_min=1000)


async def test_audit_complete_and_log_immutable(ctl: Control, database_url: str) -> None:
    """Every device of every job of this module has its submitted row and exactly one final row; the log
    refuses UPDATE, DELETE and TRUNCATE."""
    async with ctl.cr.pool.acquire() as conn:
        missing = await conn.fetch(
            "SELECT d.job_id, d.meter_id, d.state FROM control.job_devices d WHERE"
            " (SELECT count(*) FROM control.command_log l WHERE l.job_id = d.job_id AND l.event = 'final'"
            "  AND COALESCE(l.meter_id, '') = d.meter_id AND l.terminal = d.terminal) != 1"
            " OR NOT EXISTS (SELECT 1 FROM control.command_log l WHERE l.job_id = d.job_id AND l.event = 'submitted'"
            "  AND COALESCE(l.meter_id, '') = d.meter_id)")
        assert not missing, missing[:5]
        unsent = await conn.fetchval(
            "SELECT count(*) FROM control.requests q WHERE NOT EXISTS (SELECT 1 FROM control.command_log l"
            " WHERE l.request_id = q.request_id AND l.event IN ('sent', 'resent'))")
        assert unsent == 0
        for statement in ("UPDATE control.command_log SET operator = 'x'", "DELETE FROM control.command_log",
                          "TRUNCATE control.command_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    resp = await ctl.client.get("/api/v1/command-log", headers=token("viewer"),
                                params={"event": "final", "outcome": "verified", "limit": 5})
    assert resp.status_code == 200 and resp.json() and all(r["verified_state"] for r in resp.json())
