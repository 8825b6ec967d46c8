"""Load the state a batch of readings needs and save what the pipeline changed — one transaction.

Loading locks the series rows of the batch (in key order, so two replicas
during a rebalance queue instead of deadlocking). Held points and open gaps
are only looked up for readings at or before a series' latest received time
(back-fill, re-reads, late data): ordinary forward readings cost no extra query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from emms_db.connection import Connection
from emms_messages.readings import Reading, ValidatedReading
from emms_validator.engine.points import epoch
from emms_validator.engine.records import GapRecord, HeldRecord, MeterOutcome
from emms_validator.model import MeterInfo
from emms_validator.pipeline import BatchContext, BatchResult
from emms_validator.state import MeterState, SeriesState


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


@dataclass(slots=True)
class Loaded:
    ctx: BatchContext
    meter_json: dict[str, str] = field(default_factory=dict)  # meter state as loaded, to save only changes


def meter_info_of(r: asyncpg.Record) -> MeterInfo:
    return MeterInfo(
        meter_id=r["meter_id"], utility=r["utility"], meter_type=r["meter_type"], customer_id=r["customer_id"],
        customer_category=r["customer_category"], register_modulus=r["register_modulus"],
        multiplier=r["multiplier"], key_customer=bool(r["key"]), active=r["active"],
    )


METER_SELECT = """
SELECT m.meter_id, m.utility, m.meter_type, m.customer_id, m.customer_category, m.register_modulus,
       m.multiplier, m.active, m.state::text AS state,
       (k.customer_id IS NOT NULL OR EXISTS (
           SELECT 1 FROM {s}.key_customer_rules r
           WHERE r.min_daily_consumption IS NULL AND r.customer_category = m.customer_category
             AND (r.utility IS NULL OR r.utility = m.utility))) AS key
FROM {s}.meters m LEFT JOIN {s}.key_customers k ON k.customer_id = m.customer_id AND m.customer_id <> ''
"""


async def load_meters(conn: Connection, schema: str, meter_ids: Sequence[str]) -> list[tuple[MeterInfo, str]]:
    rows = await conn.fetch(METER_SELECT.format(s=schema) + " WHERE m.meter_id = ANY($1::text[])", list(meter_ids))
    return [(meter_info_of(r), r["state"]) for r in rows]


async def load_context(conn: Connection, schema: str, readings: Sequence[Reading]) -> Loaded:
    loaded = Loaded(BatchContext())
    ctx = loaded.ctx
    for info, state in await load_meters(conn, schema, sorted({r.meter_id for r in readings})):
        ctx.meters[info.meter_id] = info
        ctx.meter_states[info.meter_id] = MeterState.from_json(json.loads(state))
        loaded.meter_json[info.meter_id] = json.dumps(ctx.meter_states[info.meter_id].to_json())
    keys = sorted({(r.meter_id, r.item) for r in readings})
    rows = await conn.fetch(
        f"SELECT s.meter_id, s.item, s.packed FROM {schema}.series_state s"
        " JOIN unnest($1::text[], $2::text[]) AS k(m, i) ON s.meter_id = k.m AND s.item = k.i"
        " ORDER BY s.meter_id, s.item FOR UPDATE OF s",
        [m for m, _ in keys], [i for _, i in keys])
    for r in rows:
        ctx.series[(r["meter_id"], r["item"])] = SeriesState.unpack(r["item"], r["packed"])
    await _load_revisits(conn, schema, readings, ctx)
    return loaded


async def _load_revisits(conn: Connection, schema: str, readings: Sequence[Reading], ctx: BatchContext) -> None:
    """Held points and open gaps for readings that come back to an already received time."""
    again: list[Reading] = []
    for r in readings:
        s = ctx.series.get((r.meter_id, r.item))
        if s is None:
            continue
        latest = max(s.last_t or 0.0, s.latest_received or 0.0)
        if epoch(r.data_time) <= latest:
            again.append(r)
    if not again:
        return
    args = ([r.meter_id for r in again], [r.item for r in again], [r.data_time for r in again])
    held = await conn.fetch(
        f"SELECT DISTINCT h.meter_id, h.item, h.data_time, h.raw_value, h.prev_time, h.prev_value, h.rules, h.status"
        f" FROM {schema}.held h JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(m, i, t)"
        " ON h.meter_id = k.m AND h.item = k.i AND h.data_time = k.t", *args)
    for h in held:
        t = h["data_time"].timestamp()
        ctx.held.setdefault(h["meter_id"], {})[(h["item"], t)] = HeldRecord(
            h["item"], t, h["raw_value"], h["prev_time"].timestamp() if h["prev_time"] else None, h["prev_value"],
            tuple(h["rules"]), h["status"])
    gaps = await conn.fetch(
        f"SELECT DISTINCT g.meter_id, g.item, g.prev_time, g.next_time, g.prev_value, g.next_value, g.interval_s,"
        f" g.missing, g.estimated FROM {schema}.gaps g"
        " JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(m, i, t)"
        " ON g.meter_id = k.m AND g.item = k.i AND g.prev_time < k.t AND g.next_time > k.t WHERE g.status = 'open'",
        *args)
    for g in gaps:
        ctx.gaps.setdefault(g["meter_id"], []).append(GapRecord(
            g["item"], g["prev_time"].timestamp(), g["next_time"].timestamp(), g["prev_value"], g["next_value"],
            g["interval_s"], g["missing"], g["estimated"]))


async def save_result(conn: Connection, schema: str, loaded: Loaded, result: BatchResult,
                      deadline_s: float) -> None:
    ctx = loaded.ctx
    changed_meters = {o.meter_id for o in result.outcomes if o.state_changed}
    keys = sorted(k for k in ctx.series if k[0] in changed_meters)
    if keys:
        states = [ctx.series[k] for k in keys]
        await conn.execute(
            f"INSERT INTO {schema}.series_state (meter_id, item, last_time, last_value, packed)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[], $5::bytea[])"
            " ON CONFLICT (meter_id, item) DO UPDATE SET last_time = EXCLUDED.last_time,"
            " last_value = EXCLUDED.last_value, packed = EXCLUDED.packed, updated_at = now()",
            [k[0] for k in keys], [k[1] for k in keys], [_dt(s.last_t) for s in states],
            [s.last_value for s in states], [s.pack() for s in states])
    await save_meter_states(conn, schema, {m: ctx.meter_states[m] for m in sorted(ctx.meter_states)},
                            loaded.meter_json)
    await insert_anomalies(conn, schema, result)
    for outcome in result.outcomes:
        await _save_held_and_gaps(conn, schema, outcome, deadline_s)
    await insert_versions(conn, schema, [v for v, _ in result.versions], actor="validator",
                          raw_values=[raw for _, raw in result.versions])


async def save_meter_states(conn: Connection, schema: str, states: dict[str, MeterState],
                            before: dict[str, str]) -> None:
    changed = {m: json.dumps(s.to_json()) for m, s in states.items()}
    changed = {m: j for m, j in changed.items() if before.get(m) != j}
    if not changed:
        return
    await conn.execute(
        f"INSERT INTO {schema}.meters (meter_id, state) SELECT m, s::jsonb FROM unnest($1::text[], $2::text[])"
        " AS v(m, s) ON CONFLICT (meter_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
        list(changed), list(changed.values()))


async def insert_anomalies(conn: Connection, schema: str, result: BatchResult) -> None:
    if not result.anomalies:
        return
    a = result.anomalies
    actions = [str(x.values.get("action", "")) for x in a]
    await conn.execute(
        f"INSERT INTO {schema}.anomalies (anomaly_id, meter_id, item, rule, data_time, severity, action, detail,"
        " detected_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
        " $6::text[], $7::text[], $8::text[]::jsonb[], $9::timestamptz[]) ON CONFLICT (anomaly_id) DO NOTHING",
        [x.anomaly_id for x in a], [x.meter_id for x in a], [x.item for x in a], [x.rule for x in a],
        [x.data_time for x in a], [x.severity.value for x in a], actions,
        [json.dumps(x.values, default=str) for x in a], [x.detected_at for x in a])


async def _save_held_and_gaps(conn: Connection, schema: str, o: MeterOutcome, deadline_s: float) -> None:
    for record, reading in o.held_new:
        await conn.execute(
            f"INSERT INTO {schema}.held (meter_id, item, data_time, unit, raw_value, raw_source, prev_time,"
            " prev_value, rules, status, held_at, deadline)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11, now() + make_interval(secs => $12))"
            " ON CONFLICT (meter_id, item, data_time) DO UPDATE SET raw_value = EXCLUDED.raw_value,"
            " raw_source = EXCLUDED.raw_source, rules = EXCLUDED.rules, status = EXCLUDED.status,"
            " held_at = EXCLUDED.held_at, deadline = EXCLUDED.deadline, repair_value = NULL,"
            " repair_source = NULL, resolved_at = NULL, resolved_by = NULL",
            o.meter_id, record.item, reading.data_time, reading.unit, record.raw_value, reading.source.value,
            _dt(record.prev_t), record.prev_value, list(record.rules), record.status, reading.collected_at,
            deadline_s)
    for record, reading in o.held_changed:
        await conn.execute(
            f"UPDATE {schema}.held SET status = $4, repair_value = $5, repair_source = $6,"
            " resolved_at = CASE WHEN $4 = 'repaired' THEN $7 ELSE resolved_at END,"
            " resolved_by = CASE WHEN $4 = 'repaired' THEN 'validator' ELSE resolved_by END"
            " WHERE meter_id = $1 AND item = $2 AND data_time = $3",
            o.meter_id, record.item, reading.data_time, record.status, reading.value, reading.source.value,
            reading.collected_at)
    for gap in o.gaps_new:
        found = next((r.reading.collected_at for r in o.results if r.reading.item == gap.item), None)
        found = found or datetime.fromtimestamp(gap.next_t, UTC)
        await conn.execute(
            f"INSERT INTO {schema}.gaps (meter_id, item, prev_time, next_time, prev_value, next_value, interval_s,"
            " missing, estimated, found_at, deadline)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10, now() + make_interval(secs => $11))"
            " ON CONFLICT (meter_id, item, prev_time) DO NOTHING",
            o.meter_id, gap.item, _dt(gap.prev_t), _dt(gap.next_t), gap.prev_value, gap.next_value, gap.interval_s,
            gap.count, gap.estimated, found, deadline_s)
    for gap, _t in o.gaps_filled:
        await conn.execute(
            f"UPDATE {schema}.gaps SET filled = filled + 1,"
            " status = CASE WHEN filled + 1 >= missing THEN 'filled' ELSE status END"
            " WHERE meter_id = $1 AND item = $2 AND prev_time = $3",
            o.meter_id, gap.item, _dt(gap.prev_t))


async def insert_versions(conn: Connection, schema: str, rows: Sequence[ValidatedReading], actor: str,
                          reason: str = "", raw_values: Sequence[float | None] | None = None) -> None:
    if not rows:
        return
    raws = list(raw_values) if raw_values is not None else [None] * len(rows)
    await conn.execute(
        f"INSERT INTO {schema}.versions (message_id, meter_id, item, data_time, status, value, method, raw_value,"
        " raw_source, rules, actor, reason, created_at)"
        " SELECT m, mi, it, dt, st, v, me, rv, rs, string_to_array(ru, ','), $12, $13, ca"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::float8[],"
        " $7::text[], $8::float8[], $9::text[], $10::text[], $11::timestamptz[])"
        " AS v(m, mi, it, dt, st, v, me, rv, rs, ru, ca) ON CONFLICT (message_id) DO NOTHING",
        [v.stable_id() for v in rows], [v.meter_id for v in rows], [v.item for v in rows],
        [v.data_time for v in rows], [v.status.value for v in rows], [v.value for v in rows],
        [v.method for v in rows], raws, [v.raw_source.value if v.raw_source else None for v in rows],
        [",".join(v.rules_failed) for v in rows], [v.validated_at for v in rows], actor, reason)
