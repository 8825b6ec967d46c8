"""SQL of task runs: materialise due slots, claim them, keep the lease, finish them.

Exactly-once per slot across replicas and restarts rests on two things:

* a run row per ``(task_id, due_at, kind)`` (unique), created by whichever
  replica plans the task (tasks are locked ``FOR UPDATE SKIP LOCKED`` while
  planned, and the cursor ``planned_until`` moves in the same transaction —
  so a slot is planned once, and a crash before commit plans it again);
* claiming with ``FOR UPDATE SKIP LOCKED`` and a lease: one replica holds a
  running run; if it dies the lease lapses and another replica resumes the run
  where the per-meter status says it stopped, rather than starting it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from emms_collector.reading.datatime import run_data_time
from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.schema import SCHEMA
from emms_collector.tasks.model import PeriodSpec
from emms_collector.tasks.periods import PeriodUnit, slots
from emms_collector.tasks.types import TaskType
from emms_db.connection import Connection
from emms_db.where import Where

RUN_COLUMNS = ("id, task_id, due_at, kind, data_time, status, priority, claimed_by, lease_until, claims, started_at,"
               " finished_at, expected, ok_first, ok_retry, ok_final, meters, requests, detail")


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    id: int
    task_id: str
    due_at: datetime
    kind: str
    data_time: datetime
    priority: int
    claims: int


async def plan_due(conn: Connection, now: datetime, tz: tzinfo, *, catchup: timedelta,
                   freeze_at: str = "start") -> int:
    """Create the run rows of every slot that fell due since each task's cursor; return how many."""
    created = 0
    async with conn.transaction():
        tasks = await conn.fetch(
            f"SELECT id, task_type, period, valid_from, valid_to, priority, planned_until, created_at"
            f" FROM {SCHEMA}.task WHERE deleted_at IS NULL AND enabled"
            " AND (planned_until IS NULL OR planned_until < $1) FOR UPDATE SKIP LOCKED", now)
        if not tasks:
            return 0
        rows: list[tuple[str, datetime, datetime, int, str]] = []
        for t in tasks:
            rows.extend(_slots_of(t, now, tz, catchup, freeze_at))
        if rows:
            result = await conn.fetch(
                f"INSERT INTO {SCHEMA}.task_run (task_id, due_at, data_time, priority, status, kind, finished_at,"
                " detail) SELECT t, d, dt, p, s, 'scheduled', CASE WHEN s = 'missed' THEN now() END,"
                " CASE WHEN s = 'missed' THEN 'slot older than the catch-up window' ELSE '' END"
                " FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::smallint[], $5::text[])"
                " AS u(t, d, dt, p, s) ON CONFLICT (task_id, due_at, kind) DO NOTHING RETURNING id",
                [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
                [r[4] for r in rows])
            created = len(result)
        await conn.execute(f"UPDATE {SCHEMA}.task SET planned_until = $2 WHERE id = ANY($1::text[])",
                           [t["id"] for t in tasks], now)
    return created


def _slots_of(task: Any, now: datetime, tz: tzinfo, catchup: timedelta,
              freeze_at: str) -> list[tuple[str, datetime, datetime, int, str]]:
    spec = PeriodSpec.model_validate(_json(task["period"]))
    period = spec.to_period()
    task_type = TaskType(task["task_type"])
    after = task["planned_until"] or task["created_at"]
    valid_from, valid_to = task["valid_from"], task["valid_to"]
    if valid_from is not None and period.unit is not PeriodUnit.ONCE:
        after = max(after, valid_from - timedelta(microseconds=1))
    until = now if valid_to is None else min(now, valid_to)
    out = []
    for due in slots(period, after, until, tz, anchor=valid_from):
        status = "missed" if due < now - catchup else "pending"
        out.append((task["id"], due, run_data_time(task_type, due, tz, freeze_at=freeze_at), task["priority"], status))
    return out


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def create_run(conn: Connection, task_id: str, due_at: datetime, data_time: datetime, priority: int,
                     kind: str) -> int | None:
    """A run outside the schedule (manual re-run of a slot); None if that slot and kind exist."""
    run_id = await conn.fetchval(
        f"INSERT INTO {SCHEMA}.task_run (task_id, due_at, data_time, priority, kind) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (task_id, due_at, kind) DO NOTHING RETURNING id", task_id, due_at, data_time, priority, kind)
    return int(run_id) if run_id is not None else None


async def claim(conn: Connection, me: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedRun]:
    """Take up to ``limit`` runs that are due, or whose holder's lease lapsed, most urgent first."""
    rows = await conn.fetch(
        f"""WITH c AS (
              SELECT id FROM {SCHEMA}.task_run
              WHERE status IN ('pending', 'running')
                AND ((status = 'pending' AND due_at <= $2) OR (status = 'running' AND lease_until < $2))
              ORDER BY priority, due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
            UPDATE {SCHEMA}.task_run r SET status = 'running', claimed_by = $1, lease_until = $2 + $3::interval,
                   claims = r.claims + 1, started_at = coalesce(r.started_at, $2)
            FROM c WHERE r.id = c.id
            RETURNING r.id, r.task_id, r.due_at, r.kind, r.data_time, r.priority, r.claims""",
        me, now, lease, limit)
    return [ClaimedRun(r["id"], r["task_id"], r["due_at"], r["kind"], r["data_time"] or r["due_at"], r["priority"],
                       r["claims"]) for r in rows]


async def renew(conn: Connection, me: str, run_ids: list[int], lease: timedelta) -> set[int]:
    """Extend the lease of the runs this replica still holds; return those it still holds."""
    if not run_ids:
        return set()
    rows = await conn.fetch(
        f"UPDATE {SCHEMA}.task_run SET lease_until = now() + $3::interval"
        " WHERE id = ANY($2::bigint[]) AND claimed_by = $1 AND status = 'running' RETURNING id",
        me, run_ids, lease)
    return {r["id"] for r in rows}


async def finish(conn: Connection, me: str, run_id: int, status: str, detail: str = "") -> bool:
    """Close a run held by this replica, with its figures computed from the per-meter status."""
    holder = await conn.fetchval(f"SELECT claimed_by = $1 AND status = 'running' FROM {SCHEMA}.task_run"
                                 " WHERE id = $2", me, run_id)
    if not holder:
        return False
    await conn.execute(f"UPDATE {SCHEMA}.run_meter SET run_count = cardinality(collected) WHERE run_id = $1", run_id)
    done = await conn.fetchval(
        f"""UPDATE {SCHEMA}.task_run r SET status = $3, finished_at = now(), lease_until = NULL, detail = $4,
                   meters = s.meters, expected = s.expected, ok_first = s.ok_first, ok_retry = s.ok_retry,
                   ok_final = s.ok_retry
            FROM (SELECT count(*) AS meters, coalesce(sum(cardinality(items)), 0) AS expected,
                         coalesce(sum(first_count), 0) AS ok_first,
                         coalesce(sum(cardinality(collected)), 0) AS ok_retry
                  FROM {SCHEMA}.run_meter WHERE run_id = $2) s
            WHERE r.id = $2 AND r.claimed_by = $1 AND r.status = 'running' RETURNING true""",
        me, run_id, status, detail)
    return bool(done)


async def add_requests(conn: Connection, run_id: int, n: int) -> None:
    """Count ``n`` more requests sent to the FEP for the run."""
    if n:
        await conn.execute(f"UPDATE {SCHEMA}.task_run SET requests = requests + $2 WHERE id = $1", run_id, n)


async def get_run(conn: Connection, run_id: int, scope: Scope = UNRESTRICTED) -> dict[str, Any] | None:
    """The run, None if there is none (or its task is outside ``scope``)."""
    w = Where([run_id])
    w.add("id = $1")
    scope.task_ids("task_id", w)
    row = await conn.fetchrow(f"SELECT {RUN_COLUMNS} FROM {SCHEMA}.task_run WHERE {w.sql()}", *w.args)
    return dict(row) if row else None


async def list_runs(conn: Connection, *, task_id: str | None = None, status: str | None = None,
                    since: datetime | None = None, limit: int = 100, offset: int = 0,
                    scope: Scope = UNRESTRICTED) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of runs, newest first; only runs of tasks in ``scope``."""
    w = Where()
    w.add_if("task_id = {}", task_id)
    w.add_if("status = {}", status)
    w.add_if("due_at >= {}", since)
    scope.task_ids("task_id", w)
    total = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.task_run WHERE {w.sql()}", *w.args)
    rows = await conn.fetch(f"SELECT {RUN_COLUMNS} FROM {SCHEMA}.task_run WHERE {w.sql()}"
                            f" ORDER BY due_at DESC, id DESC LIMIT {int(limit)} OFFSET {int(offset)}", *w.args)
    return int(total), [dict(r) for r in rows]


async def lock_run(conn: Connection, run_id: int) -> None:
    """Serialise seeding of one run across replicas until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('collector.run'), $1::int)", run_id % 2**31)


async def add_expected(conn: Connection, run_id: int, meters: int, items: int) -> None:
    """Count meters (and their items) seeded into a run."""
    await conn.execute(f"UPDATE {SCHEMA}.task_run SET meters = meters + $2, expected = expected + $3"
                       " WHERE id = $1", run_id, meters, items)


async def task_of(conn: Connection, run_id: int) -> str | None:
    task_id = await conn.fetchval(f"SELECT task_id FROM {SCHEMA}.task_run WHERE id = $1", run_id)
    return str(task_id) if task_id is not None else None


async def release(conn: Connection, me: str, run_ids: list[int]) -> None:
    """Hand back the leases of runs this replica holds (another replica resumes them at once)."""
    await conn.execute(f"UPDATE {SCHEMA}.task_run SET lease_until = now()"
                       " WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND status = 'running'", run_ids, me)


async def missed_without_gaps(conn: Connection, now: datetime, task_types: list[str]) -> list[dict[str, Any]]:
    """Missed runs of the given task types whose gaps are not opened yet, inside their task's back-fill days."""
    rows = await conn.fetch(
        f"SELECT r.id, r.task_id, r.data_time FROM {SCHEMA}.task_run r JOIN {SCHEMA}.task t ON t.id = r.task_id"
        " WHERE r.status = 'missed' AND NOT r.gaps_opened AND t.task_type = ANY($1::text[])"
        " AND t.backfill_days > 0 AND r.data_time >= $2::timestamptz - make_interval(days => t.backfill_days)",
        task_types, now)
    return [dict(r) for r in rows]


async def mark_gaps_opened(conn: Connection, run_id: int) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.task_run SET gaps_opened = true WHERE id = $1", run_id)
