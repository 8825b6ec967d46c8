"""SQL of the per-run, per-meter collection status (which items of which meter a run got, R-4.2.5).

Only the replica holding a run's lease writes its rows, so the executor keeps
the state in memory and writes absolute values in batches. Seeding happens
once per run (in one transaction), so a resumed run finds its rows and goes
on with the meters still open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where


@dataclass(slots=True)
class MeterStatus:
    meter_id: str
    terminal: str
    items: tuple[str, ...]
    collected: set[str] = field(default_factory=set)
    first_ok: bool | None = None
    first_count: int = 0
    attempts: int = 0
    reason: str = ""
    via: str = ""

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(i for i in self.items if i not in self.collected)

    @property
    def state(self) -> str:
        if not self.missing:
            return "ok"
        return "partial" if self.collected else "pending"


async def seeded(conn: Connection, run_id: int) -> bool:
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.run_meter WHERE run_id = $1)", run_id))


async def meters_of(conn: Connection, run_id: int) -> set[str]:
    """Every meter the run holds a row for, whatever its state."""
    rows = await conn.fetch(f"SELECT meter_id FROM {SCHEMA}.run_meter WHERE run_id = $1", run_id)
    return {r["meter_id"] for r in rows}


async def seed(conn: Connection, run_id: int, rows: Sequence[MeterStatus]) -> None:
    """Write status rows of meters the run does not hold yet (in a transaction with :func:`seeded` or
    :func:`meters_of`, under the run's lock)."""
    if rows:
        await conn.copy_records_to_table(
            "run_meter", schema_name=SCHEMA, columns=["run_id", "meter_id", "terminal", "items"],
            records=[(run_id, r.meter_id, r.terminal, list(r.items)) for r in rows])


async def load_open(conn: Connection, run_id: int) -> list[MeterStatus]:
    rows = await conn.fetch(f"SELECT meter_id, terminal, items, collected, first_ok, first_count, attempts, reason,"
                            f" via FROM {SCHEMA}.run_meter WHERE run_id = $1 AND state IN ('pending', 'partial')",
                            run_id)
    return [MeterStatus(r["meter_id"], r["terminal"], tuple(r["items"]), set(r["collected"]), r["first_ok"],
                        r["first_count"], r["attempts"], r["reason"], r["via"]) for r in rows]


async def write(conn: Connection, run_id: int, rows: Sequence[MeterStatus], *, final: bool = False) -> None:
    """Store the rows' current state; ``final`` turns meters with nothing collected into ``failed``."""
    if not rows:
        return
    states = [("failed" if final and r.state == "pending" else r.state) for r in rows]
    await conn.execute(
        f"""UPDATE {SCHEMA}.run_meter r SET collected = string_to_array(u.c, ','), first_ok = u.f,
                   first_count = u.n, attempts = u.a, state = u.s, reason = u.r, via = u.v, updated_at = now()
            FROM unnest($2::text[], $3::text[], $4::bool[], $5::smallint[], $6::smallint[], $7::text[], $8::text[],
                        $9::text[]) AS u(m, c, f, n, a, s, r, v)
            WHERE r.run_id = $1 AND r.meter_id = u.m""",
        run_id, [r.meter_id for r in rows], [",".join(sorted(r.collected)) for r in rows],
        [r.first_ok for r in rows], [r.first_count for r in rows], [r.attempts for r in rows], states,
        [r.reason[:300] for r in rows], [r.via[:100] for r in rows])


def _of_run(run_id: int, scope: Scope) -> Where:
    w = Where([run_id])
    w.add("run_id = $1")
    scope.meters("meter_id", w)
    return w


async def meters_of_run(conn: Connection, run_id: int, *, state: str | None = None, limit: int = 100,
                        offset: int = 0, scope: Scope = UNRESTRICTED) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of a run's per-meter status (meters in ``scope``)."""
    w = _of_run(run_id, scope)
    w.add_if("state = {}", state)
    total = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.run_meter WHERE {w.sql()}", *w.args)
    rows = await conn.fetch(f"SELECT meter_id, terminal, items, collected, first_ok, first_count, attempts, state,"
                            f" reason, via,"
                            f" updated_at FROM {SCHEMA}.run_meter WHERE {w.sql()} ORDER BY terminal, meter_id"
                            f" LIMIT {int(limit)} OFFSET {int(offset)}", *w.args)
    return int(total), [dict(r) for r in rows]


async def add_collected(conn: Connection, keys: Sequence[tuple[int, str, str]]) -> None:
    """Mark (run, meter, item) collected after the run (back-fill, a report, a manual read)."""
    if not keys:
        return
    await conn.execute(
        f"""UPDATE {SCHEMA}.run_meter r SET collected = x.merged,
                   state = CASE WHEN x.merged @> r.items THEN 'ok' ELSE 'partial' END, updated_at = now()
            FROM (SELECT r2.run_id, r2.meter_id,
                         (SELECT array_agg(DISTINCT e ORDER BY e) FROM unnest(r2.collected || array_agg(u.item)) e)
                           AS merged
                  FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(run_id, meter_id, item)
                  JOIN {SCHEMA}.run_meter r2 ON r2.run_id = u.run_id AND r2.meter_id = u.meter_id
                  GROUP BY r2.run_id, r2.meter_id, r2.collected) x
            WHERE r.run_id = x.run_id AND r.meter_id = x.meter_id""",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])


async def failure_reasons(conn: Connection, run_id: int, limit: int = 20,
                          scope: Scope = UNRESTRICTED) -> list[dict[str, Any]]:
    """(reason, meters) of a run's meters not complete (those in ``scope``), commonest first."""
    w = _of_run(run_id, scope)
    w.add("state <> 'ok'")
    rows = await conn.fetch(
        f"SELECT reason, count(*) AS meters FROM {SCHEMA}.run_meter WHERE {w.sql()}"
        f" GROUP BY reason ORDER BY count(*) DESC LIMIT {int(limit)}", *w.args)
    return [dict(r) for r in rows]


async def state_counts(conn: Connection, run_id: int, scope: Scope = UNRESTRICTED) -> dict[str, int]:
    """How many of a run's meters (in ``scope``) are in each state."""
    w = _of_run(run_id, scope)
    rows = await conn.fetch(f"SELECT state, count(*) AS n FROM {SCHEMA}.run_meter WHERE {w.sql()}"
                            " GROUP BY state", *w.args)
    return {r["state"]: r["n"] for r in rows}
