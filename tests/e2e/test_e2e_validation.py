"""End to end: the simulator's field realities and injected transport faults → the real validator → the bus.

A small simulated fleet (seed 1) over three weeks that the seed itself makes eventful: the period is
centred on an electricity meter the field replaces (nobody tells the archive), and the terminals are
those holding it, a water / gas meter whose valve reports closed while water still flows, and meter
clocks drifting past tolerance. Two transport faults are injected the way a collector would see them:
a day not delivered for one meter, and one corrupted delivered register value.

The truth becomes what the collector publishes: daily frozen registers (the freeze of day D is the
register at local 24:00 of D, ``GroundTruth.daily_freeze_instant``) of electricity and heat meters in
one ``RawReadingBatch`` per terminal and day; CJ/T 188 water and gas meters keep no history, so they are
read hourly (volume and the status word's valve and battery bits), one batch per terminal and round;
the terminals' ERC 12 records (meter clock out of tolerance) as ``DeviceEvent``. All of it goes through
the real broker to the real validator service (its own database and topic prefix), and what it
publishes is checked: every case flagged by its rule, the missing day re-requested, and no finding
at all on the other meters.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from emms_bus import BusProducer, KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_messages.events import DeviceEvent, EventClass
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource, ValidationStatus
from emms_protocol.items import ITEMS
from emms_sim.field_events import FieldEvent
from emms_sim.fleet import FleetConfig, MeterSpec
from emms_sim.truth import GroundTruth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "validator"))
from validator_harness import BusWatch, running_validator, until, validator_settings, watching_bus

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.both_storage_modes]

CONFIG = FleetConfig(seed=1, concentrators=200, meters_per=10)
SEARCH_FROM = datetime(2026, 5, 1, tzinfo=UTC)  # far from the heating season's start and end
SEARCH_TO = datetime(2026, 9, 30, tzinfo=UTC)
DAYS_BEFORE, DAYS_AFTER = 16, 4  # around the replacement: history for the profile, three held days after
HISTORY_DAYS = 6  # no injected case before this many days of history
DAILY_ITEMS = {"electricity": ["energy.active.import.total", *(f"energy.active.import.t{n}" for n in range(1, 5))],
               "heat": ["heat.energy"]}
HOURLY_ITEMS = {"water": ["water.volume", "valve.state", "battery.low"],
                "gas": ["gas.volume", "valve.state", "battery.low"]}
READ_AFTER = {"daily": timedelta(minutes=25), "hourly": timedelta(minutes=1)}  # collection after the data time
SPIKE_ITEM = "energy.active.import.total"
CORRUPTION = 1000.0  # the thousands digit of the delivered register came through wrong
MIN_VISIBLE_FLOW = 0.02  # m³ the register must advance while the valve is seen closed (two LSBs)


@dataclass
class Scenario:
    truth: GroundTruth
    days: list[date]
    terminals: list[int]
    replaced: MeterSpec
    leaks: list[FieldEvent]  # valve closed while flowing, visible in the hourly reads
    clock_drifts: list[FieldEvent]
    spike: tuple[str, date]
    missing: tuple[str, date]
    clean: list[str]  # meters with no case and no field reality that touches their readings
    batches: list[RawReadingBatch] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return self.truth.daily_freeze_instant(self.days[0] - timedelta(days=1))

    @property
    def end(self) -> datetime:
        return self.truth.daily_freeze_instant(self.days[-1])


def _key(truth: GroundTruth, index: int) -> str:
    return truth.fleet.terminal(index).key


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    t = start
    while t <= end:
        yield t
        t += timedelta(hours=1)


def _find_replacement(truth: GroundTruth) -> MeterSpec:
    """The first electricity meter the field replaces in the search window (a base point, never removed)."""
    lo, hi = SEARCH_FROM.timestamp(), SEARCH_TO.timestamp()
    found = [m for i in truth.fleet.terminals() for m in truth.fleet.meters_of(i)
             if m.utility == "electricity" and m.replaced_at is not None and lo <= m.replaced_at < hi
             and m.pn <= CONFIG.meters_per and m.removed_at is None and m.rollover_at is None]
    assert found, "the seed replaces no electricity meter in the search window"
    return min(found, key=lambda m: m.replaced_at or 0.0)


def _volume_item(meter: MeterSpec) -> str:
    return f"{meter.utility}.volume"


def _visible_leak(truth: GroundTruth, event: FieldEvent) -> bool:
    """The hourly reads see the valve closed at two reads in a row or more and the volume advancing between."""
    meter = truth.meter(str(event.meter_id))
    start = datetime.fromtimestamp(event.ts, UTC)
    until_ = datetime.fromtimestamp(float(event.detail["until"]), UTC)  # type: ignore[arg-type]
    closed = [truth.reading(meter.meter_id, t) for t in _hours(start.replace(minute=0) + timedelta(hours=1), until_)]
    volumes = [r[_volume_item(meter)] for r in closed if r is not None and r.get("valve.state") == 0.0]
    return len(volumes) >= 2 and (volumes[-1] or 0.0) - (volumes[0] or 0.0) >= MIN_VISIBLE_FLOW - 1e-9


def _events(truth: GroundTruth, terminal: int, days: list[date]) -> list[FieldEvent]:
    return truth.events(terminal, truth.daily_freeze_instant(days[0] - timedelta(days=1)),
                        truth.daily_freeze_instant(days[-1]))


@cache
def scenario() -> Scenario:
    """Everything the test delivers and expects, from the simulator's seed (pure; a second or two)."""
    truth = GroundTruth(CONFIG)
    replaced = _find_replacement(truth)
    replaced_day = truth.local_today(datetime.fromtimestamp(replaced.replaced_at or 0.0, UTC))
    days = [replaced_day + timedelta(days=k) for k in range(-DAYS_BEFORE, DAYS_AFTER + 1)]
    cases_from = truth.daily_freeze_instant(days[HISTORY_DAYS]).timestamp()

    def visible_leaks(events: list[FieldEvent]) -> list[FieldEvent]:
        return [e for e in events if e.kind == "valve_closed_flowing" and _visible_leak(truth, e)]

    leak_terminal = next(i for i in truth.fleet.terminals()
                         if any(e.ts >= cases_from for e in visible_leaks(_events(truth, i, days))))
    terminals = sorted({replaced.terminal_index, leak_terminal})
    events = [e for i in terminals for e in _events(truth, i, days)]
    touched = {e.meter_id for e in events if e.kind in ("valve_closed_flowing", "meter_clock_drift",
                                                        "meter_replaced", "meter_removed", "meter_added")}
    first_freeze = truth.daily_freeze_instant(days[0]).timestamp()
    untouched = [m for i in terminals for m in truth.fleet.meters_of(i)
                 if m.meter_id not in touched and m.present(first_freeze) and m.rollover_at is None]
    spare = [m.meter_id for m in untouched if m.utility == "electricity"]
    spike, missing = (spare[0], days[HISTORY_DAYS + 5]), (spare[1], days[HISTORY_DAYS + 3])
    clock_drifts = [e for e in events if e.kind == "meter_clock_drift"]
    scen = Scenario(truth, days, terminals, replaced, visible_leaks(events), clock_drifts, spike, missing,
                    [m.meter_id for m in untouched if m.meter_id not in (spike[0], missing[0])])
    scen.batches = _deliveries(scen)
    scen.events = [_erc12(truth, e) for e in clock_drifts]
    return scen


def _reading(truth: GroundTruth, meter: MeterSpec, item: str, at: datetime, value: float, kind: str) -> Reading:
    return Reading(meter_id=meter.meter_id, item=item, data_time=at, value=value, unit=ITEMS[item].unit,
                   source=ReadingSource.SCHEDULED, collected_at=at + READ_AFTER[kind],
                   terminal=_key(truth, meter.terminal_index), pn=meter.pn)


def _read(scen: Scenario, meter: MeterSpec, items: list[str], at: datetime, kind: str) -> list[Reading]:
    """What the collector publishes for one meter at one data time, with the injected transport faults."""
    truth = scen.truth
    values = truth.reading(meter.meter_id, at)
    if values is None:  # not installed (yet), or removed
        return []
    day = truth.local_today(at - timedelta(seconds=1))
    if (meter.meter_id, day) == scen.missing and kind == "daily":
        return []  # the meter did not answer that day
    out = []
    for item in items:
        value = values.get(item)
        if value is None:
            continue
        if (meter.meter_id, day) == scen.spike and item == SPIKE_ITEM and kind == "daily":
            value += CORRUPTION
        out.append(_reading(truth, meter, item, at, value, kind))
    return out


def _deliveries(scen: Scenario) -> list[RawReadingBatch]:
    """Daily frozen registers and hourly 188 reads: one batch per terminal and collection, in time order."""
    truth, out = scen.truth, []
    meters = [m for i in scen.terminals for m in truth.fleet.meters_of(i)]
    freezes = {truth.daily_freeze_instant(d) for d in scen.days}
    for at in _hours(scen.start, scen.end):
        for terminal in scen.terminals:
            key = _key(truth, terminal)
            mine = [m for m in meters if m.terminal_index == terminal]
            hourly = [r for m in mine if m.utility in HOURLY_ITEMS for r in _read(scen, m, HOURLY_ITEMS[m.utility],
                                                                                  at, "hourly")]
            if hourly:
                out.append(RawReadingBatch(batch_id=f"e2e/hourly/{key}/{at.isoformat()}", terminal=key,
                                           readings=hourly))
            daily = [r for m in mine if m.utility in DAILY_ITEMS and at in freezes
                     for r in _read(scen, m, DAILY_ITEMS[m.utility], at, "daily")]
            if daily:
                out.append(RawReadingBatch(batch_id=f"e2e/daily/{key}/{at.isoformat()}", terminal=key,
                                           readings=daily))
    return out


def _erc12(truth: GroundTruth, e: FieldEvent) -> DeviceEvent:
    """The terminal's ERC 12 record (meter clock out of tolerance, started) as the collector publishes it."""
    at = datetime.fromtimestamp(e.ts, UTC)
    return DeviceEvent(terminal=_key(truth, e.terminal_index), meter_id=e.meter_id, code="ERC12",
                       event_class=EventClass.NORMAL, occurred_at=at, received_at=at + timedelta(minutes=5),
                       detail={"pn": e.pn, "started": True, "erc": 12, "name": "meter clock drift", "raw": ""})


# ---- the run on the real broker and database ----------------------------------------------------------------


@pytest.fixture(scope="module")
async def published(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[tuple[Scenario, BusWatch]]:
    """The validator in its own database and topic prefix; the scenario published; its outputs collected."""
    scen = scenario()
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/emms_e2e_vee_{secrets.token_hex(3)}"))
    await ensure_database(url)
    ks = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}vee{secrets.token_hex(2)}."})
    await ensure_topics(ks)
    try:
        async with watching_bus(ks) as (watch, producer), running_validator(validator_settings(url, ks)) as service:
            await _publish(producer, scen)
            n = sum(len(b.readings) for b in scen.batches)
            await until(lambda: service.vr.readings_handled >= n, timeout_s=40)
            await until(lambda: len(watch.anomalies) >= _at_least(scen), timeout_s=10)
            await _settle(watch)
            yield scen, watch
    finally:
        await drop_database(url)


async def _publish(producer: BusProducer, scen: Scenario) -> None:
    await producer.publish_many(scen.events)
    for i in range(0, len(scen.batches), 200):
        await producer.publish_many(scen.batches[i:i + 200])


def _at_least(scen: Scenario) -> int:
    return len(scen.leaks) + len(scen.clock_drifts) + 3  # and spike, missing day, baseline reset


async def _settle(watch: BusWatch) -> None:
    """Wait until the outputs stop growing (the last batches' messages are on the bus)."""
    seen = -1
    while seen != len(watch.ids):
        seen = len(watch.ids)
        await asyncio.sleep(1.0)


def test_the_scenario_holds_every_case() -> None:
    scen = scenario()
    assert len(scen.days) == DAYS_BEFORE + DAYS_AFTER + 1 and len(scen.terminals) <= 2
    assert scen.leaks and scen.clock_drifts and len(scen.clean) >= 5
    assert scen.replaced.meter_id not in scen.clean and scen.spike[0] != scen.missing[0]


async def test_every_injected_case_is_flagged_by_its_rule_and_by_nothing_else(
        published: tuple[Scenario, BusWatch]) -> None:
    scen, watch = published
    found = _findings(watch)
    allowed: dict[str, set[str]] = {}
    for leak in scen.leaks:  # flagged while the valve was closed (at the first hourly read that shows the flow)
        meter_id = str(leak.meter_id)
        closed_from = datetime.fromtimestamp(leak.ts, UTC)
        closed_until = datetime.fromtimestamp(float(leak.detail["until"]), UTC)  # type: ignore[arg-type]
        times = [t for rule, t in found.get(meter_id, []) if rule == "valve_closed_flow"]
        assert len(times) == 1 and closed_from < times[0] <= closed_until + timedelta(hours=1), (leak, times)
        allowed[meter_id] = {"valve_closed_flow"}
    replaced = scen.replaced.meter_id  # unrecorded: the register falls, is held, then the baseline moves
    swap = datetime.fromtimestamp(scen.replaced.replaced_at or 0.0, UTC)
    assert {t for rule, t in found.get(replaced, []) if rule == "baseline_reset"} == {
        scen.truth.daily_freeze_instant(scen.truth.local_today(swap) + timedelta(days=2))}, found.get(replaced)
    assert min(t for _, t in found[replaced]) > swap
    allowed[replaced] = {"monotonic", "baseline_reset"}
    for drift in scen.clock_drifts:  # the terminal's ERC 12, judged against the meter clock tolerance
        meter_id = str(drift.meter_id)
        assert ("clock_tolerance", datetime.fromtimestamp(drift.ts, UTC)) in found.get(meter_id, []), (drift, found)
        allowed[meter_id] = {"clock_tolerance"}
    meter_id, day = scen.spike
    assert ("spike", scen.truth.daily_freeze_instant(day)) in found.get(meter_id, []), found.get(meter_id)
    allowed[meter_id] = {"spike", "tariff_sum"}  # only the total came through wrong: it no longer sums up either
    meter_id, day = scen.missing
    assert {(rule, t) for rule, t in found.get(meter_id, [])} == {
        ("completeness", scen.truth.daily_freeze_instant(day))}, found.get(meter_id)
    allowed[meter_id] = {"completeness"}
    for meter_id, findings in found.items():
        assert {rule for rule, _ in findings} <= allowed.get(meter_id, set()), (meter_id, findings)


def _findings(watch: BusWatch) -> dict[str, list[tuple[str, datetime]]]:
    out: dict[str, list[tuple[str, datetime]]] = {}
    for a in watch.anomalies:
        out.setdefault(a.meter_id, []).append((a.rule, a.data_time))
    return out


async def test_clean_meters_have_no_finding_and_are_published_valid(published: tuple[Scenario, BusWatch]) -> None:
    scen, watch = published
    for meter_id in scen.clean:
        validated, anomalies, backfills = watch.of_meter(meter_id)
        assert anomalies == [], (meter_id, [(a.rule, a.item, a.data_time.isoformat()) for a in anomalies])
        assert backfills == [], meter_id
        assert validated and {v.status for v in validated} == {ValidationStatus.VALID}, meter_id


async def test_the_missing_day_is_requested_again(published: tuple[Scenario, BusWatch]) -> None:
    scen, watch = published
    meter_id, day = scen.missing
    _, _, backfills = watch.of_meter(meter_id)
    instant = scen.truth.daily_freeze_instant(day)
    assert any(b.start <= instant <= b.end and "completeness" in b.reason
               and set(DAILY_ITEMS["electricity"]) <= set(b.items) for b in backfills), backfills
