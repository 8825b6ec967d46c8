"""Which meters a run owes, and which items of each: its seeding, and the meters that join it late.

A run is seeded once, on its first claim (a resumed run finds its rows). Points
that join the target while the run reads — master-data changes still travelling
when it planned — are taken up by :func:`seed_late` after the run's rounds, so a
run collects every point known when it finishes planning, not only those known
when it started. Seeding and taking up are serialised per run by an advisory
lock, so two replicas never seed one meter twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg

from emms_collector.reading.item_routing import choose
from emms_collector.reading.items import items_for
from emms_collector.repository import points as point_sql
from emms_collector.repository import runs as run_sql
from emms_collector.repository import status as status_sql
from emms_collector.repository.runs import ClaimedRun
from emms_collector.repository.scope import Scope
from emms_collector.repository.status import MeterStatus
from emms_collector.tasks.model import Task
from emms_db.connection import Connection

YIELD_EVERY = 5000
"""Meters handled between two turns of the event loop while seeding."""


@dataclass(slots=True)
class Seeded:
    rows: list[MeterStatus] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)
    """Items some meter type has no route for (reported in the run's detail, not counted)."""


async def seed_run(pool: asyncpg.Pool, task: Task, run: ClaimedRun) -> Seeded:
    """The target's meters as the run's status rows — once per run; a resumed run gets none."""
    async with pool.acquire() as conn, conn.transaction():
        await _lock(conn, run)
        if await status_sql.seeded(conn, run.id):
            return Seeded()
        return await _add(conn, task, run, set())


async def seed_late(pool: asyncpg.Pool, task: Task, run: ClaimedRun) -> Seeded:
    """The target's meters the run does not hold yet (arrived since it was seeded), added to it."""
    async with pool.acquire() as conn, conn.transaction():
        await _lock(conn, run)
        return await _add(conn, task, run, await status_sql.meters_of(conn, run.id))


async def _lock(conn: Connection, run: ClaimedRun) -> None:
    await run_sql.lock_run(conn, run.id)


async def _add(conn: Connection, task: Task, run: ClaimedRun, held: set[str]) -> Seeded:
    points = await point_sql.resolve(conn, task.id, task.target, Scope.owned_by(task.company_id, task.scope_regions))
    out = Seeded()
    for n, p in enumerate(points, 1):
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # 200,000 points: let manual reads and results through meanwhile
        if p.meter_id in held:
            continue
        wanted = items_for(task.items, p.utility)
        _, uncovered = choose(task.type, p.protocol, wanted)
        out.skipped.update(uncovered)
        items = tuple(i for i in wanted if i not in uncovered)
        if items:
            out.rows.append(MeterStatus(p.meter_id, p.terminal, items))
    if out.rows:
        await status_sql.seed(conn, run.id, out.rows)
        await run_sql.add_expected(conn, run.id, len(out.rows), sum(len(r.items) for r in out.rows))
    return out
