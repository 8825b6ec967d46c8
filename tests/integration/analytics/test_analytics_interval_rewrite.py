"""The usage intervals a register value changes, rewritten in place: a new value after the last one adds an
interval (no delete: on TimescaleDB a delete probes every chunk), a back-fill splits the interval it falls in,
a correction that leaves no increase removes the interval, a held value removes the intervals on both sides of
it and its neighbours join. Each step is the readings consumer's own transaction (``AnalyticsRuntime.apply``);
the expected intervals are written out by hand."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emms_messages.readings import ValidatedReading, ValidationStatus

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
E = "energy.active.import.total"
MICRO = timedelta(microseconds=1)
DAY1 = datetime(2025, 6, 1, 16, tzinfo=UTC)  # local midnights (UTC+8)
DAY2 = DAY1 + timedelta(days=1)
NOON2 = DAY2 + timedelta(hours=12)
DAY3 = DAY2 + timedelta(days=1)


async def test_intervals_follow_new_late_corrected_and_held_values(analytics: tuple[Any, Any]) -> None:
    ar, _ = analytics
    meter = f"MI-{secrets.token_hex(3)}"
    step = 0

    async def store(*values: tuple[datetime, float | None]) -> dict[datetime, tuple[datetime, float]]:
        nonlocal step
        step += 1
        readings = [ValidatedReading(meter_id=meter, item=E, data_time=t, value=v if v is not None else 0.0,
                                     unit="kWh",
                                     status=ValidationStatus.HELD if v is None else ValidationStatus.VALID,
                                     validated_at=DAY3 + timedelta(hours=step)) for t, v in values]
        async with ar.pool.acquire() as conn:
            async with conn.transaction():
                await ar.apply(conn, readings)
            rows = await conn.fetch("SELECT at, starts_at, delta FROM analytics.usage_interval"
                                    " WHERE meter_id = $1 AND item = $2", meter, E)
        return {r["at"] + MICRO: (r["starts_at"], r["delta"]) for r in rows}

    assert await store((DAY1, 100.0)) == {}  # a first value: no interval
    assert await store((DAY2, 110.0)) == {DAY2: (DAY1, 10.0)}
    assert await store((DAY3, 125.0)) == {DAY2: (DAY1, 10.0), DAY3: (DAY2, 15.0)}
    # a back-fill inside the last interval splits it: the interval ending at DAY3 is rewritten in place
    assert await store((NOON2, 117.0)) == {DAY2: (DAY1, 10.0), NOON2: (DAY2, 7.0), DAY3: (NOON2, 8.0)}
    # a correction below the previous value (no register width: not a roll-over) leaves no interval there
    assert await store((DAY3, 105.0)) == {DAY2: (DAY1, 10.0), NOON2: (DAY2, 7.0)}
    # held: the value is withheld, the intervals on both sides of it go and its neighbours join
    assert await store((DAY3, 130.0)) == {DAY2: (DAY1, 10.0), NOON2: (DAY2, 7.0), DAY3: (NOON2, 13.0)}
    assert await store((NOON2, None)) == {DAY2: (DAY1, 10.0), DAY3: (DAY2, 20.0)}
    # the same reading again (redelivery): nothing changes
    assert await store((NOON2, None)) == {DAY2: (DAY1, 10.0), DAY3: (DAY2, 20.0)}
