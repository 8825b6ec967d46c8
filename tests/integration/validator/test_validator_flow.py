"""Raw batches on the real bus → validated readings, anomalies and back-fill requests; redelivery; repair."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from validator_harness import BusWatch, Service, batches_by_day, until

from emms_bus import BusProducer
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import RawReadingBatch, ReadingSource, ValidationStatus
from emms_validator.pipeline import validated_batch_id
from emms_validator.synthetic import SyntheticMeter, readings, replacement_time

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 36
CASES = {  # fault → (utility, the rule that must flag it)
    "valve_closed_flow": ("water", "valve_closed_flow"),
    "replaced_unrecorded": ("electricity", "baseline_reset"),
    "clock_drift": ("electricity", "clock_tolerance"),
    "spike": ("electricity", "spike"),
    "missing_day": ("electricity", "completeness"),
    "transient": ("electricity", "monotonic"),
    "supply_below_return": ("heat", "supply_return"),
}


def _fleet(run: str) -> tuple[list[SyntheticMeter], dict[str, SyntheticMeter], SyntheticMeter]:
    clean = [SyntheticMeter(f"{run}-C{i}", u, terminal=f"{run}-T1")
             for i, u in enumerate(["electricity", "electricity", "water", "water", "heat", "heat"])]
    faulty = {f: SyntheticMeter(f"{run}-{f}", u, faults=frozenset({f}), terminal=f"{run}-T2")
              for f, (u, _) in CASES.items()}
    replaced = SyntheticMeter(f"{run}-replaced", "electricity", faults=frozenset({"replaced"}), terminal=f"{run}-T1")
    return clean, faulty, replaced


async def _meter_known(url: str, meter_id: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        state = await conn.fetchval("SELECT state::text FROM validator.meters WHERE meter_id = $1", meter_id)
        return state is not None and "rep" in state and '"rep": []' not in state
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def fleet_run(service: Service, bus: tuple[BusWatch, BusProducer], database_url: str) -> dict[str, object]:
    watch, producer = bus
    run = f"r{secrets.token_hex(3)}"
    clean, faulty, replaced = _fleet(run)
    await producer.publish(MasterDataChange(
        change_id=f"{run}-rep", entity="meter", entity_id=replaced.meter_id, kind=ChangeKind.REPLACED,
        changed_at=replacement_time(replaced, START), changed_by="archive",
        data={"replaced_at": replacement_time(replaced, START).isoformat(), "initial_reading": 0.0,
              "utility": "electricity"}))
    for _ in range(300):
        if await _meter_known(database_url, replaced.meter_id):
            break
        await asyncio.sleep(0.1)
    everything = [r for m in [*clean, *faulty.values(), replaced] for r in readings(m, START, DAYS)]
    batches = batches_by_day(everything, run)
    await producer.publish_many(batches)
    await until(lambda: len([v for v in watch.validated if v.meter_id.startswith(run)
                             and v.status is not ValidationStatus.ESTIMATED]) >= len(everything), 90)
    return {"run": run, "clean": clean, "faulty": faulty, "replaced": replaced, "batches": batches,
            "readings": everything}


async def test_every_injected_case_is_flagged_by_its_rule_and_clean_meters_by_none(
        fleet_run: dict[str, object], bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    faulty: dict[str, SyntheticMeter] = fleet_run["faulty"]  # type: ignore[assignment]
    # anomalies travel on their own topic: the watch may see them after the last validated reading
    await until(lambda: all(CASES[f][1] in {a.rule for a in watch.of_meter(m.meter_id)[1]}
                            for f, m in faulty.items()), 60)
    for meter in [*fleet_run["clean"], fleet_run["replaced"]]:  # type: ignore[misc]
        validated, anomalies, backfills = watch.of_meter(meter.meter_id)
        assert anomalies == [], (meter.meter_id, [(a.rule, a.item) for a in anomalies])
        assert backfills == []
        assert {v.status for v in validated} == {ValidationStatus.VALID}
    for fault, meter in fleet_run["faulty"].items():  # type: ignore[attr-defined]
        _, anomalies, _ = watch.of_meter(meter.meter_id)
        assert CASES[fault][1] in {a.rule for a in anomalies}, (fault, {a.rule for a in anomalies})
    _, _missing, requests = watch.of_meter(fleet_run["faulty"]["missing_day"].meter_id)  # type: ignore[index]
    assert any("completeness" in b.reason for b in requests)
    estimated = [v for v in watch.validated if v.status is ValidationStatus.ESTIMATED
                 and v.meter_id == fleet_run["faulty"]["missing_day"].meter_id]  # type: ignore[index]
    assert estimated and all(v.method == "profile" for v in estimated)


async def test_one_validated_batch_per_raw_batch_keyed_by_its_terminal(
        fleet_run: dict[str, object], bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    raw: list[RawReadingBatch] = fleet_run["batches"]  # type: ignore[assignment]
    ours = {b.batch_id: b for b in watch.batches if b.batch_id.startswith(f"vee|{fleet_run['run']}/")}
    assert sorted(ours) == sorted(validated_batch_id(b.batch_id) for b in raw)
    for b in raw:
        out = ours[validated_batch_id(b.batch_id)]
        assert out.terminal == b.terminal and watch.keys[out.batch_id] == b.terminal.encode()
        assert {v.meter_id for v in out.readings} <= {r.meter_id for r in b.readings}


async def test_redelivery_gives_no_duplicates(fleet_run: dict[str, object], bus: tuple[BusWatch, BusProducer],
                                              service: Service) -> None:
    watch, producer = bus
    run = str(fleet_run["run"])
    batches: list[RawReadingBatch] = fleet_run["batches"]  # type: ignore[assignment]
    handled = service.vr.batches_handled
    seen = len(watch.ids)
    await producer.publish_many(batches[-5:])  # the same messages again (same ids): the inbox drops them
    again = [b.model_copy(update={"batch_id": b.batch_id + "/re-collected"}) for b in batches[-5:]]
    await producer.publish_many(again)  # the same readings in new batches: the pipeline sees duplicates
    await until(lambda: service.vr.batches_handled >= handled + 5, 30)
    await asyncio.sleep(2.0)  # anything the re-collected batches caused would be on the bus by now
    assert len(watch.ids) == seen
    ours = [v.stable_id() for v in watch.validated if v.meter_id.startswith(run)]
    assert len(ours) == len(set(ours))
    async with service.vr.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM validator.inbox WHERE consumer = 'raw-readings'"
                                   " AND message_id = ANY($1::uuid[])", [b.stable_id() for b in batches]) \
            == len(batches)


async def test_a_held_reading_is_repaired_by_backfill_with_an_audit_trail(
        fleet_run: dict[str, object], bus: tuple[BusWatch, BusProducer], service: Service) -> None:
    watch, producer = bus
    meter: SyntheticMeter = fleet_run["faulty"]["transient"]  # type: ignore[index]
    validated, _anomalies, requests = watch.of_meter(meter.meter_id)
    held = [v for v in validated if v.status is ValidationStatus.HELD]
    assert held and all(v.value is None for v in held)
    request = next(b for b in requests if "monotonic" in b.reason)
    truth = {(r.item, r.data_time): r for r in readings(SyntheticMeter(meter.meter_id, "electricity"), START, DAYS)}
    backfilled = [truth[(item, request.start)].model_copy(update={
        "source": ReadingSource.BACKFILL, "collected_at": request.start + timedelta(days=6)}) for item in request.items]
    await producer.publish(RawReadingBatch(batch_id=f"{request.request_id}/answer", terminal=meter.terminal,
                                           readings=backfilled))
    await until(lambda: len([v for v in watch.validated if v.meter_id == meter.meter_id
                             and v.status is ValidationStatus.REPAIRED]) == len(request.items), 30)
    total = "energy.active.import.total"
    repaired = next(v for v in watch.validated if v.meter_id == meter.meter_id and v.item == total
                    and v.status is ValidationStatus.REPAIRED)
    assert repaired.value == truth[(total, request.start)].value and repaired.method == "backfill"
    resp = await service.client.get(f"/api/v1/meters/{meter.meter_id}/items/{total}/audit",
                                    params={"data_time": request.start.isoformat()})
    assert resp.status_code == 200, resp.text
    audit = resp.json()
    raw_held = next(r for r in fleet_run["readings"] if r.meter_id == meter.meter_id  # type: ignore[attr-defined]
                    and r.item == total and r.data_time == request.start)
    assert audit["held"]["raw_value"] == raw_held.value  # raw, as collected and held
    assert audit["held"]["repair_value"] == repaired.value and audit["held"]["status"] == "repaired"
    assert [(v["status"], v["value"], v["raw_value"]) for v in audit["versions"]] == [
        ("held", None, raw_held.value), ("repaired", repaired.value, repaired.value)]
    assert {a["rule"] for a in audit["anomalies"]} == {"monotonic"}
    queue = await service.client.get("/api/v1/review", params={"meter_id": meter.meter_id, "status": "repaired"})
    assert queue.json()["total"] == len(request.items)
