"""Envelopes: stable ids from natural keys, exact round trip, frozen payloads, one topic per payload."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from emms_messages import TOPICS, Envelope, topic_for, wrap
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _reading(value: float | None, meter: str = "M1") -> Reading:
    return Reading(meter_id=meter, item="energy.active.import.total", data_time=T0, value=value, unit="kWh",
                   source=ReadingSource.SCHEDULED, collected_at=datetime.now(UTC))


@given(st.floats(allow_nan=False, allow_infinity=False) | st.none(), st.text(min_size=1, max_size=20))
def test_round_trip_and_stable_id(value: float | None, meter: str) -> None:
    batch = RawReadingBatch(batch_id=f"b-{meter}", terminal="3201-00001", readings=[_reading(value, meter)])
    env = wrap(batch, "test")
    back = Envelope[RawReadingBatch].model_validate_json(env.to_bytes())
    assert back == env
    assert wrap(batch, "other-source").message_id == env.message_id  # the id is the fact's, not the send's


def test_same_fact_same_id_different_fact_different_id() -> None:
    a, b = _reading(1.0), _reading(1.0)
    assert a.stable_id() == b.stable_id()  # collected_at differs, the natural key does not
    assert _reading(1.0, "M2").stable_id() != a.stable_id()


def test_payloads_are_frozen_and_strict() -> None:
    r = _reading(1.0)
    with pytest.raises(ValidationError):
        r.value = 2.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Reading.model_validate({**r.model_dump(), "unexpected": 1})


def test_every_payload_has_exactly_one_topic_and_a_key() -> None:
    payloads = [t.payload for t in TOPICS.values()]
    assert len(payloads) == len(set(payloads))
    batch = RawReadingBatch(batch_id="b", terminal="3201-00001", readings=[_reading(1.0)])
    assert topic_for(batch).name == "emms.reading.raw.v1"
    assert topic_for(batch).key_of(batch) == b"3201-00001"
    assert all(t.name.startswith("emms.") and t.name.endswith(".v1") for t in TOPICS.values())
