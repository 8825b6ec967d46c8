"""The row decoder of ``reading.raw`` gives exactly what the pydantic model gives, or its error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from emms_messages.envelope import envelope_model, wrap
from emms_messages.raw_rows import ROW_COLUMNS, RawRows, decode_raw_rows
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource

MODEL = envelope_model(RawReadingBatch)
T0 = datetime(2026, 1, 1, tzinfo=UTC)

times = st.builds(lambda s, us: T0 + timedelta(seconds=s, microseconds=us),
                  st.integers(-10**8, 10**8), st.sampled_from([0, 0, 123000, 456789]))
readings = st.builds(
    Reading, meter_id=st.text(min_size=1, max_size=12), item=st.sampled_from(["energy.active.import.total", "volume"]),
    data_time=times, value=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    unit=st.sampled_from(["kWh", "m3", ""]), source=st.sampled_from(list(ReadingSource)), collected_at=times,
    quality=st.integers(-(2**31), 2**31 - 1), terminal=st.none() | st.sampled_from(["", "44010001"]),
    pn=st.none() | st.integers(0, 2040))
batches = st.builds(RawReadingBatch, batch_id=st.text(min_size=1, max_size=10), terminal=st.text(max_size=10),
                    readings=st.lists(readings, min_size=1, max_size=5))


def _reference(raw: bytes | str) -> Any:
    """What the pydantic model gives: (header, rows) or the ValidationError's type."""
    try:
        env = MODEL.model_validate_json(raw)
    except ValidationError:
        return ValidationError
    return (env.schema_name, env.version, env.message_id, env.produced_at, env.source, env.trace_id,
            RawRows.of(env.payload))


def _decoded(raw: bytes | str) -> Any:
    try:
        env = decode_raw_rows(raw if isinstance(raw, bytes) else raw.encode())
    except ValidationError:
        return ValidationError
    return (env.schema_name, env.version, env.message_id, env.produced_at, env.source, env.trace_id, env.payload)


@given(batches)
def test_canonical_messages_decode_to_the_models_rows(batch: RawReadingBatch) -> None:
    raw = wrap(batch, "emms-collector", trace_id="t-1").to_bytes()
    assert _decoded(raw) == _reference(raw)
    rows = decode_raw_rows(raw).payload.rows
    assert len(rows) == len(batch.readings) and all(len(r) == len(ROW_COLUMNS) for r in rows)
    assert [r[2] for r in rows] == [r.data_time for r in batch.readings]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=8) | st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T08:00:00+08:00",
                                                                   "2026-01-01", "1767225600", "scheduled"]),
                           lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner,
                                                                                       max_size=2), max_leaves=4)


@settings(max_examples=300)
@given(batches, st.data())
def test_altered_messages_are_decided_as_the_model_decides(batch: RawReadingBatch, data: st.DataObject) -> None:
    doc = json.loads(wrap(batch, "emms-collector").to_bytes())
    where = data.draw(st.sampled_from(["envelope", "payload", "reading"]))
    target = {"envelope": doc, "payload": doc["payload"], "reading": doc["payload"]["readings"][0]}[where]
    key = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=6))
    action = data.draw(st.sampled_from(["set", "delete"]))
    if action == "delete":
        target.pop(key, None)
    else:
        target[key] = data.draw(json_values)
    raw = json.dumps(doc)
    assert _decoded(raw) == _reference(raw)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'{"schema": "reading.raw"}', b"\xff\xfe"])
def test_malformed_messages_raise_the_models_error(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        decode_raw_rows(raw)


def test_coercions_the_model_accepts_are_kept() -> None:
    batch = RawReadingBatch(batch_id="b", terminal="T", readings=[
        Reading(meter_id="M", item="x", data_time=T0, value=1.0, unit="kWh", source=ReadingSource.SCHEDULED,
                collected_at=T0)])
    doc = json.loads(wrap(batch, "c").to_bytes())
    doc["payload"]["readings"][0].update(value=7, data_time="2026-01-01T08:00:00+08:00")
    env = decode_raw_rows(json.dumps(doc).encode())
    (row,) = env.payload.rows
    assert row[4] == 7.0 and isinstance(row[4], float) and row[2] == T0  # int → float; the offset → the same instant


def test_canonical_messages_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the producers emit never reaches the model (that is the point of the decoder)."""
    import emms_messages.raw_rows as raw_rows

    batch = RawReadingBatch(batch_id="b", terminal="T", readings=[
        Reading(meter_id="M", item="x", data_time=T0, value=None, unit="kWh", source=ReadingSource.MANUAL,
                collected_at=T0 + timedelta(microseconds=5), pn=3)])
    monkeypatch.setattr(raw_rows, "envelope_model", None)  # any use of the model would now fail
    assert decode_raw_rows(wrap(batch, "c").to_bytes()).payload == RawRows.of(batch)


def test_canonical_timestamps_come_out_in_utc() -> None:
    """Rows carry ``datetime.UTC`` (not pydantic's own tz object, which is slow to compare and to COPY)."""
    batch = RawReadingBatch(batch_id="b", terminal="T", readings=[
        Reading(meter_id="M", item="x", data_time=T0, value=1.0, unit="kWh", source=ReadingSource.SCHEDULED,
                collected_at=T0 + timedelta(milliseconds=5))])
    (row,) = decode_raw_rows(wrap(batch, "c").to_bytes()).payload.rows
    assert row[2].tzinfo is UTC and row[6].tzinfo is UTC
