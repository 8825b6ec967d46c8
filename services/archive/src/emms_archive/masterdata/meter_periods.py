"""Which meter measures a metering point when: installation, replacement and removal.

A replacement closes the point's open period at the swap time and opens one for the new
meter, so a reading is attributed by (meter, data time) to the point the meter was on at that
moment — readings from before and after the swap stay on the same point, each with its own
meter id. The database refuses overlapping periods (exclusion constraints); the planner here
turns the same rules into clear per-row reasons first. Every change is audited and published
(``entity = "meter_installation"``, keyed by the metering point) with the communication
parameters the collector needs to configure reading (R-4.6.5). A replacement is also published
as ``entity = "meter"``, kind ``replaced``, keyed by the new meter, with ``replaced_at`` and the
old meter: the validator restarts its register checks for that meter from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emms_archive import audit
from emms_archive.audit import Change
from emms_archive.schema import SCHEMA
from emms_db.connection import Connection


@dataclass(frozen=True, slots=True)
class Intent:
    """The source says: from ``at`` on, ``meter_id`` is on ``metering_point_id``."""

    row: int
    metering_point_id: str
    meter_id: str
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Open:
    """Open a period; ``closes`` is the open period it replaces (id, meter), if any."""

    metering_point_id: str
    meter_id: str
    at: datetime
    reason: str | None
    closes: tuple[int, str] | None = None


class PeriodError(ValueError):
    """An installation change that contradicts the meter periods on record."""


async def open_periods(conn: Connection, *, points: Sequence[str] = (),
                       meters: Sequence[str] = ()) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT id, metering_point_id, meter_id, valid_from FROM {SCHEMA}.meter_period"
        " WHERE valid_to IS NULL AND (metering_point_id = ANY($1::text[]) OR meter_id = ANY($2::text[]))",
        list(points), list(meters))
    return [dict(r) for r in rows]


async def last_closed(conn: Connection, points: list[str]) -> dict[str, datetime]:
    rows = await conn.fetch(
        f"SELECT metering_point_id, max(valid_to) AS until FROM {SCHEMA}.meter_period"
        " WHERE metering_point_id = ANY($1::text[]) AND valid_to IS NOT NULL GROUP BY 1", points)
    return {r["metering_point_id"]: r["until"] for r in rows}


async def plan(conn: Connection, intents: list[Intent]) -> tuple[list[Open], list[tuple[int, str]]]:
    """The period changes that make the records say what ``intents`` say, or per-row reasons why not."""
    points = [i.metering_point_id for i in intents]
    opened = await open_periods(conn, points=points, meters=[i.meter_id for i in intents])
    by_point = {p["metering_point_id"]: p for p in opened}
    by_meter = {p["meter_id"]: p for p in opened}
    closed_until = await last_closed(conn, points)
    ops: list[Open] = []
    errors: list[tuple[int, str]] = []
    for i in intents:
        current = by_point.get(i.metering_point_id)
        elsewhere = by_meter.get(i.meter_id)
        if current is not None and current["meter_id"] == i.meter_id:
            continue  # already so: nothing to do (idempotent)
        if elsewhere is not None and elsewhere["metering_point_id"] != i.metering_point_id:
            errors.append((i.row, f"meter {i.meter_id} is on metering point {elsewhere['metering_point_id']} since "
                                  f"{elsewhere['valid_from'].isoformat()}; replace or remove it there first"))
        elif current is not None:
            if i.at <= current["valid_from"]:
                errors.append((i.row, f"installed_at {i.at.isoformat()} is not after the current meter "
                                      f"{current['meter_id']}'s installation {current['valid_from'].isoformat()}"))
            else:
                ops.append(Open(i.metering_point_id, i.meter_id, i.at, i.reason or "replacement",
                                (current["id"], current["meter_id"])))
        elif i.metering_point_id in closed_until and i.at < closed_until[i.metering_point_id]:
            errors.append((i.row, f"installed_at {i.at.isoformat()} overlaps the point's history (a meter was "
                                  f"there until {closed_until[i.metering_point_id].isoformat()})"))
        else:
            ops.append(Open(i.metering_point_id, i.meter_id, i.at, i.reason or "installation"))
    return ops, errors


async def apply_opens(conn: Connection, ops: list[Open], actor: str) -> list[Change]:
    """Close the replaced periods, open the new ones, audit and publish each."""
    if not ops:
        return []
    closes = [o for o in ops if o.closes is not None]
    if closes:
        await conn.execute(
            f"UPDATE {SCHEMA}.meter_period p SET valid_to = u.at"
            " FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at) WHERE p.id = u.id AND p.valid_to IS NULL",
            [o.closes[0] for o in closes if o.closes], [o.at for o in closes])
    ids = await conn.fetch(
        f"INSERT INTO {SCHEMA}.meter_period (metering_point_id, meter_id, valid_from, reason)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) RETURNING id",
        [o.metering_point_id for o in ops], [o.meter_id for o in ops], [o.at for o in ops], [o.reason for o in ops])
    old = {o.metering_point_id: o.closes[1] for o in closes if o.closes}
    rows = await conn.fetch(
        f"""WITH info AS (SELECT i.*, o.old_meter_id FROM {SCHEMA}.installation i
                          LEFT JOIN unnest($2::text[], $3::text[]) AS o(mp, old_meter_id) ON o.mp = i.metering_point_id
                          WHERE i.period_id = ANY($1::bigint[])),
            aud AS (INSERT INTO {SCHEMA}.audit_log (actor, entity, entity_id, action, before, after)
                    SELECT $4, 'meter_installation', info.metering_point_id,
                           CASE WHEN info.old_meter_id IS NULL THEN 'created' ELSE 'replaced' END,
                           CASE WHEN info.old_meter_id IS NULL THEN NULL
                                ELSE jsonb_build_object('meter_id', info.old_meter_id) END,
                           to_jsonb(info) - 'period_id'
                    FROM info RETURNING change_id, entity, entity_id, action),
            aud_meter AS (INSERT INTO {SCHEMA}.audit_log (actor, entity, entity_id, action, before, after)
                    SELECT $4, 'meter', info.meter_id, 'replaced', jsonb_build_object('meter_id', info.old_meter_id),
                           to_jsonb(info) - 'period_id' || jsonb_build_object('replaced_at', info.valid_from)
                    FROM info WHERE info.old_meter_id IS NOT NULL RETURNING change_id, entity, entity_id, action),
            ob AS (INSERT INTO {SCHEMA}.outbox (change_id)
                   SELECT change_id FROM aud UNION ALL SELECT change_id FROM aud_meter)
            SELECT * FROM aud UNION ALL SELECT * FROM aud_meter""",
        [r["id"] for r in ids], list(old), list(old.values()), actor)
    return [Change(r["change_id"], r["entity"], r["entity_id"], r["action"]) for r in rows]


def _installation_change(changes: list[Change]) -> Change:
    return next(c for c in changes if c.entity == "meter_installation")


async def install(conn: Connection, point: str, meter: str, at: datetime, reason: str | None,
                  actor: str) -> Change:
    """Put ``meter`` on ``point`` (which must have no meter) from ``at`` on."""
    current = [p for p in await open_periods(conn, points=[point]) if p["metering_point_id"] == point]
    if current:
        raise PeriodError(f"metering point {point} already has meter {current[0]['meter_id']}; "
                          "use replace-meter or remove-meter")
    ops, errors = await plan(conn, [Intent(0, point, meter, at, reason)])
    if errors:
        raise PeriodError(errors[0][1])
    return _installation_change(await apply_opens(conn, ops, actor))


async def replace(conn: Connection, point: str, new_meter: str, at: datetime, reason: str | None,
                  actor: str) -> Change:
    """Swap the point's current meter for ``new_meter`` at ``at``."""
    current = [p for p in await open_periods(conn, points=[point]) if p["metering_point_id"] == point]
    if not current:
        raise PeriodError(f"metering point {point} has no meter to replace; use install-meter")
    if current[0]["meter_id"] == new_meter:
        raise PeriodError(f"meter {new_meter} is already on metering point {point}")
    ops, errors = await plan(conn, [Intent(0, point, new_meter, at, reason)])
    if errors:
        raise PeriodError(errors[0][1])
    return _installation_change(await apply_opens(conn, ops, actor))


async def remove(conn: Connection, point: str, at: datetime, reason: str | None, actor: str) -> Change:
    """Take the point's current meter off at ``at``."""
    current = [p for p in await open_periods(conn, points=[point]) if p["metering_point_id"] == point]
    if not current:
        raise PeriodError(f"metering point {point} has no meter to remove")
    period = current[0]
    if at <= period["valid_from"]:
        raise PeriodError(f"removal at {at.isoformat()} is not after the installation "
                          f"{period['valid_from'].isoformat()}")
    before = json.loads(await conn.fetchval(f"SELECT to_jsonb(i) - 'period_id' FROM {SCHEMA}.installation i"
                                            " WHERE period_id = $1", period["id"]))
    await conn.execute(f"UPDATE {SCHEMA}.meter_period SET valid_to = $2, reason = coalesce($3, reason)"
                       " WHERE id = $1", period["id"], at, reason)
    after = {**before, "valid_to": at.isoformat(), "removed_at": at.isoformat()}
    return await audit.record(conn, actor=actor, entity="meter_installation", entity_id=point,
                              action="removed", before=before, after=after)


async def history(conn: Connection, point: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT * FROM {SCHEMA}.installation WHERE metering_point_id = $1"
                            " ORDER BY valid_from", point)
    return [dict(r) for r in rows]
