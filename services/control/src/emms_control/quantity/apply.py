"""Quantity control over validated reading batches, in the consumer's transaction (after charges).

For every meter of the batches with a limit: its counted register (the total; for electricity the
sum of t1…t4 when the total is missing) at each validated data time advances the counter of each
of its periods (``rules.advance``). The first crossing of a period records the period in
``quantity_exceeded`` (one row per meter, period and key: a redelivered batch cannot record it
twice), an outbound notice, and — for action ``cut`` — one action for the command path with origin
``quantity`` (trip for electricity, valve close for water / gas / heat). The consumer's inbox
claim in the same transaction makes the whole effect happen once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from emms_control import metrics
from emms_control.charges.usage import TOTAL, points
from emms_control.prepayment.rules import cut_action
from emms_control.quantity.rules import Period, advance, period_key
from emms_control.repository import prepayment as actions_repo
from emms_control.repository import quantity as repo
from emms_db.connection import Connection
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch

ORIGIN = "quantity"


@dataclass
class Counted:
    exceeded: int = 0
    actions: int = 0


def _register(values: dict[str, Decimal]) -> Decimal | None:
    if TOTAL in values:
        return values[TOTAL]
    rates = [values[k] for k in ("t1", "t2", "t3", "t4") if k in values]
    return sum(rates, Decimal(0)) if len(rates) == 4 else None


async def count_batches(conn: Connection, batches: Sequence[ValidatedReadingBatch]) -> Counted:
    by_meter: dict[str, list[ValidatedReading]] = {}
    for batch in batches:
        for r in batch.readings:
            by_meter.setdefault(r.meter_id, []).append(r)
    out = Counted()
    limits = await repo.limits(conn, sorted(by_meter))
    if not limits:
        return out
    counters = await repo.counters(conn, sorted({r["meter_id"] for r in limits}))
    for limit in limits:
        meter_id, period = limit["meter_id"], limit["period"]
        counter = counters.get((meter_id, period))
        changed = False
        for point in points(by_meter[meter_id], limit["utility"]):
            value = _register(point.values)
            if value is None:
                continue
            key = period_key(point.data_time, Period(period), limit["utc_offset_minutes"])
            step = advance(counter, value, point.data_time, key, limit["usage_limit"])
            if step is None:
                continue
            counter, changed = step.counter, True
            if step.crossed and await repo.record_exceeded(conn, meter_id, period, counter, limit["usage_limit"],
                                                           limit["action"]):
                out.exceeded += 1
                out.actions += await _act(conn, limit, counter.period_key, counter.used)
        if changed and counter is not None:
            await repo.save_counter(conn, meter_id, period, counter)
    return out


async def _act(conn: Connection, row: asyncpg.Record, key: str, used: Decimal) -> int:
    meter_id, period, action = row["meter_id"], row["period"], row["action"]
    message = (f"{meter_id} used {used} in {period} {key}, above its limit {row['usage_limit']}"
               f" ({'supply cut' if action == 'cut' else 'alarm only'})")
    await actions_repo.notify(conn, None, meter_id, "quantity_exceeded", message,
                              {"period": period, "period_key": key, "used": str(used),
                               "limit": str(row["usage_limit"]), "action": action})
    metrics.QUANTITY_EXCEEDED.labels(period, action).inc()
    if action != "cut":
        return 0
    await actions_repo.add_action(conn, ORIGIN, None, meter_id, cut_action(row["utility"]), message,
                                  {"period": period, "period_key": key, "used": str(used)})
    return 1
