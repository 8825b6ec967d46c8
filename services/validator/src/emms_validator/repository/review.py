"""Held readings (the review queue), a point's audit trail, manual edits and the back-fill deadline sweep.

R-4.3.1 "raw stays authentic": nothing here touches raw data (the archive's,
insert-only). An edit is a new published version — a ``ValidatedReading`` with
status ``repaired`` and method ``manual``, published alone in a
``ValidatedReadingBatch`` keyed by the meter's terminal — recorded with who,
why and the value it replaced; the earlier versions stay.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from emms_db.connection import Connection
from emms_db.where import Where
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus
from emms_validator.repository.batch import insert_versions
from emms_validator.scope import Scope
from emms_validator.state import SeriesState

OPEN = ("awaiting_backfill", "unrepaired")
_HELD = ("SELECT meter_id, item, data_time, unit, raw_value, raw_source, prev_time, prev_value, rules, status,"
         " held_at, deadline, repair_value, repair_source, resolved_at, resolved_by FROM {s}.held")


async def review_queue(conn: Connection, schema: str, status: str | None, meter_id: str | None, limit: int,
                       offset: int, scope: Scope | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Held readings of ``status`` (the open ones by default), of meters in ``scope`` when given."""
    w = Where()
    w.add_any("status", [status] if status else list(OPEN))
    w.add_if("meter_id = {}", meter_id or None)
    if scope is not None:
        scope.restrict_meters("meter_id", w)
    where = f" WHERE {w.sql()}"
    total = await conn.fetchval(f"SELECT count(*) FROM {schema}.held{where}", *w.args)
    rows = await conn.fetch(_HELD.format(s=schema) + where +
                            f" ORDER BY held_at, meter_id, item LIMIT ${len(w.args) + 1} OFFSET ${len(w.args) + 2}",
                            *w.args, limit, offset)
    return int(total), [dict(r) for r in rows]


async def point_history(conn: Connection, schema: str, meter_id: str, item: str,
                        data_time: datetime) -> dict[str, Any]:
    """Raw (as held), back-filled and published values of one point, oldest first."""
    held = await conn.fetchrow(_HELD.format(s=schema) + " WHERE meter_id = $1 AND item = $2 AND data_time = $3",
                               meter_id, item, data_time)
    versions = await conn.fetch(
        f"SELECT status, value, method, raw_value, raw_source, rules, actor, reason, created_at"
        f" FROM {schema}.versions WHERE meter_id = $1 AND item = $2 AND data_time = $3 ORDER BY created_at, status",
        meter_id, item, data_time)
    anomalies = await conn.fetch(
        f"SELECT anomaly_id, rule, severity, action, status, detail::text AS detail FROM {schema}.anomalies"
        " WHERE meter_id = $1 AND item = $2 AND data_time = $3 ORDER BY anomaly_id", meter_id, item, data_time)
    return {
        "meter_id": meter_id, "item": item, "data_time": data_time,
        "held": dict(held) if held else None,
        "versions": [dict(v) for v in versions],
        "anomalies": [{**dict(a), "detail": json.loads(a["detail"])} for a in anomalies],
    }


async def meter_history(conn: Connection, schema: str, meter_id: str, since: datetime | None,
                        limit: int) -> dict[str, Any]:
    since = since or datetime(1970, 1, 1, tzinfo=UTC)
    versions = await conn.fetch(
        f"SELECT item, data_time, status, value, method, raw_value, raw_source, rules, actor, reason, created_at"
        f" FROM {schema}.versions WHERE meter_id = $1 AND data_time >= $2 ORDER BY data_time DESC, created_at DESC"
        " LIMIT $3", meter_id, since, limit)
    anomalies = await conn.fetch(
        f"SELECT anomaly_id, item, rule, data_time, severity, action, status, detail::text AS detail"
        f" FROM {schema}.anomalies WHERE meter_id = $1 AND data_time >= $2 ORDER BY data_time DESC LIMIT $3",
        meter_id, since, limit)
    gaps = await conn.fetch(
        f"SELECT item, prev_time, next_time, missing, filled, estimated, status, found_at FROM {schema}.gaps"
        " WHERE meter_id = $1 AND next_time >= $2 ORDER BY prev_time DESC LIMIT $3", meter_id, since, limit)
    series = await conn.fetch(f"SELECT item, packed FROM {schema}.series_state WHERE meter_id = $1"
                              " ORDER BY item", meter_id)
    return {
        "meter_id": meter_id,
        "versions": [dict(v) for v in versions],
        "anomalies": [{**dict(a), "detail": json.loads(a["detail"])} for a in anomalies],
        "gaps": [dict(g) for g in gaps],
        "series": [_series_summary(SeriesState.unpack(r["item"], r["packed"])) for r in series],
    }


def _series_summary(s: SeriesState) -> dict[str, Any]:
    return {
        "item": s.item, "last_time": datetime.fromtimestamp(s.last_t, UTC) if s.last_t else None,
        "last_value": s.last_value, "interval_s": s.interval_s, "held_in_a_row": len(s.held_run),
        "daily_consumption": s.profile.daily_mean() if s.profile else None,
    }


async def manual_edit(conn: Connection, schema: str, meter_id: str, item: str, data_time: datetime, value: float,
                      unit: str | None, reason: str, actor: str) -> ValidatedReading:
    """Publishable new version of one point; resolves its held record and moves the baseline if newest."""
    held = await conn.fetchrow(f"SELECT unit, raw_value, status FROM {schema}.held WHERE meter_id = $1"
                               " AND item = $2 AND data_time = $3 FOR UPDATE", meter_id, item, data_time)
    unit = unit if unit is not None else (held["unit"] if held else None)
    if unit is None:
        raise LookupError("the point was never held here; give its unit with the edit")
    previous = await conn.fetchval(
        f"SELECT value FROM {schema}.versions WHERE meter_id = $1 AND item = $2 AND data_time = $3"
        " ORDER BY created_at DESC LIMIT 1", meter_id, item, data_time)
    edited = ValidatedReading(meter_id=meter_id, item=item, data_time=data_time, value=value, unit=unit,
                              status=ValidationStatus.REPAIRED, method="manual", raw_source=None,
                              rules_failed=[], validated_at=datetime.now(UTC))
    raw = held["raw_value"] if held else previous
    await insert_versions(conn, schema, [edited], actor=actor, reason=reason, raw_values=[raw])
    if held:
        await conn.execute(
            f"UPDATE {schema}.held SET status = 'edited', repair_value = $4, repair_source = 'manual',"
            " resolved_at = now(), resolved_by = $5 WHERE meter_id = $1 AND item = $2 AND data_time = $3",
            meter_id, item, data_time, value, actor)
    await _move_baseline(conn, schema, meter_id, item, data_time.timestamp(), value)
    return edited


async def edit_batch(conn: Connection, schema: str, edited: ValidatedReading) -> ValidatedReadingBatch:
    """The message of one edit: keyed by the terminal the meter was last heard through, so it stays in
    order with the meter's other validated readings ("" for a meter never heard from)."""
    terminal = await conn.fetchval(f"SELECT state->>'term' FROM {schema}.meters WHERE meter_id = $1",
                                   edited.meter_id)
    batch_id = (f"edit|{edited.meter_id}|{edited.item}|{edited.data_time.isoformat()}"
                f"|{edited.validated_at.isoformat()}")
    return ValidatedReadingBatch(batch_id=batch_id, terminal=terminal or "", readings=[edited])


async def _move_baseline(conn: Connection, schema: str, meter_id: str, item: str, t: float, value: float) -> None:
    packed = await conn.fetchval(f"SELECT packed FROM {schema}.series_state WHERE meter_id = $1 AND item = $2"
                                 " FOR UPDATE", meter_id, item)
    if packed is None:
        return
    state = SeriesState.unpack(item, packed)
    if state.last_t is not None and t <= state.last_t:
        return
    state.last_t, state.last_value = t, value
    state.held_run = [p for p in state.held_run if p[0] > t]
    state.remember(t, value)
    await conn.execute(f"UPDATE {schema}.series_state SET last_time = $3, last_value = $4, packed = $5,"
                       " updated_at = now() WHERE meter_id = $1 AND item = $2",
                       meter_id, item, datetime.fromtimestamp(t, UTC), value, state.pack())


async def expire_overdue(conn: Connection, schema: str, limit: int = 5000) -> list[dict[str, Any]]:
    """Held points past their back-fill deadline become ``unrepaired``; open gaps past it ``expired``."""
    rows = await conn.fetch(
        f"UPDATE {schema}.held SET status = 'unrepaired' WHERE (meter_id, item, data_time) IN ("
        f" SELECT meter_id, item, data_time FROM {schema}.held WHERE status = 'awaiting_backfill'"
        "  AND deadline < now() ORDER BY deadline LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING meter_id, item, data_time, raw_value, rules, held_at", limit)
    await conn.execute(f"UPDATE {schema}.gaps SET status = 'expired' WHERE status = 'open' AND deadline < now()")
    return [dict(r) for r in rows]
