"""The validator's HTTP API on the real database: rules, anomalies and their workflow, edits, key customers."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from validator_harness import BusWatch, Service, batches_by_day, until

from emms_bus import BusProducer
from emms_messages.events import DeviceEvent, EventClass
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidationStatus
from emms_validator.synthetic import SyntheticMeter, readings

pytestmark = pytest.mark.integration
START = datetime(2026, 1, 1, tzinfo=UTC)


async def _feed(bus: tuple[BusWatch, BusProducer], meter: SyntheticMeter, days: int) -> None:
    watch, producer = bus
    series = readings(meter, START, days)
    await producer.publish_many(batches_by_day(series, meter.meter_id))
    await until(lambda: len([v for v in watch.of_meter(meter.meter_id)[0]
                             if v.status is not ValidationStatus.ESTIMATED]) >= len(series), 60)


async def _master(producer: BusProducer, service: Service, change: MasterDataChange) -> None:
    await producer.publish(change)
    async def known() -> bool:
        async with service.vr.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(*) FROM validator.inbox WHERE consumer = 'masterdata'"
                                            " AND message_id = $1", change.stable_id()))
    for _ in range(200):
        if await known():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("master data change not applied")


async def test_no_token_is_401_and_viewers_may_not_change_rules(service: Service) -> None:
    resp = await service.client.get("/api/v1/rules", headers={"Authorization": ""})
    assert resp.status_code == 401
    catalog = (await service.client.get("/api/v1/rules")).json()
    assert {r["rule"] for r in catalog} >= {"monotonic", "spike", "valve_closed_flow", "completeness"}
    resp = await service.client.put("/api/v1/rules/overrides/utility/water/spike", json={"enabled": False})
    assert resp.status_code == 403


async def test_rule_overrides_change_the_effective_rules(service: Service, bus: tuple[BusWatch, BusProducer]
                                                         ) -> None:
    op = service.as_role("operator")
    url = "/api/v1/rules/overrides/customer_category/hospital/zero_consumption"
    resp = await service.client.put(url, json={"action": "hold", "params": {"min_zero_s": 7200}}, headers=op)
    assert resp.status_code == 200, resp.text
    eff = (await service.client.get("/api/v1/rules/effective", params={"customer_category": "hospital"})).json()
    rule = eff["rules"]["zero_consumption"]
    assert rule["action"] == "hold" and rule["params"]["min_zero_s"] == 7200
    other = (await service.client.get("/api/v1/rules/effective", params={"customer_category": "school"})).json()
    assert other["rules"]["zero_consumption"]["params"]["min_zero_s"] == 86_400
    bad = await service.client.put("/api/v1/rules/overrides/utility/water/spike", json={"params": {"x": 1}},
                                   headers=op)
    assert bad.status_code == 422 and "no parameter" in bad.json()["detail"]
    assert (await service.client.delete(url, headers=op)).status_code == 204
    assert (await service.client.delete(url, headers=op)).status_code == 404
    log = (await service.client.get("/api/v1/rules/overrides/log")).json()
    assert [e["override"] is None for e in log[:2]] == [True, False] and log[0]["actor"] == "test-operator"
    target = "rule zero_consumption for customer_category hospital"  # both steps in the duty log
    await until(lambda: len([e for e in bus[0].duty if e.target == target]) >= 2, 20)
    steps = [(e.action, e.actor, e.category) for e in bus[0].duty if e.target == target]
    assert steps == [("rule.override", "test-operator", "parameter"), ("rule.override.remove", "test-operator",
                                                                       "parameter")]


async def test_anomaly_workflow_and_statistics(service: Service, bus: tuple[BusWatch, BusProducer]) -> None:
    meter = SyntheticMeter(f"a{secrets.token_hex(3)}", "heat", faults=frozenset({"supply_below_return"}), fault_day=3)
    await _feed(bus, meter, 5)
    listing = (await service.client.get("/api/v1/anomalies", params={"meter_id": meter.meter_id})).json()
    assert listing["total"] == 1 and listing["items"][0]["rule"] == "supply_return"
    anomaly_id = listing["items"][0]["anomaly_id"]
    op = service.as_role("operator")
    url = f"/api/v1/anomalies/{anomaly_id}"
    assert (await service.client.post(f"{url}/transitions", json={"to": "acknowledged"})).status_code == 403
    ack = await service.client.post(f"{url}/transitions", json={"to": "acknowledged", "note": "crew sent"}, headers=op)
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    done = await service.client.post(f"{url}/transitions", json={"to": "resolved", "note": "sensor swapped"},
                                     headers=op)
    assert done.json()["status"] == "resolved"
    again = await service.client.post(f"{url}/transitions", json={"to": "acknowledged"}, headers=op)
    assert again.status_code == 409 and "final" in again.json()["detail"]
    detail = (await service.client.get(url)).json()
    assert [(t["from_status"], t["to_status"], t["actor"]) for t in detail["transitions"]] == [
        ("new", "acknowledged", "test-operator"), ("acknowledged", "resolved", "test-operator")]
    watch = bus[0]  # the approval steps in the duty log, the refused one not
    await until(lambda: len([e for e in watch.duty if e.target == f"anomaly {anomaly_id}"]) >= 2, 20)
    assert [(e.action, e.actor, e.meter_id, e.reason) for e in watch.duty if e.target == f"anomaly {anomaly_id}"] == [
        ("anomaly.acknowledged", "test-operator", meter.meter_id, "crew sent"),
        ("anomaly.resolved", "test-operator", meter.meter_id, "sensor swapped")]
    assert (await service.client.get("/api/v1/anomalies/nope|x|y|z")).status_code == 404
    stats = (await service.client.get("/api/v1/statistics/rules")).json()["rules"]
    supply = next(r for r in stats if r["rule"] == "supply_return")
    assert supply["total"] >= 1 and supply["resolved"] >= 1
    history = (await service.client.get(f"/api/v1/meters/{meter.meter_id}/validation")).json()
    assert [a["rule"] for a in history["anomalies"]] == ["supply_return"]
    assert {s["item"] for s in history["series"]} >= {"heat.energy", "temperature.supply"}


async def test_key_customers_anomalies_are_important(service: Service, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    run = f"k{secrets.token_hex(3)}"
    by_hand = SyntheticMeter(f"{run}-1", "heat", faults=frozenset({"supply_below_return"}), fault_day=3)
    by_rule = SyntheticMeter(f"{run}-2", "heat", faults=frozenset({"supply_below_return"}), fault_day=3)
    ordinary = SyntheticMeter(f"{run}-3", "heat", faults=frozenset({"supply_below_return"}), fault_day=3)
    for meter, customer, category in ((by_hand, f"{run}-C1", "residential"), (by_rule, f"{run}-C2", "hospital"),
                                      (ordinary, f"{run}-C3", "residential")):
        await _master(producer, service, MasterDataChange(
            change_id=f"{meter.meter_id}-new", entity="meter", entity_id=meter.meter_id, kind=ChangeKind.CREATED,
            changed_at=START, changed_by="archive",
            data={"utility": "heat", "customer_id": customer, "customer_category": category}))
    op = service.as_role("operator")
    assert (await service.client.put(f"/api/v1/key-customers/{run}-C1", json={"reason": "city hall"},
                                     headers=op)).status_code == 200
    resp = await service.client.put(f"/api/v1/key-customers/rules/{run}-hospitals",
                                    json={"customer_category": "hospital"}, headers=op)
    assert resp.status_code == 200, resp.text
    for meter in (by_hand, by_rule, ordinary):
        await _feed(bus, meter, 5)
    severity = {m.meter_id: {a.severity for a in watch.of_meter(m.meter_id)[1]} for m in (by_hand, by_rule, ordinary)}
    assert severity == {by_hand.meter_id: {EventClass.IMPORTANT}, by_rule.meter_id: {EventClass.IMPORTANT},
                        ordinary.meter_id: {EventClass.NORMAL}}
    keys = (await service.client.get("/api/v1/key-customers")).json()
    assert any(k["customer_id"] == f"{run}-C1" and k["source"] == "manual" for k in keys)
    assert (await service.client.delete(f"/api/v1/key-customers/rules/{run}-hospitals", headers=op)).status_code == 204
    bad = await service.client.put(f"/api/v1/key-customers/rules/{run}-x", json={"utility": "heat"}, headers=op)
    assert bad.status_code == 422


async def test_manual_edit_publishes_a_new_version_and_leaves_raw_alone(
        service: Service, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    meter = SyntheticMeter(f"e{secrets.token_hex(3)}", "water", faults=frozenset({"transient"}), fault_day=31)
    await _feed(bus, meter, 33)
    held = next(v for v in watch.of_meter(meter.meter_id)[0] if v.status is ValidationStatus.HELD)
    queue = (await service.client.get("/api/v1/review", params={"meter_id": meter.meter_id})).json()
    assert queue["total"] == 1 and queue["items"][0]["status"] == "awaiting_backfill"
    raw = queue["items"][0]["raw_value"]
    op = service.as_role("operator")
    url = f"/api/v1/meters/{meter.meter_id}/items/water.volume/edits"
    body = {"data_time": held.data_time.isoformat(), "value": 1234.5, "reason": "read on site by the crew"}
    assert (await service.client.post(url, json=body)).status_code == 403
    resp = await service.client.post(url, json=body, headers=op)
    assert resp.status_code == 201, resp.text
    await until(lambda: any(v.method == "manual" for v in watch.of_meter(meter.meter_id)[0]), 20)
    edited = next(v for v in watch.of_meter(meter.meter_id)[0] if v.method == "manual")
    assert (edited.status, edited.value) == (ValidationStatus.REPAIRED, 1234.5)
    message = next(b for b in watch.batches if b.readings == [edited])  # alone, in order with the meter's others
    assert message.batch_id.startswith("edit|") and watch.keys[message.batch_id] == meter.terminal.encode()
    assert resp.json()["message_id"] == str(message.stable_id())
    audit = (await service.client.get(f"/api/v1/meters/{meter.meter_id}/items/water.volume/audit",
                                      params={"data_time": held.data_time.isoformat()})).json()
    assert audit["held"]["raw_value"] == raw and audit["held"]["status"] == "edited"
    assert [(v["status"], v["actor"], v["raw_value"]) for v in audit["versions"]] == [
        ("held", "validator", raw), ("repaired", "test-operator", raw)]
    assert audit["versions"][-1]["reason"] == "read on site by the crew"
    await until(lambda: any(e.meter_id == meter.meter_id for e in watch.duty), 20)  # in the duty log
    logged = next(e for e in watch.duty if e.meter_id == meter.meter_id)
    assert (logged.action, logged.actor, logged.category, logged.reason, logged.detail["value"]) == (
        "reading.edit", "test-operator", "approval", "read on site by the crew", 1234.5)
    never = {"data_time": (START + timedelta(days=2)).isoformat(), "value": 1.0, "reason": "why not"}
    missing_unit = await service.client.post(f"/api/v1/meters/{meter.meter_id}/items/nothing/edits", json=never,
                                             headers=op)
    assert missing_unit.status_code == 422


async def test_events_explain_and_contradict_readings(service: Service, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    meter = SyntheticMeter(f"v{secrets.token_hex(3)}", "water")
    first = readings(meter, START, 3)
    await producer.publish_many(batches_by_day(first, meter.meter_id))
    await until(lambda: len(watch.of_meter(meter.meter_id)[0]) >= len(first), 30)
    closed_at = START + timedelta(days=3) - timedelta(hours=7)  # after the last reading, before the next
    events = [DeviceEvent(terminal=meter.terminal, meter_id=meter.meter_id, code="valve_closed",
                          event_class=EventClass.IMPORTANT, occurred_at=closed_at, received_at=closed_at),
              DeviceEvent(terminal=meter.terminal, meter_id=meter.meter_id, code="ERC12",
                          event_class=EventClass.NORMAL, occurred_at=closed_at, received_at=closed_at,
                          detail={"deviation_s": 120.0})]
    await producer.publish_many(events)
    await until(lambda: any(a.rule == "clock_tolerance" for a in watch.of_meter(meter.meter_id)[1]), 30)
    later = [r for r in readings(meter, START, 6) if r.data_time > first[-1].data_time and r.item == "water.volume"]
    await producer.publish_many(batches_by_day(later, f"{meter.meter_id}-later"))
    await until(lambda: any(a.rule == "valve_closed_flow" for a in watch.of_meter(meter.meter_id)[1]), 30)
    rules = [a.rule for a in watch.of_meter(meter.meter_id)[1]]
    assert sorted(rules) == ["clock_tolerance", "valve_closed_flow"]  # once per closure, not every day


async def test_unrepaired_after_the_deadline(service: Service, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    meter = SyntheticMeter(f"d{secrets.token_hex(3)}", "water", faults=frozenset({"transient"}), fault_day=31)
    await _feed(bus, meter, 32)
    async with service.vr.pool.acquire() as conn:
        await conn.execute("UPDATE validator.held SET deadline = now() - interval '1 second' WHERE meter_id = $1",
                           meter.meter_id)
    assert await service.vr.sweep() >= 1
    await until(lambda: any(a.rule == "repair_failed" for a in watch.of_meter(meter.meter_id)[1]), 20)
    failed = next(a for a in watch.of_meter(meter.meter_id)[1] if a.rule == "repair_failed")
    assert failed.severity is EventClass.IMPORTANT
    queue = (await service.client.get("/api/v1/review", params={"meter_id": meter.meter_id})).json()
    assert [i["status"] for i in queue["items"]] == ["unrepaired"]
