"""The operations service on the real broker and database: the duty log from the bus (idempotent, immutable,
queryable), alarms → faults → tickets (one per fault on redelivery), the ticket procedure over HTTP (409 for a
forbidden step), escalation when overdue, maintenance records, fault statistics by vendor, operating status."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from operations_harness import Operations

from emms_bus import BusProducer
from emms_messages.control import CommandResult
from emms_messages.events import DeviceEvent, EventClass
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.terminal import DownlinkResult, RequestOutcome
from emms_runtime.auth.signing import issue_token
from emms_runtime.oplog import entry, record
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration


async def until(condition: Callable[[], Any], timeout_s: float = 30.0) -> None:
    """Await an async condition (an HTTP call) until it holds."""
    for _ in range(int(timeout_s / 0.2)):
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("condition not met")


async def _log(svc: Operations, **params: Any) -> list[dict[str, Any]]:
    resp = await svc.client.get("/api/v1/duty-log", params=params)
    assert resp.status_code == 200, resp.text
    body: list[dict[str, Any]] = resp.json()
    return body


async def test_duty_log_from_the_bus_once_per_entry_and_immutable(
        operations: Operations, producer: BusProducer, database_url: str) -> None:
    target = f"user-{uuid.uuid4().hex[:8]}"
    assert await record(producer, service="identity", category="user", action="user.update", actor="admin",
                        target=target, detail={"after": {"roles": ["operator"]}}, entry_id=f"identity/{target}/1")
    # the same operation recorded twice (a retry): one entry
    await producer.publish(entry(service="identity", category="user", action="user.update", actor="admin",
                                 target=target, entry_id=f"identity/{target}/1"))
    job = uuid.uuid4().hex
    result = CommandResult(job_id=job, meter_id="M-OPS-1", terminal="3799-00001", action="trip", origin="manual",
                           requested_by="op7", state="verified", verified_state="open",
                           finished_at=datetime.now(UTC))
    await producer.publish(result)
    await producer.publish(result)  # redelivered

    async def both() -> bool:
        return bool(await _log(operations, target=target)) and bool(await _log(operations, target=f"job {job}"))

    await until(both)
    await asyncio.sleep(1.0)  # the duplicates had their chance
    users = await _log(operations, target=target)
    assert len(users) == 1 and users[0]["action"] == "user.update" and users[0]["detail"]["after"]["roles"]
    commands = await _log(operations, target=f"job {job}")
    assert len(commands) == 1
    c = commands[0]
    assert (c["service"], c["category"], c["action"], c["actor"], c["outcome"], c["meter_id"]) == (
        "control", "control", "command.verified", "op7", "success", "M-OPS-1")
    assert [e["target"] for e in await _log(operations, actor="op7", service="control")] == [f"job {job}"]
    bad = await operations.client.get("/api/v1/duty-log", params={"since": "2026-01-02T00:00:00Z",
                                                                  "until": "2026-01-01T00:00:00Z"})
    assert bad.status_code == 422 and "until" in bad.json()["detail"]
    conn = await asyncpg.connect(database_url)
    try:
        for statement in ("UPDATE operations.duty_log SET actor = 'someone else' WHERE target = $1",
                          "DELETE FROM operations.duty_log WHERE target = $1"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement, target)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("TRUNCATE operations.duty_log")
        assert await conn.fetchval("SELECT actor FROM operations.duty_log WHERE target = $1", target) == "admin"
    finally:
        await conn.close()


async def test_duty_log_needs_audit_permission(operations: Operations) -> None:
    token = issue_token(AuthSettings(), "viewer1", "viewer")
    resp = await operations.client.get("/api/v1/duty-log", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and "audit:read" in resp.json()["detail"]


async def test_an_alarm_opens_one_fault_and_one_ticket_and_the_procedure_is_enforced(
        operations: Operations, producer: BusProducer) -> None:
    terminal, meter = "3799-00002", f"M-{uuid.uuid4().hex[:6]}"
    await producer.publish(MasterDataChange(
        change_id=uuid.uuid4().hex, entity="terminal", entity_id=f"T-{terminal}", kind=ChangeKind.CREATED,
        changed_at=datetime.now(UTC), changed_by="test",
        data={"address": terminal, "kind": "concentrator", "model": "DJGZ23", "vendor": "Acme", "firmware": "2.1"}))
    event = DeviceEvent(terminal=terminal, meter_id=meter, code="ERC37", event_class=EventClass.IMPORTANT,
                        occurred_at=datetime.now(UTC) - timedelta(minutes=1), received_at=datetime.now(UTC),
                        detail={"cover": "opened"})
    await producer.publish(event)
    await producer.publish(event)  # redelivered: the same message id
    await producer.publish(DeviceEvent(terminal=terminal, meter_id=meter, code="ERC3",
                                       event_class=EventClass.NORMAL, occurred_at=datetime.now(UTC),
                                       received_at=datetime.now(UTC)))  # not an alarm code

    async def ticket() -> list[dict[str, Any]]:
        resp = await operations.client.get("/api/v1/tickets", params={"subject": f"{meter}/ERC37"})
        body: list[dict[str, Any]] = resp.json()
        return body

    await until(ticket)
    await asyncio.sleep(1.0)
    (t,) = await ticket()
    assert (t["state"], t["severity"], t["level"]) == ("open", "critical", "meter")
    due = datetime.fromisoformat(t["due_at"]) - datetime.fromisoformat(t["created_at"])
    assert due == timedelta(hours=4)
    faults = (await operations.client.get("/api/v1/faults", params={"subject": f"{meter}/ERC37"})).json()
    assert len(faults) == 1 and faults[0]["meter_id"] == meter and faults[0]["terminal"] == terminal
    assert not (await operations.client.get("/api/v1/faults", params={"subject": f"{meter}/ERC3"})).json()

    tid = t["ticket_id"]

    async def step(state: str, **body: Any) -> Any:
        return await operations.client.post(f"/api/v1/tickets/{tid}/transition", json={"state": state, **body})

    refused = await step("closed", closing_reason="nothing to do")
    assert refused.status_code == 409
    assert "open cannot go to closed" in refused.json()["detail"] and "assigned" in refused.json()["detail"]
    assert (await step("assigned")).status_code == 422  # no assignee
    assert (await step("finished")).status_code == 422
    assert (await step("assigned", assignee="wang.fang")).json()["assignee"] == "wang.fang"
    assert (await step("in_progress", note="on site")).status_code == 200
    m = await operations.client.post("/api/v1/maintenance", json={
        "ticket_id": tid, "device_kind": "meter", "device_id": meter, "action": "cover sealed again",
        "performed_by": "wang.fang", "performed_at": datetime.now(UTC).isoformat(), "note": "seal 0042"})
    assert m.status_code == 201, m.text
    assert (await step("resolved", note="sealed")).status_code == 200
    assert (await step("closed")).status_code == 422  # needs a closing reason
    closed = await step("closed", closing_reason="cover sealed; customer informed")
    assert closed.status_code == 200 and closed.json()["closing_reason"].startswith("cover sealed")
    again = await step("in_progress")
    assert again.status_code == 409 and "closed ticket does not change" in again.json()["detail"]
    detail = (await operations.client.get(f"/api/v1/tickets/{tid}")).json()
    assert [h["to_state"] for h in detail["history"]] == ["open", "assigned", "in_progress", "resolved", "closed"]
    assert detail["maintenance"][0]["action"] == "cover sealed again" and detail["fault"]["cleared_at"] is not None
    assert any("tampering" in step for step in detail["procedure"]), "the standard handling of a meter alarm"
    added = await _log(operations, category="masterdata", terminal=terminal)
    assert [(e["action"], e["actor"], e["service"]) for e in added] == [("terminal.created", "test", "archive")]
    by_device = (await operations.client.get("/api/v1/maintenance", params={"device_kind": "meter",
                                                                             "device_id": meter})).json()
    assert [r["ticket_id"] for r in by_device] == [tid]
    ticket_log = await _log(operations, target=f"ticket {tid}")
    assert [e["action"] for e in ticket_log] == ["ticket.opened", "ticket.assigned", "ticket.in_progress",
                                                 "ticket.resolved", "ticket.closed"]
    stats = (await operations.client.get("/api/v1/faults/statistics", params={"by": "vendor"})).json()
    acme = next(r for r in stats["rows"] if r["value"] == "Acme")
    assert acme["faults"] >= 1 and acme["meter_faults"] >= 1 and acme["installed"] >= 1
    assert (await operations.client.get("/api/v1/tickets/999999999")).status_code == 404


async def test_an_overdue_ticket_escalates(operations: Operations) -> None:
    resp = await operations.client.post("/api/v1/tickets", json={
        "title": "FEP port 9027 flapping", "level": "channel", "subject": "fep-port:9027", "severity": "minor",
        "assignee": "zhao.lei"})
    assert resp.status_code == 201, resp.text
    t = resp.json()
    assert t["state"] == "assigned"
    ops = operations.ops
    real_now = ops.now
    later = datetime.now(UTC) + timedelta(hours=73)  # minor: due in 72 h
    ops.now = lambda: later  # type: ignore[method-assign]
    try:
        await ops.escalate()
    finally:
        ops.now = real_now  # type: ignore[method-assign]
    after = (await operations.client.get(f"/api/v1/tickets/{t['ticket_id']}")).json()
    assert after["state"] == "escalated" and after["escalations"] == 1
    assert after["history"][-1]["actor"] == "operations" and "overdue" in after["history"][-1]["note"]
    assert datetime.fromisoformat(after["due_at"]) > later
    bad = await operations.client.post("/api/v1/tickets", json={"title": "x", "level": "galaxy", "subject": "s",
                                                                "severity": "minor"})
    assert bad.status_code == 422


async def test_operating_status_in_one_answer(operations: Operations, producer: BusProducer) -> None:
    terminal, now = "3799-00009", datetime.now(UTC)
    results = [DownlinkResult(request_id=f"ops-{uuid.uuid4().hex}", terminal=terminal, outcome=outcome, attempts=1,
                              completed_at=now) for outcome in (RequestOutcome.ANSWERED, RequestOutcome.ANSWERED,
                                                                RequestOutcome.ANSWERED, RequestOutcome.TIMED_OUT)]
    await producer.publish_many(results)
    await producer.publish(results[0])  # redelivered: counted once

    async def counted() -> bool:
        body = (await operations.client.get("/api/v1/status", params={"worst": 1000})).json()
        return any(r["terminal"] == terminal for r in body["fleet"]["worst_terminals_7d"])

    await until(counted)
    await asyncio.sleep(1.0)
    await operations.ops.lag.step()  # the consumer groups' committed offsets against the end offsets
    resp = await operations.client.get("/api/v1/status", params={"worst": 1000})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["master"]["database"]["reachable"] and body["master"]["database"]["size_bytes"] > 0
    assert {"installed", "in_operation", "online", "offline", "never_seen"} <= set(body["fleet"])
    assert body["fleet"]["installed"] >= 1
    (row,) = [r for r in body["fleet"]["worst_terminals_7d"] if r["terminal"] == terminal]
    assert (row["requests"], row["answered"], row["success_rate"]) == (4, 3, 0.75)
    assert body["fleet"]["success_today"]["requests"] >= 4
    broker = body["master"]["broker"]
    assert broker["error"] is None and broker["checked_at"] is not None
    assert {"operations-oplog", "operations-events", "operations-masterdata"} <= set(broker["groups"])
    assert all(isinstance(v, int) and v >= 0 for v in broker["groups"].values())
    assert isinstance(body["faults"], list) and isinstance(body["tickets"], list)
    assert body["channels"]["ports"] == {}, "no FEP scraped in this module"
