"""A validator stopped and started again continues from its persisted state."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from validator_harness import BusWatch, batches_by_day, running_validator, until, validator_settings

from emms_bus import BusProducer, KafkaSettings
from emms_messages.readings import ValidationStatus
from emms_validator.synthetic import SyntheticMeter, readings

pytestmark = pytest.mark.integration
START = datetime(2026, 1, 1, tzinfo=UTC)


async def test_restart_keeps_state(bus: tuple[BusWatch, BusProducer], database_url: str,
                                   kafka_settings: KafkaSettings) -> None:
    watch, producer = bus
    run = f"s{secrets.token_hex(3)}"
    meter = SyntheticMeter(f"{run}-M", "electricity", faults=frozenset({"spike"}), fault_day=33, terminal=f"{run}-T")
    series = readings(meter, START, 35)
    cut = START + timedelta(days=30)
    before = [r for r in series if r.data_time < cut]
    after = [r for r in series if r.data_time >= cut]
    settings = validator_settings(database_url, kafka_settings)
    async with running_validator(settings) as first:
        await producer.publish_many(batches_by_day(before, run))
        await until(lambda: len(watch.of_meter(meter.meter_id)[0]) >= len(before), 60)
        handled = first.vr.readings_handled
    assert handled == len(before)
    async with running_validator(settings) as second:  # a new process: nothing in memory
        await producer.publish_many(batches_by_day(after, run))
        await until(lambda: len(watch.of_meter(meter.meter_id)[0]) >= len(series), 60)
        assert second.vr.readings_handled == len(after)  # the first run's batches were committed, not redone
    validated, anomalies, _ = watch.of_meter(meter.meter_id)
    # the baseline and the history survived: no gap at the restart, and the spike after it is seen
    assert {a.rule for a in anomalies} == {"spike"}, [(a.rule, a.item, a.data_time) for a in anomalies]
    assert {a.data_time.date() for a in anomalies} == {(START + timedelta(days=33) - timedelta(hours=8)).date()}
    assert len([v for v in validated if v.status is ValidationStatus.HELD]) == 5
