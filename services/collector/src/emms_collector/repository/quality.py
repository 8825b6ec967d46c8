"""SQL of execution quality (R-4.2.5): the per-meter status of runs summed into figures, overall, by a dimension
(terminal, region, utility, meter protocol, local communication scheme — joined from the measurement-point table)
and per run."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where

Dimension = Literal["terminal", "region", "utility", "protocol", "scheme"]
_COLUMN = {"terminal": "rm.terminal", "region": "coalesce(p.region_id, '')", "utility": "coalesce(p.utility, '')",
           "protocol": "coalesce(p.protocol, '')", "scheme": "coalesce(p.local_scheme, '')"}
_FIGURES = """count(*) AS meters,
       count(*) FILTER (WHERE rm.first_ok) AS ok_first,
       count(*) FILTER (WHERE rm.run_count = cardinality(rm.items)) AS ok_after_retries,
       count(*) FILTER (WHERE rm.state = 'ok') AS ok_final,
       coalesce(sum(cardinality(rm.items)), 0) AS items_expected,
       coalesce(sum(cardinality(rm.collected)), 0) AS items_collected"""


def _runs(run_id: int | None, task_id: str | None, since: datetime | None, until: datetime | None,
          ) -> Where:
    w = Where()
    w.add("r.status IN ('done', 'failed', 'running')")
    w.add_if("r.id = {}", run_id)
    w.add_if("r.task_id = {}", task_id)
    w.add_if("r.due_at >= {}", since)
    w.add_if("r.due_at < {}", until)
    return w


async def counts(conn: Connection, *, run_id: int | None, task_id: str | None, since: datetime | None,
                 until: datetime | None, by: Dimension | None, limit: int, scope: Scope = UNRESTRICTED,
                 ) -> tuple[Any, list[Any], list[dict[str, Any]]]:
    """The counts of the selected runs over the meters in ``scope``: (overall row, rows by ``by`` — empty
    without it —, failure reasons)."""
    w = _runs(run_id, task_id, since, until)
    scope.points("p", w)
    where, args = w.sql(), w.args
    base = (f"FROM {SCHEMA}.run_meter rm JOIN {SCHEMA}.task_run r ON r.id = rm.run_id"
            f" LEFT JOIN {SCHEMA}.point p ON p.meter_id = rm.meter_id WHERE {where}")
    total = await conn.fetchrow(f"SELECT {_FIGURES} {base}", *args)
    rows = []
    if by is not None:
        rows = await conn.fetch(f"SELECT {_COLUMN[by]} AS key, {_FIGURES} {base} GROUP BY 1 ORDER BY 1"
                                f" LIMIT {int(limit)}", *args)
    reasons = await conn.fetch(f"SELECT rm.reason, count(*) AS meters {base} AND rm.state <> 'ok'"
                               " GROUP BY rm.reason ORDER BY count(*) DESC LIMIT 20", *args)
    return total, list(rows), [dict(r) for r in reasons]


async def run_counts(conn: Connection, task_id: str, since: datetime | None, until: datetime | None,
                     limit: int, scope: Scope = UNRESTRICTED) -> list[Any]:
    """The counts per run of a task over the meters in ``scope``, newest first."""
    w = _runs(None, task_id, since, until)
    joined = Where(w.args)
    joined.add("rm.run_id = r.id")
    scope.meters("rm.meter_id", joined)
    return list(await conn.fetch(
        f"SELECT r.id AS run_id, r.due_at, r.data_time, r.status, {_FIGURES}"
        f" FROM {SCHEMA}.task_run r LEFT JOIN {SCHEMA}.run_meter rm ON {joined.sql()} WHERE {w.sql()}"
        f" GROUP BY r.id ORDER BY r.due_at DESC LIMIT {int(limit)}", *w.args))
