"""A validator stopped and started again continues from its persisted state."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from validator_harness import BusWatch, batches_by_day, running_validator, until, validator_settings, watching_bus

from emms_bus import BusProducer, KafkaSettings, ensure_topics
from emms_messages.readings import ValidationStatus
from emms_validator.synthetic import SyntheticMeter, readings

pytestmark = pytest.mark.integration
START = datetime(2026, 1, 1, tzinfo=UTC)


async def test_restart_keeps_state(database_url: str, kafka_settings: KafkaSettings) -> None:
    """On topics of its own: no other validator of the session is in the group to take the run's partition."""
    run = f"s{secrets.token_hex(3)}"
    ks = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}{run}."})
    await ensure_topics(ks)
    async with watching_bus(ks) as (watch, producer):
        await _restart(watch, producer, ks, database_url, run)


async def _restart(watch: BusWatch, producer: BusProducer, kafka_settings: KafkaSettings, database_url: str,
                   run: str) -> None:
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
